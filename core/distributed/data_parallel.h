// What a training run does differently on several processes (core/train/training_run.cpp calls it;
// null there for one process). With W ranks and A accumulation steps an optimiser step covers the
// W*A micro-batches a single process with A*W accumulation steps would read; rank r takes micro-batches
// r, r+W, r+2W ... of them. Gradients are summed over ranks (GradientSync) and divided by the step's
// global loss-token count, so W processes compute what one process computes.
#pragma once

#include "core/distributed/gradient_sync.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class Communicator;
struct ParameterGroup;

// What one optimiser step's micro-batches add up to on this rank, then (after reduce) over all ranks.
struct StepSums {
    double scaledLoss = 0; // sum of loss x loss tokens
    std::int64_t tokens = 0;
    std::int64_t lossTokens = 0;
    std::map<std::string, double> metricSums; // the objective's metrics summed over micro-batches
    std::int64_t microBatches = 0;
};

class DataParallel {
public:
    explicit DataParallel(Communicator& comm);
    ~DataParallel();

    Communicator& communicator() { return m_comm; }
    bool lead() const; // rank 0
    std::int64_t rank() const;
    std::int64_t worldSize() const;

    // Every rank takes rank 0's values of the trainable parameters, then hooks the gradient sync on
    // them. Called again whenever the trainable set changes (the optimiser is rebuilt).
    void attach(const std::vector<ParameterGroup>& groups, bool broadcastValues);
    // The global micro-batches of the step starting at firstMicro (of microPerStep) this rank computes.
    std::vector<std::int64_t> localMicroBatches(std::int64_t firstMicro, std::int64_t microPerStep) const;
    // Before the backward pass of this rank's last micro-batch of the step.
    void beforeLastBackward();
    // After it: sums the gradients (left undivided) and the step's numbers over all ranks.
    StepSums reduce(const StepSums& local);
    const GradientSyncStats& lastSync() const { return m_lastSync; }
    double lastCommSeconds() const { return m_lastCommSeconds; }
    // Every rank's value, in rank order.
    std::vector<double> gather(double value);
    std::vector<at::Tensor> gather(const at::Tensor& value);
    // True when any rank says so (a cancel seen by one rank stops all at the same step).
    bool any(bool value);
    // Sums of an evaluation's (loss x tokens, tokens) over ranks.
    std::pair<double, std::int64_t> sum(double weighted, std::int64_t tokens);

private:
    Communicator& m_comm;
    std::unique_ptr<GradientSync> m_sync;
    GradientSyncStats m_lastSync;
    double m_lastCommSeconds = 0;
};

} // namespace tunebench
