// A data-parallel run's process group on c10d: the TCPStore rendezvous at MASTER_ADDR:MASTER_PORT
// (rank 0 serves it), then ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds). Errors come
// back as DistributedError naming this rank, its host and, where c10d says, the cause.
#pragma once

#include "core/distributed/distributed_config.h"
#include "core/util/error.h"

#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace c10d {
class Backend;
class ProcessGroup;
class Store;
class Work;
} // namespace c10d

namespace tunebench {

class DistributedError : public Error {
public:
    using Error::Error;
};

class Communicator {
public:
    // Meets the other ranks: waits for all of them at the store (up to env.timeoutS), then creates the
    // process group. A port in use on the master, an unreachable master or a rank that does not come
    // is a DistributedError saying which.
    static std::unique_ptr<Communicator> join(const RankEnvironment& env);
    ~Communicator();
    Communicator(const Communicator&) = delete;
    Communicator& operator=(const Communicator&) = delete;

    std::int64_t rank() const { return m_env.rank; }
    std::int64_t worldSize() const { return m_env.worldSize; }
    std::int64_t localRank() const { return m_env.localRank; }
    const RankEnvironment& environment() const { return m_env; }
    // The host of each rank, as they told the store (for messages).
    const std::vector<std::string>& hosts() const { return m_hosts; }
    // "rank R (host H)".
    std::string describe(std::int64_t rank) const;

    // Blocking collectives over the group, in the same order on every rank.
    void allReduceSum(std::vector<at::Tensor>& tensors);
    void broadcast(std::vector<at::Tensor>& tensors, std::int64_t root = 0);
    // Every rank's copy of `tensor` (same shape and type on each), in rank order.
    std::vector<at::Tensor> allGather(const at::Tensor& tensor);
    void barrier();
    // Started now, waited for with wait(); the caller keeps the tensors alive until then.
    c10::intrusive_ptr<c10d::Work> allReduceSumAsync(std::vector<at::Tensor>& tensors);
    void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);

    // A small value rank 0 hands the others through the store (the run id of a new run).
    void publish(const std::string& key, const std::string& value);
    std::string fetch(const std::string& key);

private:
    explicit Communicator(const RankEnvironment& env);
    [[noreturn]] void fail(const char* what, const std::exception& e) const;

    RankEnvironment m_env;
    std::vector<std::string> m_hosts;
    c10::intrusive_ptr<c10d::Store> m_store;
    // LibTorch 2 made ProcessGroupGloo and ProcessGroupNCCL backends under a ProcessGroup front.
#if TORCH_VERSION_MAJOR >= 2
    c10::intrusive_ptr<c10d::Backend> m_group;
#else
    c10::intrusive_ptr<c10d::ProcessGroup> m_group;
#endif
};

} // namespace tunebench
