// The fuzz entry point for pipeline files (YAML or JSON, core/pipeline/pipeline_spec), shared by the libFuzzer
// binary (fuzz_pipeline_file) and the regression test of the normal build (test_fuzz_regressions, real plugins).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench {
class PluginRegistry;
}

namespace tunebench::fuzz {

enum class PipelineVerdict { Accepted, Rejected };

// Reads data as a pipeline file's text with an inline base (a base given as a path is rejected unread: the
// fuzzer must not read the machine's files). Every step may throw InputError only, naming the file. A pipeline
// that reads has one stage per listed stage, unique names, each stage starting from the base, an earlier
// stage or a run id, replay only after the first stage with a share in (0, 1], and the same canonical JSON
// when read twice; its stages' run configurations (at most 50 stages) validate or are refused with an
// InputError naming the file. Anything else aborts with a message.
PipelineVerdict checkPipelineFile(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins);

} // namespace tunebench::fuzz
