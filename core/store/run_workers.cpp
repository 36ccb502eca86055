#include "core/store/run_workers.h"

#include "core/store/database.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>

#include <signal.h>
#include <unistd.h>

namespace tunebench {

namespace {

std::string readSmallFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return {};
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses.
std::vector<std::string> statFieldsAfterName(std::int64_t pid)
{
    const std::string text = readSmallFile("/proc/" + std::to_string(pid) + "/stat");
    const auto close = text.rfind(')');
    if (close == std::string::npos)
        return {};
    std::istringstream rest(text.substr(close + 1));
    return { std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>() };
}

std::string baseName(const std::string& path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Workers are tunebench-cli processes (the GUI starts them through setsid, which execs in place).
bool looksLikeTunebench(const std::vector<std::string>& argv)
{
    return !argv.empty() && baseName(argv[0]).rfind("tunebench", 0) == 0;
}

std::string joined(const std::vector<std::string>& argv)
{
    std::string out;
    for (const auto& a : argv)
        out += (out.empty() ? "" : " ") + a;
    return out.size() > 120 ? out.substr(0, 117) + "..." : out;
}

} // namespace

std::string thisHostName()
{
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0)
        return {};
    return name;
}

std::string thisBootId()
{
    std::string id = readSmallFile("/proc/sys/kernel/random/boot_id");
    while (!id.empty() && (id.back() == '\n' || id.back() == ' '))
        id.pop_back();
    return id;
}

bool processAlive(std::int64_t pid)
{
    if (pid <= 0)
        return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)
        return false;
    // A zombie has exited: its parent just has not collected it yet.
    const auto fields = statFieldsAfterName(pid);
    if (!fields.empty() && (fields[0] == "Z" || fields[0] == "X"))
        return false;
    return true;
}

std::optional<std::int64_t> processStartTicks(std::int64_t pid)
{
    if (pid <= 0)
        return std::nullopt;
    // Field 22 of the line is the start time; the fields after the name start at field 3.
    const auto fields = statFieldsAfterName(pid);
    if (fields.size() < 20)
        return std::nullopt;
    try {
        return std::stoll(fields[19]);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::vector<std::string> processCommandLine(std::int64_t pid)
{
    if (pid <= 0)
        return {};
    const std::string text = readSmallFile("/proc/" + std::to_string(pid) + "/cmdline");
    std::vector<std::string> argv;
    std::string::size_type start = 0;
    while (start < text.size()) {
        auto end = text.find('\0', start);
        if (end == std::string::npos)
            end = text.size();
        argv.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

std::string describeWorker(const RunRecord& run)
{
    std::string text = "pid " + std::to_string(run.workerPid.value_or(0));
    if (!run.workerHost.empty())
        text += " on host " + run.workerHost;
    return text;
}

WorkerCheck checkWorker(const RunRecord& run)
{
    using Verdict = WorkerCheck::Verdict;
    if (run.status != RunStatus::Running)
        return { Verdict::NotRunning, {} };
    if (!run.workerPid)
        return { Verdict::NoWorker, "no worker pid is recorded" };
    const std::int64_t pid = *run.workerPid;
    const std::string host = thisHostName();
    if (!run.workerHost.empty() && run.workerHost != host)
        return { Verdict::OtherHost, describeWorker(run) };
    const std::string boot = thisBootId();
    if (!run.workerBootId.empty() && !boot.empty() && run.workerBootId != boot)
        return { Verdict::Stale,
            "the host has restarted since worker pid " + std::to_string(pid) + " started (its boot id changed)" };
    if (!processAlive(pid))
        return { Verdict::Stale, "worker pid " + std::to_string(pid) + " is no longer running" };
    if (run.workerStart) {
        const auto now = processStartTicks(pid);
        if (now && *now != *run.workerStart)
            return { Verdict::Stale,
                "worker pid " + std::to_string(pid) + " is gone: the pid now belongs to another process (started at "
                    + std::to_string(*now) + " ticks after boot, the worker at " + std::to_string(*run.workerStart)
                    + ")" };
    } else {
        const auto argv = processCommandLine(pid);
        if (!argv.empty() && !looksLikeTunebench(argv))
            return { Verdict::Stale,
                "worker pid " + std::to_string(pid) + " is gone: the pid now belongs to '" + joined(argv)
                    + "', not a Tunebench worker" };
    }
    return { Verdict::Alive, describeWorker(run) };
}

std::vector<RecoveredRun> recoverStaleRuns(Database& db, const std::string& source)
{
    RunStore store(db);
    std::vector<RecoveredRun> out;
    for (const RunRecord& listed : store.list()) {
        if (listed.status != RunStatus::Running)
            continue;
        Database::Transaction tx(db);
        // Judged again inside the write lock: the worker may have finished since list().
        const auto run = store.find(listed.id);
        if (!run)
            continue;
        const WorkerCheck check = checkWorker(*run);
        if (check.verdict != WorkerCheck::Verdict::Stale)
            continue;
        const std::string error
            = "The worker (" + describeWorker(*run) + ") ended without finishing the run: " + check.reason + ".";
        store.setStatus(run->id, RunStatus::Failed, error);
        store.addEvent(run->id, "failed",
            nlohmann::json({ { "event", "failed" }, { "error", error }, { "source", source }, { "stale", true } })
                .dump());
        tx.commit();
        out.push_back({ run->id, run->workerPid, check.reason });
    }
    return out;
}

} // namespace tunebench
