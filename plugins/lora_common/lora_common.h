// What the LoRA-family plugins (lora, rslora, dora, pissa, chain_of_lora)
// share: reading their common parameters, finding the targeted layers with
// one helpful error, PEFT's initialisation of lora_A, and the LoRA adapter
// itself (lora and rslora differ only in a default). A static library linked
// into each of those plugins; not part of the plugin API.
#pragma once

#include "core/method/adapter.h"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class Linear;

namespace lora {

// The parameters every LoRA-family schema declares under these names:
// r, lora_alpha, lora_dropout, target_modules and (optional) use_rslora.
struct LoraParams {
    std::int64_t r = 8;
    double alpha = 16;
    double dropout = 0;
    std::vector<std::string> targets;
    bool rslora = false;
    double scale = 2; // alpha / r, or alpha / sqrt(r) with use_rslora
};

// Reads them from parameters resolved against the plugin's schema.
LoraParams readParams(const nlohmann::json& params);

// Whether target_modules selects the module, as PEFT matches: the module's
// whole name or its last dot-separated components; all-linear is every linear
// layer but the output head.
bool isTargeted(const std::string& module, const std::vector<std::string>& targets);

// The linear layers target_modules selects, in the model's order. Throws
// InputError "target_modules: no linear layer of this model matches ..."
// listing the model's layer names when none does.
std::vector<Linear*> targetedLayers(const CausalLM& model, const std::vector<std::string>& targets);

// lora_A [r, in] as nn.Linear and PEFT initialise it: Kaiming-uniform with
// a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)). Drawn on the CPU from gen (so a
// seed gives the same values on every device), then moved to options' device
// and dtype; requires grad.
at::Tensor kaimingUniformA(std::int64_t r, std::int64_t in, const at::TensorOptions& options, at::Generator& gen);

// Dropout on x only while gradients are recorded (training), never in
// evaluation or generation.
at::Tensor trainingDropout(const at::Tensor& x, double p);

// x [..., in] -> B A x [..., out] for A [r, in], B [out, r], without forming B A.
at::Tensor lowRank(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b);

// "base_model.model." + module: where PEFT's saved adapters put a layer's tensors.
std::string peftPrefix(const std::string& module);

// The switch setEnabled() flips, shared by an adapter and its hooks.
struct AdapterSwitch {
    bool enabled = true;
};

// The LoRA adapter of the lora and rslora plugins: h = W0 x + s B A dropout(x).
Adapter* createLoraAdapter();

} // namespace lora
} // namespace tunebench
