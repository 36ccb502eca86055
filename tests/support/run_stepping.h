#pragma once

// Catching a training worker at a given point however fast the machine is: the worker runs in short slices and is
// stopped (SIGSTOP) while the test looks at it, so a run of a few milliseconds per step cannot slip past the point
// between two looks. Used by the tests that kill a sweep or a pipeline mid-run and resume it.

#include <QString>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include <signal.h>
#include <sys/types.h>

namespace tunebench::test_support {

// The newest complete checkpoint's step of a run in a workspace (0: none). Checkpoints are written under a
// temporary name and renamed, so a `step-N` folder is complete.
inline int newestCheckpointStep(const QString& workspace, std::int64_t run)
{
    namespace fs = std::filesystem;
    int newest = 0;
    std::error_code ec;
    for (const auto& e :
        fs::directory_iterator(fs::path(workspace.toStdString()) / "runs" / std::to_string(run) / "checkpoints", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("step-", 0) == 0)
            newest = std::max(newest, std::atoi(name.c_str() + 5));
    }
    return newest;
}

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 'Z' zombie, ...); 0 when the process is gone.
inline char processState(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return 0;
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}

// Stops a process and waits until every thread of it is stopped. False when it is gone or dead.
inline bool stopProcess(pid_t pid)
{
    if (::kill(pid, SIGSTOP) != 0)
        return false;
    for (int i = 0; i < 2000; ++i) {
        const char s = processState(pid);
        if (s == 't' || s == 'T')
            return true;
        if (s == 0 || s == 'Z' || s == 'X')
            return false;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return false;
}

enum class Caught { Yes, Passed, Gone };

// Lets PID run in slices of SLICE, stopped between them, until `reached()` holds (Caught::Yes: the process is left
// stopped, for the test to kill) or `passed()` says the point cannot be reached any more (Caught::Passed: the
// process is let go) or the process ends (Caught::Gone).
template <class Reached, class Passed>
Caught stopWhen(pid_t pid, Reached reached, Passed passed,
    std::chrono::microseconds slice = std::chrono::microseconds(2000),
    std::chrono::milliseconds limit = std::chrono::milliseconds(300000))
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (!stopProcess(pid))
            return Caught::Gone;
        if (reached())
            return Caught::Yes;
        const bool past = passed();
        ::kill(pid, SIGCONT);
        if (past)
            return Caught::Passed;
        std::this_thread::sleep_for(slice);
    }
    ::kill(pid, SIGCONT);
    return Caught::Passed;
}

} // namespace tunebench::test_support
