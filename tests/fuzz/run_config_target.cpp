#include "run_config_target.h"

#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace tunebench::fuzz {

namespace {

constexpr const char* kSource = "fuzz-config.yaml";

std::string show(const nlohmann::json& value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "run config fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

void checkNamed(const InputError& e)
{
    const std::string message = e.what();
    if (std::getenv("TUNEBENCH_FUZZ_VERBOSE"))
        std::fprintf(stderr, "rejected: %s\n", message.c_str());
    if (message.find(kSource) == std::string::npos)
        fail("error names no file", message);
}

} // namespace

ConfigVerdict checkRunConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    nlohmann::json value;
    try {
        value = yamlToJson(text, kSource);
    } catch (const InputError& e) {
        checkNamed(e);
        return ConfigVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception while reading", e.what());
    } catch (...) {
        fail("unexpected exception while reading", "not a std::exception");
    }

    try {
        const std::string yaml = jsonToYaml(value);
        const nlohmann::json back = yamlToJson(yaml, "written");
        if (back != value)
            fail("broken invariant", "YAML written for " + show(value) + " reads back as " + show(back));
    } catch (const std::exception& e) {
        fail("writing the value as YAML and reading it back", std::string(e.what()) + " for " + show(value));
    }

    try {
        const TrainConfig config = TrainConfig::fromJson(value, plugins, kSource);
        const nlohmann::json stored = config.toJson();
        const nlohmann::json again = TrainConfig::fromJson(stored, plugins, "stored").toJson();
        if (again != stored)
            fail("broken invariant", "the stored configuration " + show(stored) + " reads back as " + show(again));
        return ConfigVerdict::Accepted;
    } catch (const InputError& e) {
        checkNamed(e);
        return ConfigVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception while validating", e.what());
    } catch (...) {
        fail("unexpected exception while validating", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
