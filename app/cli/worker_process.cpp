#include "worker_process.h"

#include "core/store/workspace.h"
#include "core/util/error.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace tunebench::cli {

namespace fs = std::filesystem;

pid_t startWorker(const Workspace& ws, std::int64_t runId, bool resume)
{
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec)
        throw Error("cannot find this program (/proc/self/exe): " + ec.message());
    const fs::path dir = ws.runDir(runId);
    fs::create_directories(dir, ec);
    if (ec)
        throw Error("cannot create the run folder " + dir.string() + ": " + ec.message());
    const std::string log = (dir / "worker.log").string();
    const std::vector<std::string> args { self.string(), "train", resume ? "--resume" : "--run", std::to_string(runId),
        "--workspace", ws.root().string() };
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0)
        throw Error(std::string("cannot start a worker: ") + std::strerror(errno));
    if (pid == 0) {
        ::setsid();
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        if (::chdir(dir.c_str()) != 0)
            ::_exit(127);
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0)
            ::_exit(127);
        ::dup2(in, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        ::unsetenv("TUNEBENCH_WORKSPACE");
        ::execv(self.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

} // namespace tunebench::cli
