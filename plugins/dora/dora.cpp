// DoRA (Liu et al., weight-decomposed low-rank adaptation):
//   W' = m * V / ||V||,  V = W0 + s B A,  h = W' x + bias,
// with the norm taken per output row (over the input dimension of the [out, in]
// weight) and the magnitude m [out] initialised to W0's row norms, so at the
// start W' = W0. A, B and s as in LoRA (plugins/lora_common).
//
// As PEFT computes it (tuners/lora/dora.py): ||V|| is detached, so it gets no
// gradient (the paper's section 4.3), and instead of forming W' the hook adds
// to the base output
//   (m / ||V|| - 1) * W0 x + (m / ||V||) * s B A x,
// where, while training with dropout, both x on the right are the dropped-out
// input (PEFT then recomputes W0 x, as we do). The bias is added once, unscaled.
// Tensors are named as in PEFT's saved adapters:
// base_model.model.<module>.lora_A.weight, .lora_B.weight and
// .lora_magnitude_vector (PEFT's ".default.weight" suffix dropped on saving).

#include "core/method/plugin_api.h"
#include "plugins/lora_common/lora_common.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <memory>

namespace {

using namespace tunebench;
using namespace tunebench::lora;

class DoraHook final : public LowRankHook {
public:
    using LowRankHook::LowRankHook;

    // ||W0 + s B A|| per output row, without gradient: [out].
    at::Tensor weightNorm(const Linear& layer) const
    {
        at::NoGradGuard noGrad;
        const at::Tensor v = baseWeightOutIn(layer) + at::matmul(m_b, m_a) * scale(); // [out, in]
        return at::linalg_vector_norm(v, 2, at::IntArrayRef { 1 });
    }

    void setMagnitude(at::Tensor magnitude) { m_magnitude = std::move(magnitude); }

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor base = baseForward(layer, x); // [..., out], bias included
        if (!enabled())
            return base;
        const at::Tensor factor = m_magnitude / weightNorm(layer); // [out]; exactly 1 at initialisation
        at::Tensor in = x;
        at::Tensor baseNoBias; // W0 x [..., out]
        if (dropout() > 0 && at::GradMode::is_enabled()) {
            in = at::dropout(x, dropout(), true);
            baseNoBias = at::matmul(in, baseWeightOutIn(layer).t());
        } else {
            // Saves a second product with W0; differs from it by rounding only.
            baseNoBias = layer.hasBias() ? base - layer.bias() : base;
        }
        return base + (factor - 1) * baseNoBias + lowRank(in, m_a, m_b) * (factor * scale());
    }

    const at::Tensor& magnitude() const { return m_magnitude; }

private:
    at::Tensor m_magnitude; // [out]
};

class DoraAdapter final : public LowRankAdapter<DoraHook> {
public:
    DoraAdapter()
        : LowRankAdapter("DoRA")
    { }

    // PEFT's LORA with use_dora and each layer's lora_magnitude_vector.
    PeftForm toPeft(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model) const override
    {
        return peftForm(params, state, model, "DoRA", true);
    }

    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState& tensors) const override
    {
        auto params = paramsFromPeft(folder, true);
        // PEFT before 0.12 saved the magnitude as a module: <module>.lora_magnitude_vector.weight.
        const std::string oldName = ".lora_magnitude_vector.weight";
        for (auto& [name, t] : tensors) {
            if (params && name.ends_with(oldName))
                name.resize(name.size() - std::string(".weight").size());
        }
        return params;
    }

    void attach(const AdapterSetup& setup) override
    {
        const LoraParams p = readParams(setup.params);
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);
        m_model = &setup.model;
        for (Linear* layer : targetedLayers(setup.model, p.targets)) {
            auto [a, b] = freshFactors(*layer, p.r, gen);
            auto hook = std::make_shared<DoraHook>(a, b, p.scale, p.dropout, m_on);
            // m = ||W0 + s B A|| with B = 0, computed as forward() computes the norm so that
            // m / ||V|| is exactly 1 and the outputs at initialisation are the base model's.
            // With QLoRA the norm is of the quantised weight, the one forward() sees.
            hook->quantizeBase(*layer, p.quantizeBase);
            hook->setMagnitude(hook->weightNorm(*layer).clone().requires_grad_(true));
            addLayer(*layer, hook);
        }
    }

private:
    // One group: like transformers' Trainer, weight decay applies to the
    // magnitude too (it is neither a bias nor a norm layer's gain).
    void addTrained(const Entry& l, std::vector<NamedParameter>& out) const override
    {
        LowRankAdapter::addTrained(l, out);
        out.push_back({ peftPrefix(l.module) + ".lora_magnitude_vector", l.hook->magnitude() });
    }

    // W' = m * V / ||V|| with V = W0 + s B A [out, in].
    void fold(Linear& layer, const DoraHook& hook) const override
    {
        at::Tensor w = layer.weightOutIn();
        const at::Tensor v = w + at::matmul(hook.b(), hook.a()) * hook.scale();
        const at::Tensor norm = at::linalg_vector_norm(v, 2, at::IntArrayRef { 1 }); // [out]
        w.copy_(v * (hook.magnitude() / norm).unsqueeze(1));
    }
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "dora",
    "1.0.0",
    "adapter",
    "DoRA: LoRA on the direction of each weight row, with a trainable magnitude per row",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank of the directional update"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0, "help": "scale numerator (scale = alpha / r)"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the update, while training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": false, "help": "scale by alpha / sqrt(r) (rank-stabilised LoRA)"},
    )json" TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA R"json(
    ])json",
    []() -> Adapter* { return new DoraAdapter(); },
    nullptr,
    "LORA",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
