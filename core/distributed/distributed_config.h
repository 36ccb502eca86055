// Where a data-parallel run's processes meet and how many there are: the run configuration's
// `distributed:` section, the train command's launch flags, or the environment an external
// launcher (torchrun, Slurm's srun) or `tunebench-cli train --nproc-per-node` sets for each rank.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace tunebench {

struct DistributedConfig {
    std::string backend = "gloo"; // gloo (CPU tensors) or nccl (CUDA tensors, CUDA builds only)
    std::int64_t nprocPerNode = 1; // ranks this host starts
    std::int64_t nnodes = 1; // hosts
    std::int64_t nodeRank = 0; // this host's place, 0 .. nnodes-1; host 0 runs rank 0 and the TCPStore
    std::string masterAddr = "127.0.0.1";
    std::int64_t masterPort = 29500;
    double timeoutS = 300; // a collective, the rendezvous or a silent rank waits this long before failing

    std::int64_t worldSize() const { return nprocPerNode * nnodes; }

    // Reads `distributed: {backend, nproc_per_node, nnodes, node_rank, master_addr, master_port, timeout_s}`;
    // an unknown key, a wrong type or an out-of-range value is an InputError naming `source` and the field.
    static DistributedConfig fromJson(const nlohmann::json& section, const std::string& source);
    nlohmann::json toJson() const;
    bool operator==(const DistributedConfig&) const = default;
};

// One process's place in the group, as torchrun sets it: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT (and TUNEBENCH_DIST_BACKEND, TUNEBENCH_DIST_TIMEOUT_S, which the train command's launcher adds).
struct RankEnvironment {
    std::int64_t rank = 0;
    std::int64_t worldSize = 1;
    std::int64_t localRank = 0;
    std::string masterAddr = "127.0.0.1";
    std::int64_t masterPort = 29500;
    std::string backend = "gloo";
    double timeoutS = 300;

    // nullopt when RANK or WORLD_SIZE is unset; `fallback` fills what the environment leaves out (backend,
    // timeout, master). A value that is not a number in range is an InputError naming the variable.
    static std::optional<RankEnvironment> fromEnvironment(const DistributedConfig& fallback);
};

} // namespace tunebench
