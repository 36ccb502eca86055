// What the LoRA-family plugins (lora, rslora, dora, pissa, chain_of_lora)
// share: reading their common parameters, finding the targeted layers with
// one helpful error, PEFT's initialisation of lora_A, and the LoRA adapter
// itself (lora and rslora differ only in a default). A static library linked
// into each of those plugins; not part of the plugin API.
#pragma once

#include "core/method/adapter.h"
#include "core/method/named_state.h"
#include "core/method/peft_form.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/quant/quantize.h"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

namespace lora {

// The parameters every LoRA-family schema declares under these names:
// r, lora_alpha, lora_dropout, target_modules and (optional) use_rslora and
// quantize_base.
struct LoraParams {
    std::int64_t r = 8;
    double alpha = 16;
    double dropout = 0;
    std::vector<std::string> targets;
    bool rslora = false;
    double scale = 2; // alpha / r, or alpha / sqrt(r) with use_rslora
    quant::Scheme quantizeBase = quant::Scheme::None;
};

// The schema entry of quantize_base, for the plugins that take it (lora, rslora, dora, pissa, chain_of_lora).
#define TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA                                                                            \
    R"json({"name": "quantize_base", "type": "choice", "choices": ["none", "nf4", "int8"], "default": "none",)json"    \
    R"json( "help": "hold the frozen base weights of the adapted layers quantised, dequantised per layer on the)json"  \
    R"json( fly (QLoRA: nf4 is 4-bit NormalFloat in blocks of 64 with double-quantised scales, int8 one scale)json"    \
    R"json( per row); the update trains in full precision"})json"

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

// A fresh pair of factors for layer: A [r, in] as kaimingUniformA draws it from gen, B [out, r] zero, so the
// update B A starts at zero. Both require grad.
std::pair<at::Tensor, at::Tensor> freshFactors(const Linear& layer, std::int64_t r, at::Generator& gen);

// What every LoRA-family hook holds: the factors in training A [r, in] and B [out, r], the scale s, the dropout
// on the input of the update while training, and the adapter's switch. Subclasses define forward().
class LowRankHook : public LinearHook {
public:
    LowRankHook(at::Tensor a, at::Tensor b, double scale, double dropout, std::shared_ptr<const AdapterSwitch> on)
        : m_a(std::move(a))
        , m_b(std::move(b))
        , m_scale(scale)
        , m_dropout(dropout)
        , m_on(std::move(on))
    { }

    const at::Tensor& a() const { return m_a; }
    const at::Tensor& b() const { return m_b; }
    double scale() const { return m_scale; }

    // QLoRA: holds the layer's frozen weight quantised from now on (nothing for Scheme::None). The layer's own
    // weight is released: its parameter slot keeps shape, dtype and device as a one-element NaN placeholder, so
    // a reader that forgets dequantizeBase() sees NaN, never plausible numbers. The quantised form is of the
    // [out, in] weight whatever the layout; the bias stays as it is.
    void quantizeBase(Linear& layer, quant::Scheme scheme);
    // The layer's weight back as a plain tensor, the dequantised values (merging and exporting); nothing when
    // the base is not quantised.
    void dequantizeBase(Linear& layer);
    // nullptr unless quantised.
    const quant::QuantizedTensor* quantizedBase() const { return m_base.get(); }

protected:
    bool enabled() const { return m_on->enabled; }
    double dropout() const { return m_dropout; }
    // W0 x + bias [..., out]: the layer's own computation, or with the quantised W0 dequantised on the fly (no
    // gradient to it; the backward dequantises again rather than keeping W0, core/quant/quantized_linear.h).
    at::Tensor baseForward(const Linear& layer, const at::Tensor& x) const;
    // W0 [out, in]: layer.weightOutIn(), or a dequantised copy when quantised.
    at::Tensor baseWeightOutIn(const Linear& layer) const;

    at::Tensor m_a; // [r, in]
    at::Tensor m_b; // [out, r]

private:
    double m_scale;
    double m_dropout;
    std::shared_ptr<const AdapterSwitch> m_on;
    std::shared_ptr<const quant::QuantizedTensor> m_base;
};

// The skeleton the LoRA-family adapters share: one Hook (a LowRankHook) per targeted layer, all behind one switch
// (setEnabled turns the adapter off, for references); the trained tensors in one parameter group under PEFT's
// names; a state of the trained tensors followed by any frozen ones a subclass adds; merge() folds each layer's
// update into its weight and removes the hook. Subclasses attach (addLayer) and say how an update folds in.
template <class Hook> class LowRankAdapter : public Adapter {
public:
    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return { { trainedTensors(), weightDecay, 1.0 } };
    }

    bool canDisable() const override { return true; }
    void setEnabled(bool enabled) override { m_on->enabled = enabled; }

    bool canMerge() const override { return true; }
    void merge() override
    {
        at::NoGradGuard noGrad;
        for (const auto& l : m_layers) {
            Linear& layer = *m_model->linear(l.module);
            // A QLoRA base folds into its dequantised values: the weights the update was trained against.
            l.hook->dequantizeBase(layer);
            fold(layer, *l.hook);
            layer.setHook(nullptr);
        }
    }

    AdapterState state() const override { return namedState(stateTensors()); }
    void restoreState(const AdapterState& state) override { restoreNamedState(stateTensors(), state, m_method); }

protected:
    // method: the name restore errors give ("LoRA", "DoRA" ...).
    explicit LowRankAdapter(std::string method)
        : m_method(std::move(method))
    { }

    struct Entry {
        std::string module;
        std::shared_ptr<Hook> hook;
    };

    void addLayer(Linear& layer, std::shared_ptr<Hook> hook)
    {
        layer.setHook(hook);
        m_layers.push_back({ layer.name(), std::move(hook) });
    }

    // A layer's trained tensors: lora_A and lora_B unless a subclass trains more.
    virtual void addTrained(const Entry& l, std::vector<NamedParameter>& out) const
    {
        out.push_back({ peftPrefix(l.module) + ".lora_A.weight", l.hook->a() });
        out.push_back({ peftPrefix(l.module) + ".lora_B.weight", l.hook->b() });
    }
    // Frozen tensors of a layer the state keeps beside the trained ones (none unless a subclass has some).
    virtual void addFrozen(const Entry&, std::vector<NamedParameter>&) const { }
    // W0 [out, in] (layer.weightOutIn(), a view for GPT-2's Conv1D) takes in the hook's update; no gradients.
    virtual void fold(Linear& layer, const Hook& hook) const = 0;

    std::vector<NamedParameter> trainedTensors() const
    {
        std::vector<NamedParameter> out;
        for (const auto& l : m_layers)
            addTrained(l, out);
        return out;
    }

    std::vector<NamedParameter> stateTensors() const
    {
        std::vector<NamedParameter> out = trainedTensors();
        for (const auto& l : m_layers)
            addFrozen(l, out);
        return out;
    }

    // QLoRA: every layer's frozen weight held quantised (LowRankHook::quantizeBase).
    void quantizeBases(quant::Scheme scheme)
    {
        for (const auto& l : m_layers)
            l.hook->quantizeBase(*m_model->linear(l.module), scheme);
    }

    CausalLM* m_model = nullptr;
    std::vector<Entry> m_layers;
    std::shared_ptr<AdapterSwitch> m_on = std::make_shared<AdapterSwitch>();

private:
    std::string m_method;
};

// --- The PEFT form (peft_type LORA) every LoRA-family plugin exports ---

// One layer's update as a plain LoRA against the original weight: W' = W + s b a.
struct LayerFactors {
    at::Tensor a; // [r', in]
    at::Tensor b; // [out, r']
    at::Tensor magnitude; // DoRA only: [out]
};

// How a plugin's state gives a layer's factors (PiSSA: [B, -B0] [A; A0]; chain of LoRA: its links side by side).
// Default: the layer's lora_A.weight and lora_B.weight.
using FactorsOf = std::function<LayerFactors(const std::string& module, const AdapterState& state)>;

// The modules of a LoRA-family state: every <prefix><module>.lora_A.weight, in state order, but for the plugin's
// own extras below a module (<module>.pissa_init.lora_A.weight, <module>.chain.0.lora_A.weight).
std::vector<std::string> stateModules(const AdapterState& state);

// The state as PEFT's LORA: LoraConfig's fields (r, lora_alpha chosen so that PEFT's scale alpha / r, or
// alpha / sqrt(r) with use_rslora, equals the plugin's when the factors' rank differs from r; fan_in_fan_out for
// GPT-2's Conv1D; use_dora) and lora_A, lora_B (and lora_magnitude_vector with dora) per module. method names the
// plugin in errors.
PeftForm peftForm(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model,
    const std::string& method, bool dora, const FactorsOf& factors = {});

// A LORA folder's parameters for a LoRA-family plugin (r, lora_alpha, lora_dropout, target_modules, use_rslora),
// after refusing what the plugin cannot represent (rank_pattern, alpha_pattern, layers_to_transform,
// layer_replication, lora_bias, exclude_modules, target_parameters, a bias other than "none"). nullopt when the
// folder's use_dora differs from dora (the folder is the other plugin's).
std::optional<nlohmann::json> paramsFromPeft(const PeftImport& folder, bool dora);

// The LoRA adapter of the lora and rslora plugins: h = W0 x + s B A dropout(x). The lora plugin claims every LORA
// folder without DoRA; the rslora plugin (claimsPeft false) takes one only where it was chosen (init_adapter).
Adapter* createLoraAdapter(bool claimsPeft = true);

} // namespace lora
} // namespace tunebench
