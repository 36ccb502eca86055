// Runs a program as a child process and reports its own peak RSS (wait4),
// for benchmarks that measure one run per process.
#pragma once

#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace tunebench::test_support {

struct ChildRun {
    int exitCode = -1;
    long peakRssKb = 0;
    std::string out;
};

// Runs a command with stdout captured and returns the child's own peak RSS (wait4).
inline ChildRun runChild(const std::vector<std::string>& argv)
{
    ChildRun r;
    int pipeFds[2];
    if (pipe(pipeFds) != 0)
        return r;
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(pipeFds[1], STDOUT_FILENO);
        close(pipeFds[0]);
        close(pipeFds[1]);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(pipeFds[1]);
    char buffer[4096];
    ssize_t n;
    while ((n = read(pipeFds[0], buffer, sizeof buffer)) > 0)
        r.out.append(buffer, static_cast<std::size_t>(n));
    close(pipeFds[0]);
    int status = 0;
    rusage usage {};
    wait4(pid, &status, 0, &usage);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.peakRssKb = usage.ru_maxrss;
    return r;
}

} // namespace tunebench::test_support
