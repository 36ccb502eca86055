// `tunebench-cli train --nproc-per-node N [--nnodes M --node-rank R --master-addr H --master-port P]`:
// this host's share of a data-parallel run, each rank a tunebench-cli child with the environment
// torchrun would give it (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
#pragma once

#include "core/distributed/distributed_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::cli {

struct LaunchOutcome {
    int exitCode = 0; // 0 all ranks finished, 3 cancelled, 1 a rank failed
    std::optional<std::int64_t> runId; // from rank 0's start event (host 0 only)
    std::string failure; // names the first rank that failed and its host; empty when none did
};

// Starts the local ranks with `trainArgs` (the train command's own arguments), forwards rank 0's
// stdout, stops the others after a rank fails (the survivors get distributed.timeout_s and ten
// seconds to notice, then SIGTERM, then SIGKILL) and forwards a cancel to all. `cancel` is polled.
LaunchOutcome launchLocalRanks(
    const DistributedConfig& config, const std::vector<std::string>& trainArgs, const volatile bool* cancel);

} // namespace tunebench::cli
