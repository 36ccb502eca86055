#include "pipeline_file_target.h"

#include "core/pipeline/pipeline_spec.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <string>

namespace tunebench::fuzz {

namespace {

constexpr const char* kSource = "fuzz-pipeline.yaml";

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "pipeline file fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

void checkShape(const nlohmann::json& doc, const PipelineSpec& spec)
{
    if (spec.stages.size() != doc["stages"].size())
        fail("stage count", std::to_string(spec.stages.size()) + ", listed " + std::to_string(doc["stages"].size()));
    std::set<std::string> names;
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
        const PipelineStage& s = spec.stages[i];
        if (s.index != i)
            fail("stage index", std::to_string(s.index) + " at " + std::to_string(i));
        if (!names.insert(s.name).second)
            fail("stage names", "'" + s.name + "' twice");
        if (s.from == PipelineStage::From::Stage && s.fromStage >= i)
            fail("from", "stage " + std::to_string(i) + " starts from stage " + std::to_string(s.fromStage));
        if (s.from == PipelineStage::From::Run && s.fromRun < 1)
            fail("from", "run " + std::to_string(s.fromRun));
        if (s.from == PipelineStage::From::Base && !s.merge)
            fail("merge", "false for a stage starting from the base model");
        if (s.replay && (i == 0 || !(s.replay->share > 0 && s.replay->share <= 1)))
            fail("replay", "stage " + std::to_string(i) + " share " + std::to_string(s.replay->share));
        if (s.dataset.empty())
            fail("dataset", "stage " + std::to_string(i) + " has none");
        if (s.config.contains("model"))
            fail("config", "stage " + std::to_string(i) + " keeps a model of its own");
    }
}

} // namespace

PipelineVerdict checkPipelineFile(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const nlohmann::json doc = yamlToJson(text, kSource);
        if (doc.is_object() && doc.contains("base") && doc["base"].is_string())
            return PipelineVerdict::Rejected;
        const PipelineSpec spec = PipelineSpec::fromJson(doc, kSource);
        checkShape(doc, spec);
        if (PipelineSpec::fromJson(doc, kSource).canonicalJson() != spec.canonicalJson())
            fail("canonical JSON", "not the same twice");
        if (spec.stages.size() <= 50)
            checkStages(spec, plugins);
        return PipelineVerdict::Accepted;
    } catch (const InputError& e) {
        const std::string message = e.what();
        if (std::getenv("TUNEBENCH_FUZZ_VERBOSE"))
            std::fprintf(stderr, "rejected: %s\n", message.c_str());
        if (message.find(kSource) == std::string::npos)
            fail("error names no file", message);
        return PipelineVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
