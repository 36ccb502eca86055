#pragma once

// A sweep: one run configuration asked the same question over hyperparameters and seeds.
//
//   name: lora-rank                      # default: the file's name
//   base: run.yaml                       # a run configuration inline, or a run file relative to this one
//   grid:                                # dotted keys -> lists of values (cartesian product)
//     training.learning_rate: [1.0e-4, 3.0e-4]
//     adapter.r: [8, 16]
//   random:                              # dotted keys -> distributions, drawn `trials` times
//     training.weight_decay: {distribution: log_uniform, low: 1.0e-4, high: 1.0e-1}
//     adapter.lora_dropout: {distribution: choice, values: [0.0, 0.1]}
//   trials: 4
//   seed: 7                              # seeds the random draws
//   seeds: [1, 2, 3]                     # every point run once per seed (training.seed)
//   metric: eval_loss                    # the final metric the best point is chosen by
//   direction: min                       # or max
//   early_stopping: {rule: median, metric: eval_loss, steps: [20, 40], min_runs: 3}
//   concurrency: 2                       # runs at a time (the command line's --concurrency wins)
//
// A dotted key names a run configuration key: `training.KEY`, `adapter.KEY`, `objective.KEY` or a plain
// `KEY`; `adapter.type` and `objective.type` choose the plugin. The value replaces the key wherever the base
// has it (top level or a section), else it is added in the section named (or at the top level).
//
// Points: the grid's combinations in key order (keys sorted, the last key changing fastest), each crossed
// with the random trials in draw order; point indexes count from 0 in that order. Random draws come from
// SplitMix64 seeded with `seed`, one generator for the whole sweep, drawing trial by trial and within a
// trial key by key (sorted): uniform is low + u (high - low), log_uniform exp(log low + u (log high -
// log low)) with u = the top 53 bits / 2^53 in [0, 1); when low and high are both whole numbers the draw is
// a whole number in [low, high] (log_uniform: rounded); choice picks values[floor(u n)].

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class PluginRegistry;

struct SweepDistribution {
    enum class Kind { Uniform, LogUniform, Choice };
    Kind kind = Kind::Uniform;
    double low = 0;
    double high = 0;
    bool integer = false; // low and high are whole numbers: whole-number draws
    nlohmann::json values = nlohmann::json::array(); // Choice
};

struct SweepEarlyStopping {
    enum class Rule { Median, SuccessiveHalving };
    Rule rule = Rule::Median;
    std::string metric = "eval_loss";
    bool maximize = false; // direction of the early-stopping metric (default min)
    std::vector<std::int64_t> steps; // the steps runs are judged at, ascending
    std::int64_t minRuns = 3; // median: other runs needed at a step before a run is judged
    double reductionFactor = 2; // successive halving: the top 1/factor of the runs at a step continue
};

struct SweepSpec {
    std::filesystem::path file; // the sweep file, for messages
    std::string name;
    nlohmann::json base = nlohmann::json::object(); // the run configuration, paths made absolute
    std::vector<std::pair<std::string, std::vector<nlohmann::json>>> grid; // sorted by key
    std::vector<std::pair<std::string, SweepDistribution>> random; // sorted by key
    std::int64_t trials = 0;
    std::uint64_t randomSeed = 0;
    std::vector<std::uint64_t> seeds; // empty: each point once, with the base's seed
    std::string metric = "eval_loss";
    bool maximize = false;
    std::optional<SweepEarlyStopping> earlyStopping;
    std::int64_t concurrency = 0; // 0: not given

    // Throws InputError "FILE: key 'KEY': what was wrong".
    static SweepSpec fromJson(const nlohmann::json& doc, const std::filesystem::path& file);
    static SweepSpec readFile(const std::filesystem::path& file);

    // Everything that defines the sweep's runs and choice (concurrency left out): a sweep recorded with the
    // same canonical JSON is the same sweep, and is resumed.
    nlohmann::json canonicalJson() const;
};

struct SweepPoint {
    std::size_t index = 0;
    nlohmann::json params = nlohmann::json::object(); // dotted key -> value
};

// The points in their documented order (one point without parameters when there is neither grid nor random).
std::vector<SweepPoint> expandPoints(const SweepSpec& spec);

// Sets a dotted key in a run configuration (see the header comment). Throws InputError naming `source`.
void setDottedKey(
    nlohmann::json& config, const std::string& dottedKey, const nlohmann::json& value, const std::string& source);

struct SweepRunConfig {
    std::size_t pointIndex = 0;
    std::size_t seedIndex = 0;
    std::optional<std::uint64_t> seed;
    nlohmann::json config; // resolved (TrainConfig::toJson), as the run records it
};

// Every point crossed with every seed, point by point, each validated as a run configuration. A key that is
// no run configuration key, or a value the run configuration refuses, is an InputError naming the sweep file,
// the point and the key.
std::vector<SweepRunConfig> expandRuns(const SweepSpec& spec, const PluginRegistry& plugins);

} // namespace tunebench
