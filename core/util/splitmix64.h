#pragma once

#include <cstdint>

namespace tunebench {

// SplitMix64 (Steele, Lea and Flood 2014): a generator whose output is fixed by its
// definition, the same on every platform and standard library (unlike the standard
// distributions), so seeded draws (sweeps' random points, bootstrap resamples, HFT's
// choice of layers) repeat everywhere and in every version.
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed)
        : m_state(seed)
    { }

    std::uint64_t next()
    {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    // Uniform in [0, 1), from the top 53 bits.
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t m_state;
};

} // namespace tunebench
