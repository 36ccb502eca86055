// PiSSA (Meng et al., principal singular values and vectors adaptation): LoRA
// whose factors start as W0's top-r singular triplets, so training moves the
// principal part of the weight while the residual stays frozen.
//
// With W0 = U S V^T [out, in] and s the LoRA scale, as PEFT's pissa_init does
// (it divides S_r by s so that s B A is exactly the rank-r part):
//   A0 = sqrt(S_r / s) V_r^T [r, in],  B0 = U_r sqrt(S_r / s) [out, r],
//   W_res = W0 - s B0 A0,  h = W_res x + bias + s B A dropout(x).
// The SVD runs in float64 and the factors are cast to the weight's dtype.
//
// PEFT overwrites the base weight with W_res. We leave the model's weight alone
// (frozen base parameters stay bit for bit, and the adapter can be switched
// off) and compute the same function as
//   h = W0 x + bias + s (B A dropout(x) - B0 A0 x)
// with A0, B0 kept frozen in the hook. Against a stored dense residual this
// costs r (in + out) values instead of in x out per layer, and because B A and
// B0 A0 go through the same operations the difference is exactly zero at
// initialisation: the outputs equal the base model's bit for bit rather than
// within the rounding of an SVD reconstruction. Gradients are the same, since
// the B0 A0 term is constant.
//
// State: A and B under PEFT's names (base_model.model.<module>.lora_A.weight,
// .lora_B.weight) and the initial factors as .pissa_init.lora_A.weight and
// .pissa_init.lora_B.weight. Restoring takes the initial factors from the state
// rather than recomputing the SVD, so a resumed run does not depend on the
// LAPACK or device that computes it. Relative to the original W0 the update is
// s (B A - B0 A0), a rank-2r LoRA with A' = [A; A0] and B' = [B, -B0] (what
// PEFT's path_initial_model_for_weight_conversion writes, with r and lora_alpha
// doubled so the scale stays s).
//
// Only the exact SVD is offered (PEFT's pissa_niter_k randomised SVD is not):
// it runs once per targeted layer at attach.

#include "core/method/plugin_api.h"
#include "core/util/error.h"
#include "plugins/lora_common/lora_common.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <memory>

namespace {

using namespace tunebench;
using namespace tunebench::lora;

class PissaHook final : public LowRankHook {
public:
    PissaHook(at::Tensor a, at::Tensor b, double scale, double dropout, std::shared_ptr<const AdapterSwitch> on)
        : LowRankHook(std::move(a), std::move(b), scale, dropout, std::move(on))
        , m_a0(m_a.detach().clone())
        , m_b0(m_b.detach().clone())
    { }

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor base = baseForward(layer, x); // [..., out]
        if (!enabled())
            return base;
        // The residual's correction -s B0 A0 x sees the input undropped: it belongs to the frozen weight.
        const at::Tensor update = lowRank(trainingDropout(x, dropout()), m_a, m_b) - lowRank(x, m_a0, m_b0);
        return base + update * scale();
    }

    const at::Tensor& a0() const { return m_a0; }
    const at::Tensor& b0() const { return m_b0; }

private:
    at::Tensor m_a0; // [r, in], A at initialisation, frozen
    at::Tensor m_b0; // [out, r], B at initialisation, frozen
};

class PissaAdapter final : public LowRankAdapter<PissaHook> {
public:
    PissaAdapter()
        : LowRankAdapter("PiSSA")
    { }

    // Against the original W0 the update is s (B A - B0 A0) = s [B, -B0] [A; A0]: a rank-2r LoRA of the same
    // scale, which is what PEFT's conversion of a PiSSA adapter writes. It is exported, never imported back
    // (a LORA folder is the lora plugin's).
    PeftForm toPeft(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model) const override
    {
        return peftForm(params, state, model, "pissa", false, [](const std::string& module, const AdapterState& st) {
            const std::string base = peftPrefix(module);
            const at::Tensor& a = requireStateTensor(st, base + ".lora_A.weight", "pissa");
            const at::Tensor& b = requireStateTensor(st, base + ".lora_B.weight", "pissa");
            const at::Tensor& a0 = requireStateTensor(st, base + ".pissa_init.lora_A.weight", "pissa");
            const at::Tensor& b0 = requireStateTensor(st, base + ".pissa_init.lora_B.weight", "pissa");
            return LayerFactors { at::cat({ a, a0 }, 0), at::cat({ b, -b0 }, 1), {} };
        });
    }

    void attach(const AdapterSetup& setup) override
    {
        const LoraParams p = readParams(setup.params);
        if (p.alpha <= 0)
            throw InputError("lora_alpha: PiSSA divides the singular values by the scale alpha / r, so alpha must be "
                             "above 0");
        m_model = &setup.model;
        const std::vector<Linear*> layers = targetedLayers(setup.model, p.targets);
        for (const Linear* layer : layers) {
            if (p.r > std::min(layer->inFeatures(), layer->outFeatures()))
                throw InputError("r: PiSSA takes r singular triplets of each targeted weight, but " + layer->name()
                    + " is " + std::to_string(layer->outFeatures()) + " x " + std::to_string(layer->inFeatures())
                    + " (has " + std::to_string(std::min(layer->inFeatures(), layer->outFeatures())) + ")");
        }
        for (Linear* layer : layers) {
            at::NoGradGuard noGrad;
            const auto options = layer->weight().options();
            // W0 = U diag(S) Vh: U [out, k], S [k], Vh [k, in], k = min(out, in), S descending.
            const auto [u, s, vh] = at::linalg_svd(layer->weightOutIn().to(at::kDouble), false);
            const at::Tensor root = (s.narrow(0, 0, p.r) / p.scale).sqrt(); // sqrt(S_r / s) [r]
            at::Tensor a = (root.unsqueeze(1) * vh.narrow(0, 0, p.r)).to(options).requires_grad_(true); // [r, in]
            at::Tensor b = (u.narrow(1, 0, p.r) * root.unsqueeze(0)).to(options).requires_grad_(true); // [out, r]
            addLayer(*layer, std::make_shared<PissaHook>(a, b, p.scale, p.dropout, m_on));
        }
        // The principal factors come from the unquantised W0; the frozen W0 is then held quantised, and so the
        // model starts as the quantised base (B A - B0 A0 = 0), as QLoRA does.
        quantizeBases(p.quantizeBase);
    }

private:
    void addFrozen(const Entry& l, std::vector<NamedParameter>& out) const override
    {
        out.push_back({ peftPrefix(l.module) + ".pissa_init.lora_A.weight", l.hook->a0() });
        out.push_back({ peftPrefix(l.module) + ".pissa_init.lora_B.weight", l.hook->b0() });
    }

    // W0 [out, in] += s (B A - B0 A0), i.e. W_res + s B A.
    void fold(Linear& layer, const PissaHook& h) const override
    {
        layer.weightOutIn().add_((at::matmul(h.b(), h.a()) - at::matmul(h.b0(), h.a0())) * h.scale());
    }
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "pissa",
    "1.0.0",
    "adapter",
    "PiSSA: LoRA started from each weight's top-r singular vectors, the residual frozen",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank: how many singular triplets of each weight train"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0,
       "help": "scale numerator (scale = alpha / r); the factors start as sqrt(S / scale)"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the update, while training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": false, "help": "scale by alpha / sqrt(r) (rank-stabilised LoRA)"},
    )json" TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA R"json(
    ])json",
    []() -> Adapter* { return new PissaAdapter(); },
    nullptr,
    "LORA",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
