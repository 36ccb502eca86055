// What an adapter plugin promises, checked the same way for built-in and
// out-of-tree plugins (PEFT's TEST_CASES idea). Each plugin carries its rows in
// a conformance file beside its library (<library>.conformance.yaml, copied from
// the plugin folder's conformance.yaml by tunebench_add_plugin); the test suite
// and `tunebench-cli plugins check NAME` run them.
//
// A row attaches the plugin, with its parameters, to tiny random models (Llama
// with grouped-query attention, GPT-2 with its Conv1D layers) and checks:
//   - at initialisation the outputs equal the base model's (where the row says the method promises it);
//   - the trainable values number what the row states (the method's formula, worked out by its author);
//   - 12 SFT steps lower the loss, driven as the trainer drives an adapter (beginStage, afterStep and a fresh
//     optimiser when it asks for one);
//   - only the tensors parameterGroups() lists change, every other parameter stays bit for bit;
//   - the saved state restored into a fresh attachment gives the same outputs (within 1e-6);
//   - switched off (where it can be), the model is the base model again, bit for bit;
//   - its PEFT form (where the plugin has one) read back as PEFT would load it gives the same outputs (1e-5);
//   - merged (where it can be), the bare model gives the adapter's outputs within 1e-5.
// A refusal attaches parameters that must be refused with an InputError whose
// message contains the text the file states.
//
// The file (YAML):
//   adapter: lora                      # the plugin's name
//   rows:
//     - name: r 4 on two projections
//       params: {r: 4}                   # both architectures
//       llama: {target_modules: [q_proj, v_proj]}   # merged over params for that architecture
//       gpt2: {target_modules: [c_attn, c_fc]}
//       architectures: [llama, gpt2]     # optional, default both
//       trainable: {llama: 512, gpt2: 1280}  # required for each architecture run
//       identity_at_init: true           # optional, default true
//       learning_rate: 1.0e-2            # optional
//       staged: false                    # optional: parameterGroups may list tensors frozen in this stage (HFT)
//       lr_scales: {llama: {model.layers.0.mlp.up_proj.weight: 0.5}}  # optional: the groups' learning-rate scales
//   refusals:
//     - architecture: llama
//       params: {target_modules: [c_attn]}
//       message: "target_modules: no linear layer of this model matches c_attn"
//   run: {r: 4, target_modules: [q_proj, v_proj]}   # the adapter section of a short run (test_adapter_runs)
//   merged_export: true                # optional: whether `export --format merged` folds it (default true)
#pragma once

#include "core/model/config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class PluginRegistry;

struct ConformanceRow {
    std::string name;
    std::map<std::string, nlohmann::json> params; // per architecture ("llama", "gpt2") it runs on
    std::map<std::string, std::int64_t> trainable; // per architecture
    // per architecture: tensor name -> the learning-rate scale of its parameter group (layer-wise decay)
    std::map<std::string, std::map<std::string, double>> lrScales;
    bool identityAtInit = true;
    bool staged = false;
    double learningRate = 1e-2;
};

struct ConformanceRefusal {
    std::string architecture;
    nlohmann::json params;
    std::string message;
};

struct ConformanceSpec {
    std::filesystem::path file;
    std::string adapter;
    std::vector<ConformanceRow> rows;
    std::vector<ConformanceRefusal> refusals;
    nlohmann::json run = nlohmann::json::object(); // the adapter section of a run configuration, without type
    bool mergedExport = true;
};

// Reads and checks a conformance file. Throws InputError naming the file and the field ("rows[2].trainable.gpt2:
// expected a whole number").
ConformanceSpec readConformanceSpec(const std::filesystem::path& file);

// The architectures rows may name, and the tiny model of each the checks use (vocabulary 48, hidden 16, 2
// layers, 4 heads; Llama with 2 key/value heads, MLP 32; seed 11 unless given).
const std::vector<std::string>& conformanceArchitectures();
std::unique_ptr<CausalLM> conformanceModel(const std::string& architecture, std::uint64_t seed = 11);

struct ConformanceResult {
    std::string row; // the row's name, or "refusal N"
    std::string architecture;
    std::vector<std::string> failures; // empty: passed
    std::int64_t trainable = 0;
    double lossBefore = 0;
    double lossAfter = 0;
    std::string peftType; // empty when the plugin has no PEFT form
    double peftDifference = -1; // max |logits| difference through the PEFT form; -1 when not checked
    double mergeDifference = -1; // the same after merging; -1 when the plugin cannot merge

    bool passed() const { return failures.empty(); }
};

// Runs one row on one architecture. Errors the plugin throws are failures, not exceptions.
ConformanceResult checkConformanceRow(const ConformanceSpec& spec, const ConformanceRow& row,
    const std::string& architecture, const PluginRegistry& plugins);
ConformanceResult checkConformanceRefusal(
    const ConformanceSpec& spec, std::size_t index, const PluginRegistry& plugins);

// Every row on every architecture it names, then every refusal.
std::vector<ConformanceResult> checkConformance(const ConformanceSpec& spec, const PluginRegistry& plugins);

} // namespace tunebench
