#include "command_line.h"
#include "commands.h"

#include "core/method/plugin_registry.h"
#include "core/train/run_estimate.h"
#include "core/train/train_config.h"
#include "core/util/yaml_json.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

namespace {

int estimateCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli estimate CONFIG [--load-limit GIB]",
        "A dry run of a run configuration: checks it as train does, then prints one JSON object with the model\n"
        "folder's facts (architecture, parameters, dtype, vocabulary, layers, chat template), the trainable and\n"
        "total parameters (the adapter attached to the model for real, as a run attaches it) and the memory the\n"
        "run needs in bytes (weights, gradients, optimiser state, a frozen reference copy, activations, total;\n"
        "an upper-end estimate, not a measurement). Trains nothing, needs no workspace and does not read the\n"
        "dataset. What Run Setup shows in its Estimate box. A model whose weight files take more than the\n"
        "load limit is not loaded: its parameters are counted from the file headers, and only adapter 'full'\n"
        "can be estimated on it.",
        { { "CONFIG", "a run configuration (YAML or JSON)" } },
        { { "load-limit", "GIB", "load models whose weight files take at most this many GiB (default 2)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    std::uintmax_t loadLimit = kEstimateLoadLimitBytes;
    if (const auto gib = cl.value("load-limit")) {
        const std::int64_t n = cl.integer("--load-limit", *gib);
        if (n < 0)
            throw UsageError("--load-limit must be 0 or more GiB, got " + *gib);
        loadLimit = static_cast<std::uintmax_t>(n) << 30;
    }
    const std::string file = cl.positional(0);
    const PluginRegistry& plugins = defaultPluginRegistry();
    const TrainConfig config = TrainConfig::fromJson(readYamlOrJsonFile(file), plugins, file);
    nlohmann::json out = toJson(estimateRun(config, plugins, loadLimit));
    out["config"] = file;
    std::cout << out.dump(2) << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "estimate" }, "dry run: a configuration's parameters and memory (JSON)", estimateCommand },
} };

} // namespace

} // namespace tunebench::cli
