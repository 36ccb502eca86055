#include "distributed_launch.h"

#include "core/store/run_workers.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tunebench::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Child {
    std::int64_t rank = 0;
    pid_t pid = -1;
    bool running = true;
    int status = 0;
};

std::string describeEnd(int status)
{
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = sigabbrev_np(sig);
        return std::string("was killed by signal ") + std::to_string(sig)
            + (name ? " (SIG" + std::string(name) + ")" : "");
    }
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

pid_t spawnRank(
    const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env, int stdoutFd)
{
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid != 0)
        return pid;
    for (const auto& [k, v] : env)
        setenv(k.c_str(), v.c_str(), 1);
    dup2(stdoutFd, STDOUT_FILENO);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(args[0], args.data());
    std::cerr << "tunebench-cli train: cannot start rank: " << std::strerror(errno) << "\n";
    _exit(127);
}

} // namespace

LaunchOutcome launchLocalRanks(
    const DistributedConfig& config, const std::vector<std::string>& trainArgs, const volatile bool* cancel)
{
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    std::vector<std::string> argv { self, "train" };
    argv.insert(argv.end(), trainArgs.begin(), trainArgs.end());
    const std::string host = thisHostName();

    int pipeFds[2];
    if (pipe(pipeFds) != 0)
        throw std::runtime_error(std::string("cannot make a pipe for rank 0's output: ") + std::strerror(errno));
    const int devNull = ::open("/dev/null", O_WRONLY);
    std::vector<Child> children;
    for (std::int64_t local = 0; local < config.nprocPerNode; ++local) {
        const std::int64_t rank = config.nodeRank * config.nprocPerNode + local;
        const std::vector<std::pair<std::string, std::string>> env { { "RANK", std::to_string(rank) },
            { "WORLD_SIZE", std::to_string(config.worldSize()) }, { "LOCAL_RANK", std::to_string(local) },
            { "LOCAL_WORLD_SIZE", std::to_string(config.nprocPerNode) }, { "MASTER_ADDR", config.masterAddr },
            { "MASTER_PORT", std::to_string(config.masterPort) }, { "TUNEBENCH_DIST_BACKEND", config.backend },
            { "TUNEBENCH_DIST_TIMEOUT_S", std::to_string(config.timeoutS) } };
        Child c;
        c.rank = rank;
        c.pid = spawnRank(argv, env, rank == 0 ? pipeFds[1] : devNull);
        children.push_back(c);
    }
    ::close(pipeFds[1]);
    if (devNull >= 0)
        ::close(devNull);

    LaunchOutcome out;
    std::string rank0Error;
    std::string pending;
    bool pipeOpen = true;
    bool cancelForwarded = false;
    std::optional<Clock::time_point> stopBy;
    bool terminated = false;
    auto readRank0 = [&](int waitMs) {
        if (!pipeOpen) {
            std::this_thread::sleep_for(std::chrono::milliseconds(waitMs));
            return;
        }
        pollfd p { pipeFds[0], POLLIN, 0 };
        if (poll(&p, 1, waitMs) <= 0)
            return;
        char buffer[65536];
        const ssize_t n = ::read(pipeFds[0], buffer, sizeof(buffer));
        if (n <= 0) {
            pipeOpen = false;
            return;
        }
        pending.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            const std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            std::cout << line << std::endl;
            const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
            if (!event.is_object())
                continue;
            if (event.value("event", "") == "start" && event.contains("run_id") && event["run_id"].is_number_integer())
                out.runId = event["run_id"].get<std::int64_t>();
            if (event.value("event", "") == "failed") {
                rank0Error = event.value("error", "");
                if (!out.runId && event.contains("run_id") && event["run_id"].is_number_integer())
                    out.runId = event["run_id"].get<std::int64_t>();
            }
        }
    };
    for (;;) {
        readRank0(50);
        bool anyRunning = false;
        // Of the ranks that ended since the last look, the one to blame: killed by a signal before one
        // that failed on its own, and one that failed before rank 0 (which fails when any other does).
        const Child* blamed = nullptr;
        auto weight = [](const Child& c) {
            return (WIFSIGNALED(c.status) ? 4 : 0) + (WIFEXITED(c.status) && WEXITSTATUS(c.status) != 1 ? 2 : 0)
                + (c.rank != 0 ? 1 : 0);
        };
        for (Child& c : children) {
            if (!c.running)
                continue;
            int status = 0;
            if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
                c.running = false;
                c.status = status;
                const bool failed = !(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3));
                if (failed && (!blamed || weight(c) > weight(*blamed)))
                    blamed = &c;
            } else {
                anyRunning = true;
            }
        }
        if (blamed && out.failure.empty()) {
            out.failure = "rank " + std::to_string(blamed->rank) + " (host " + host + ", pid "
                + std::to_string(blamed->pid) + ") " + describeEnd(blamed->status);
            // The survivors notice within the collective timeout; one that does not is hung.
            stopBy = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(config.timeoutS * 1000))
                + std::chrono::seconds(10);
        }
        if (!anyRunning)
            break;
        if (cancel && *cancel && !cancelForwarded) {
            for (const Child& c : children)
                if (c.running)
                    kill(c.pid, SIGTERM);
            cancelForwarded = true;
        }
        if (stopBy && Clock::now() > *stopBy) {
            std::string hung;
            for (const Child& c : children) {
                if (!c.running)
                    continue;
                hung += (hung.empty() ? "" : ", ") + std::to_string(c.rank);
                kill(c.pid, terminated ? SIGKILL : SIGTERM);
            }
            // A rank still there this long after another failed is hung: it is the one to name first.
            if (!terminated && !hung.empty())
                out.failure = (hung.find(',') == std::string::npos ? "rank " : "ranks ") + hung + " (host " + host
                    + ") stopped answering: did not stop within distributed.timeout_s ("
                    + std::to_string(static_cast<std::int64_t>(config.timeoutS)) + " s) after " + out.failure
                    + ", and were stopped";
            terminated = true;
            stopBy = Clock::now() + std::chrono::seconds(5);
        }
    }
    while (pipeOpen)
        readRank0(10);
    ::close(pipeFds[0]);
    if (!out.failure.empty()) {
        if (!rank0Error.empty() && out.failure.find("rank 0 (") != std::string::npos)
            out.failure += " (rank 0: " + rank0Error + ")";
        out.exitCode = 1;
        return out;
    }
    out.exitCode = 0;
    for (const Child& c : children)
        if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 3)
            out.exitCode = 3;
    return out;
}

} // namespace tunebench::cli
