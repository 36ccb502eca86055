#pragma once

// Whether the worker process of a run marked "running" is still there. Shared by
// tunebench-cli (train --resume, runs recover, runs stop) and the GUI's run queue, so
// both judge a run the same way.
//
// A worker records its pid, the host it runs on (hostname), the host's boot id
// (/proc/sys/kernel/random/boot_id) and its own start time (clock ticks since boot,
// /proc/PID/stat) when it marks the run running. A run of this host is stale when the
// host has rebooted since (another boot id), when the pid is gone or a zombie, or when
// the pid now belongs to another process (another start time; without a recorded start
// time, a command line that is not Tunebench's). A run of another host is never judged:
// its pid means nothing here, and the workspace may sit on a shared file system.

#include "core/store/runs.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;

// This machine's host name (gethostname), "" when it cannot be read.
std::string thisHostName();
// This boot's id, "" where /proc/sys/kernel/random/boot_id does not exist.
std::string thisBootId();
// Whether a process with this pid exists and is not a zombie.
bool processAlive(std::int64_t pid);
// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
std::optional<std::int64_t> processStartTicks(std::int64_t pid);
// The process's argv (from /proc/PID/cmdline); empty when it cannot be read.
std::vector<std::string> processCommandLine(std::int64_t pid);

// What a run's recorded worker is, judged from this host.
struct WorkerCheck {
    enum class Verdict {
        NotRunning, // the run is not marked running
        NoWorker, // marked running without a worker pid (e.g. a merge inside the GUI): not judged
        Alive, // its worker is alive on this host
        OtherHost, // its worker runs on another host: not judged
        Stale, // its worker is gone: see reason
    };
    Verdict verdict = Verdict::NotRunning;
    // For Stale, why; for Alive and OtherHost, whose it is ("pid 123 on host h").
    std::string reason;
};

WorkerCheck checkWorker(const RunRecord& run);

// "pid 123 on host build-7" (or "pid 123" without a recorded host).
std::string describeWorker(const RunRecord& run);

struct RecoveredRun {
    std::int64_t runId = 0;
    std::optional<std::int64_t> pid;
    std::string reason;
};

// Marks every stale run of the store failed, with the reason as its error and a
// "failed" event (payload {"event":"failed","error":...,"source":source,"stale":true}).
// Each run is read again right before it is marked, so a worker that finished in between
// keeps its status. Runs of other hosts and runs without a worker pid are left alone.
std::vector<RecoveredRun> recoverStaleRuns(Database& db, const std::string& source);

} // namespace tunebench
