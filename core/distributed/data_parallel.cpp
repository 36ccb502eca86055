#include "core/distributed/data_parallel.h"

#include "core/distributed/communicator.h"
#include "core/method/parameter_group.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>

namespace tunebench {

DataParallel::DataParallel(Communicator& comm)
    : m_comm(comm)
{ }

DataParallel::~DataParallel() = default;

bool DataParallel::lead() const
{
    return m_comm.rank() == 0;
}

std::int64_t DataParallel::rank() const
{
    return m_comm.rank();
}

std::int64_t DataParallel::worldSize() const
{
    return m_comm.worldSize();
}

void DataParallel::attach(const std::vector<ParameterGroup>& groups, bool broadcastValues)
{
    std::vector<at::Tensor> params;
    for (const auto& g : groups) {
        for (const auto& p : g.parameters)
            params.push_back(p.tensor);
    }
    m_sync.reset();
    if (broadcastValues) {
        at::NoGradGuard noGrad;
        std::vector<at::Tensor> data;
        for (const at::Tensor& p : params)
            data.push_back(p.detach());
        // One broadcast per parameter keeps the values in place (broadcast writes its tensors).
        for (at::Tensor& d : data) {
            std::vector<at::Tensor> one { d };
            m_comm.broadcast(one, 0);
        }
    }
    // TUNEBENCH_DIST_BUCKET_BYTES sets the bucket size (tests use small buckets to have several on tiny models).
    std::int64_t bucketBytes = 25 << 20;
    if (const char* v = std::getenv("TUNEBENCH_DIST_BUCKET_BYTES"); v && std::atoll(v) > 0)
        bucketBytes = std::atoll(v);
    m_sync = std::make_unique<GradientSync>(m_comm, std::move(params), bucketBytes);
}

std::vector<std::int64_t> DataParallel::localMicroBatches(std::int64_t firstMicro, std::int64_t microPerStep) const
{
    std::vector<std::int64_t> mine;
    for (std::int64_t m = m_comm.rank(); m < microPerStep; m += m_comm.worldSize())
        mine.push_back(firstMicro + m);
    return mine;
}

void DataParallel::beforeLastBackward()
{
    m_sync->arm();
}

StepSums DataParallel::reduce(const StepSums& local)
{
    const auto started = std::chrono::steady_clock::now();
    m_lastSync = m_sync->finish();
    // The step's numbers in one all-reduce: float64 keeps token counts exact.
    std::vector<double> values { local.scaledLoss, static_cast<double>(local.tokens),
        static_cast<double>(local.lossTokens), static_cast<double>(local.microBatches) };
    for (const auto& [k, v] : local.metricSums)
        values.push_back(v);
    std::vector<at::Tensor> t { at::tensor(values, at::kDouble) };
    m_comm.allReduceSum(t);
    const at::Tensor r = t[0];
    StepSums out;
    out.scaledLoss = r[0].item<double>();
    out.tokens = static_cast<std::int64_t>(r[1].item<double>());
    out.lossTokens = static_cast<std::int64_t>(r[2].item<double>());
    out.microBatches = static_cast<std::int64_t>(r[3].item<double>());
    std::int64_t i = 4;
    for (const auto& [k, v] : local.metricSums)
        out.metricSums[k] = r[i++].item<double>();
    m_lastCommSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
}

std::vector<double> DataParallel::gather(double value)
{
    std::vector<double> out;
    for (const at::Tensor& t : m_comm.allGather(at::tensor({ value }, at::kDouble)))
        out.push_back(t[0].item<double>());
    return out;
}

std::vector<at::Tensor> DataParallel::gather(const at::Tensor& value)
{
    return m_comm.allGather(value);
}

bool DataParallel::any(bool value)
{
    std::vector<at::Tensor> t { at::tensor({ value ? 1.0 : 0.0 }, at::kDouble) };
    m_comm.allReduceSum(t);
    return t[0].item<double>() > 0;
}

std::pair<double, std::int64_t> DataParallel::sum(double weighted, std::int64_t tokens)
{
    std::vector<at::Tensor> t { at::tensor({ weighted, static_cast<double>(tokens) }, at::kDouble) };
    m_comm.allReduceSum(t);
    return { t[0][0].item<double>(), static_cast<std::int64_t>(t[0][1].item<double>()) };
}

} // namespace tunebench
