#include "core/device_memory.h"

#include "core/tunebench_config.h"

#if TUNEBENCH_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace tunebench {

bool builtWithCuda()
{
    return TUNEBENCH_WITH_CUDA != 0;
}

const char* cudaBuildVersion()
{
    return TUNEBENCH_CUDA_VERSION;
}

std::optional<DeviceMemory> deviceMemory(const c10::Device& device)
{
#if TUNEBENCH_WITH_CUDA
    if (!device.is_cuda())
        return std::nullopt;
    namespace allocator = c10::cuda::CUDACachingAllocator;
    const c10::DeviceIndex index = device.has_index() ? device.index() : c10::DeviceIndex(0);
    const auto stats = allocator::getDeviceStats(index);
    constexpr auto all = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    DeviceMemory m;
    m.allocated = stats.allocated_bytes[all].current;
    m.peakAllocated = stats.allocated_bytes[all].peak;
    m.reserved = stats.reserved_bytes[all].current;
    return m;
#else
    (void)device;
    return std::nullopt;
#endif
}

void resetPeakDeviceMemory(const c10::Device& device)
{
#if TUNEBENCH_WITH_CUDA
    if (device.is_cuda())
        c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : c10::DeviceIndex(0));
#else
    (void)device;
#endif
}

} // namespace tunebench
