#pragma once

namespace tunebench {

// Sets LibTorch's intra-op thread count. threads <= 0 means one per core
// (LibTorch would otherwise start with a single thread here). Call once at
// process start, before any tensor work. Returns the count now in effect.
int configureThreads(int threads = 0);

} // namespace tunebench
