#pragma once

// A `tunebench-cli train` worker started by a command that runs several runs (sweep, pipeline).

#include <cstdint>
#include <sys/types.h>

namespace tunebench {
class Workspace;
}

namespace tunebench::cli {

// `tunebench-cli train --run ID` (or --resume ID) in a session of its own (the terminal's Ctrl+C reaches the
// parent, which stops its workers itself), its output appended to the run folder's worker.log as the run queue
// does. Throws Error when it cannot start.
pid_t startWorker(const Workspace& ws, std::int64_t runId, bool resume);

} // namespace tunebench::cli
