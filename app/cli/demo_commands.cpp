// The bundled demo: tunebench-cli demo --workspace DIR [--fresh] [--only NAMES] [--quick].

#include "command_line.h"
#include "commands.h"

#include "core/demo/demo.h"
#include "core/method/plugin_registry.h"
#include "core/runtime.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

fs::path presetsFolder(const CommandLine& cl)
{
    if (auto dir = cl.value("presets"))
        return *dir;
    if (const char* env = std::getenv("TUNEBENCH_DEMO_PRESETS"); env && *env)
        return env;
    const fs::path self = fs::read_symlink("/proc/self/exe");
    return self.parent_path().parent_path() / "share" / "tunebench" / "demo";
}

int demoCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli demo --workspace DIR [--fresh] [--only NAMES] [--quick] [--presets DIR]",
        "The bundled demo. Builds what the workspace lacks: the demo data (generated from a seed),\n"
        "a byte-level BPE tokenizer trained on it, a small Llama pretrained on it (cached in\n"
        "DIR/demo/), the demo datasets imported into the workspace. Then trains the presets\n"
        "(resources/demo: full fine-tuning, LoRA, HFT, LiNeS, DPO, prompt and prefix tuning, a soup),\n"
        "skipping runs already finished in the workspace, and measures each run alike: target_loss\n"
        "(loss on the target task's held-out cards), reference_delta_loss (reference-set loss after\n"
        "minus before), distinct_2 (of sampled answers to the probe prompts) and trainable_share.\n"
        "Prints one JSON line {\"runs\": [...]} and a table on stdout; progress on stderr.",
        {},
        { { "workspace", "DIR", "the workspace (created when missing)", true, "TUNEBENCH_WORKSPACE" },
            { "fresh", "", "build the model and data again and train every preset again" },
            { "only", "NAMES",
                "comma-separated preset names (with the presets they need); 'pipeline': the two-stage pipeline" },
            { "quick", "", "a tiny model, corpus and runs (a minute or two; for tests)", false,
                "TUNEBENCH_DEMO_QUICK" },
            { "presets", "DIR", "the presets folder (default: ../share/tunebench/demo beside this program)", false,
                "TUNEBENCH_DEMO_PRESETS" },
            { "seed", "S", "seed of the data, tokenizer and model (default 1234)" },
            { "threads", "N", "intra-op threads for training and measuring (default: one per core)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    demo::DemoOptions options;
    options.workspace = cl.required("workspace");
    options.presetsDir = presetsFolder(cl);
    options.fresh = cl.has("fresh");
    if (auto quick = cl.value("quick"))
        options.quick = *quick != "0" && *quick != "false";
    else
        options.quick = cl.has("quick");
    if (auto seed = cl.value("seed")) {
        const std::int64_t s = cl.integer("--seed", *seed);
        if (s < 0)
            throw UsageError("--seed must not be negative");
        options.seed = static_cast<std::uint64_t>(s);
    }
    if (auto threads = cl.value("threads")) {
        options.threads = cl.integer("--threads", *threads);
        if (options.threads < 1)
            throw UsageError("--threads must be at least 1");
        configureThreads(static_cast<int>(options.threads));
    }
    if (auto only = cl.value("only")) {
        std::stringstream ss(*only);
        std::string name;
        while (std::getline(ss, name, ','))
            if (!name.empty())
                options.only.push_back(name);
        if (options.only.empty())
            throw UsageError("--only needs preset names, e.g. --only full,lora");
    }
    options.progress = [](const std::string& line) { std::cerr << "demo: " << line << std::endl; };

    const auto start = std::chrono::steady_clock::now();
    const demo::DemoResult result = demo::runDemo(options, defaultPluginRegistry());
    std::cout << result.toJson().dump() << "\n"
              << "\n"
              << result.table();
    std::cout << "\nmodel: " << result.modelDir.string() << " (" << result.modelParameters << " parameters"
              << (result.modelCached ? ", cached" : "") << ")\ndata:  " << result.dataDir.string() << "\n";
    for (const demo::DemoStage& s : result.stages) {
        std::ostringstream line;
        line << "demo: stage " << s.name << ": ";
        if (s.cached)
            line << "cached";
        else
            line << std::fixed << std::setprecision(1) << s.seconds << " s";
        std::cerr << line.str() << std::endl;
    }
    std::ostringstream total;
    total << "demo: total " << std::fixed << std::setprecision(1)
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s";
    std::cerr << total.str() << std::endl;
    return 0;
}

const CommandRegistration kRegistration { {
    { { "demo" }, "the bundled demo: a model trained here, presets reproducing known findings", demoCommand },
} };

} // namespace

} // namespace tunebench::cli
