// Memory read-outs of an accelerator, for step events and benchmarks. Compiled in every
// build; only a build against a CUDA LibTorch (TUNEBENCH_WITH_CUDA) can read CUDA devices.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>

namespace tunebench {

// Bytes held by tensors and by LibTorch's caching allocator on one device.
struct DeviceMemory {
    std::int64_t allocated = 0; // in live tensors now
    std::int64_t peakAllocated = 0; // most in live tensors since the last resetPeakDeviceMemory
    std::int64_t reserved = 0; // held by the caching allocator (what nvidia-smi counts for the process)
};

// Whether this binary was built against a LibTorch with CUDA (whether or not a GPU is present).
bool builtWithCuda();
// The CUDA version that LibTorch was built with ("13.0"), or empty without CUDA.
const char* cudaBuildVersion();

// The allocator's figures for a CUDA device; nullopt for the CPU, or without CUDA.
std::optional<DeviceMemory> deviceMemory(const c10::Device& device);
// Starts a new peak for deviceMemory().peakAllocated; nothing for the CPU.
void resetPeakDeviceMemory(const c10::Device& device);

} // namespace tunebench
