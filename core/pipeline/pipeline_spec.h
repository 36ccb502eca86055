#pragma once

// A pipeline: runs one after another, each starting from an earlier one's result.
//
//   name: domain-then-task               # default: the file's name
//   base: run.yaml                       # the run configuration the stages share, inline or a run file
//   held_out: 0.1                        # share of each stage's data kept out of training for the matrix
//   stages:
//     - name: domain                     # default: stage-N; letters, digits, '-' and '_'
//       objective: clm                   # continued pretraining: raw text, packed, loss on every token
//       dataset: corpus.txt
//       training: {learning_rate: 1.0e-4, max_steps: 200}
//     - name: task
//       from: previous                   # previous (default) | base | a run id | an earlier stage's name
//       merge: true                      # true: the source's adapter folded into a new model folder;
//                                        # false: the source's model, its adapter continued (init_adapter)
//       adapter: {type: lora, r: 8}
//       dataset: task.jsonl
//       evaluation: {tasks: tasks.yaml}  # the matrix's columns for this stage (else its held-out loss)
//       replay: {share: 0.2, seed: 1}    # round(share x this stage's training examples) drawn from
//                                        # earlier stages' training examples of the same format
//
// A stage's run configuration is the base with the stage's keys applied: `objective`, `adapter` and
// `evaluation` replace the base's, `dataset` replaces the base's dataset, `training` sets trainer keys as a
// sweep's dotted keys do. `objective: clm` is the sft objective on text records (dataset_format: text, every
// token trained) with packing on.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;

struct PipelineReplay {
    double share = 0; // (0, 1]
    std::uint64_t seed = 0;
};

struct PipelineStage {
    enum class From { Base, Stage, Run };
    std::size_t index = 0;
    std::string name;
    // The base with the stage's keys applied, paths made absolute, without the model (the pipeline sets it).
    nlohmann::json config = nlohmann::json::object();
    std::string dataset; // the stage's data: a file, or a workspace dataset id as text
    bool clm = false;
    From from = From::Base; // `previous` is resolved: the stage before, or the base for the first stage
    std::size_t fromStage = 0; // From::Stage
    std::int64_t fromRun = 0; // From::Run
    bool merge = true;
    std::optional<PipelineReplay> replay;
};

struct PipelineSpec {
    std::filesystem::path file; // for messages
    std::string name;
    std::string model; // the base model folder, absolute
    nlohmann::json base = nlohmann::json::object(); // as read, paths made absolute
    double heldOut = 0.1;
    std::vector<PipelineStage> stages;

    // Throws InputError "FILE: stage 'NAME': key 'KEY': what was wrong" (or "FILE: key 'KEY': ..." outside
    // the stages).
    static PipelineSpec fromJson(const nlohmann::json& doc, const std::filesystem::path& file);
    static PipelineSpec readFile(const std::filesystem::path& file);

    // What defines the pipeline: recorded again with the same canonical JSON, it is the same pipeline (resumed).
    nlohmann::json canonicalJson() const;
};

// A stage's run configuration with its model, dataset file and init_adapter (empty: none) filled in,
// resolved by TrainConfig::fromJson (its toJson). Throws InputError naming the file, the stage and the key.
nlohmann::json stageRunConfig(const PipelineSpec& spec, std::size_t stage, const std::string& model,
    const std::string& dataset, const std::string& initAdapter, const PluginRegistry& plugins);

// Checks every stage's run configuration up front (with the base model and the stage's own dataset standing in
// for what earlier stages produce), and that a stage continuing an earlier stage's adapter (merge: false)
// trains the same kind of adapter. Throws InputError naming the file, the stage and the key.
void checkStages(const PipelineSpec& spec, const PluginRegistry& plugins);

} // namespace tunebench
