// Sums the trainable parameters' gradients over the ranks of a data-parallel run, in buckets of
// about 25 MB started from autograd hooks while backward still runs (overlap): a bucket goes out
// once the gradients of all its parameters are final and every bucket before it has gone, so the
// ranks issue the same all-reduces in the same order. Only armed backward passes (the last
// micro-step of an optimiser step) trigger it; the others accumulate locally.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace c10d {
class Work;
}
namespace torch::autograd {
struct Node;
}

namespace tunebench {

class Communicator;

struct GradientSyncStats {
    std::int64_t bytes = 0; // all-reduced this step (the buckets' gradients)
    std::int64_t buckets = 0;
    std::int64_t bucketsFromHooks = 0; // started while backward ran
    double waitSeconds = 0; // spent after backward waiting for the all-reduces (communication not hidden)
};

class GradientSync {
public:
    // Parameters in the order the optimiser sees them; buckets are filled back to front (the order
    // backward reaches them). Hooks are registered on each parameter's gradient accumulator.
    GradientSync(Communicator& comm, std::vector<at::Tensor> parameters, std::int64_t bucketBytes = 25 << 20);
    ~GradientSync();
    GradientSync(const GradientSync&) = delete;
    GradientSync& operator=(const GradientSync&) = delete;

    // The next backward pass is the step's last: its hooks start all-reduces.
    void arm();
    // After that backward: starts the buckets that have not gone, waits for all, writes the sums into
    // the gradients. A parameter without a gradient on every rank keeps none, as in one process.
    GradientSyncStats finish();

private:
    struct Bucket {
        std::vector<std::size_t> members; // indices into m_parameters
        std::vector<std::int64_t> offsets; // each member's place in flat
        at::Tensor flat;
        std::size_t ready = 0;
        c10::intrusive_ptr<c10d::Work> work;
        bool launched = false;
    };

    void onGradReady(std::size_t parameter);
    void copyIn(std::size_t parameter);
    void launchReady(); // with m_mutex held
    void launch(Bucket& b);

    Communicator& m_comm;
    std::vector<at::Tensor> m_parameters;
    std::vector<std::size_t> m_bucketOf;
    std::vector<Bucket> m_buckets;
    std::vector<char> m_copied;
    std::vector<std::shared_ptr<torch::autograd::Node>> m_accumulators; // keeps the hooked nodes alive
    std::vector<std::uintptr_t> m_hookKeys;
    std::size_t m_nextLaunch = 0;
    bool m_armed = false;
    GradientSyncStats m_stats;
    std::mutex m_mutex;
};

} // namespace tunebench
