// The fuzz entry point for sweep files (YAML or JSON, core/sweep/sweep_spec), shared by the libFuzzer binary
// (fuzz_sweep_file) and the regression test of the normal build (test_fuzz_regressions, real plugins).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench {
class PluginRegistry;
}

namespace tunebench::fuzz {

enum class SweepVerdict { Accepted, Rejected };

// Reads data as a sweep file's text with an inline base (a base given as a path is rejected unread: the
// fuzzer must not read the machine's files). Every step may throw InputError only, naming the file. A sweep
// that reads expands to the documented number of points (grid sizes times trials), indexed 0.., the same
// twice, with every random draw within its bounds; its runs (when at most 200) validate or are refused with
// an InputError naming the file. Anything else aborts with a message.
SweepVerdict checkSweepFile(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins);

} // namespace tunebench::fuzz
