#include "plugins/lora_common/lora_common.h"

#include "core/util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace tunebench::lora {

LoraParams readParams(const nlohmann::json& params)
{
    LoraParams p;
    p.r = params.at("r").get<std::int64_t>();
    p.alpha = params.at("lora_alpha").get<double>();
    p.dropout = params.at("lora_dropout").get<double>();
    p.targets = params.at("target_modules").get<std::vector<std::string>>();
    p.rslora = params.value("use_rslora", false);
    const double r = static_cast<double>(p.r);
    p.scale = p.rslora ? p.alpha / std::sqrt(r) : p.alpha / r;
    return p;
}

bool isTargeted(const std::string& module, const std::vector<std::string>& targets)
{
    for (const auto& t : targets) {
        if (t == "all-linear")
            return module != "lm_head";
        if (module == t
            || (module.size() > t.size() && module.compare(module.size() - t.size(), t.size(), t) == 0
                && module[module.size() - t.size() - 1] == '.'))
            return true;
    }
    return false;
}

std::vector<Linear*> targetedLayers(const CausalLM& model, const std::vector<std::string>& targets)
{
    std::vector<Linear*> out;
    std::string available;
    for (Linear* layer : model.linears()) {
        const std::string& name = layer->name();
        const std::string last = name.substr(name.rfind('.') + 1);
        if (available.find(" " + last + ",") == std::string::npos && name != "lm_head")
            available += " " + last + ",";
        if (isTargeted(name, targets))
            out.push_back(layer);
    }
    if (out.empty()) {
        if (!available.empty())
            available.pop_back();
        std::string wanted;
        for (const auto& t : targets)
            wanted += (wanted.empty() ? "" : ", ") + t;
        throw InputError("target_modules: no linear layer of this model matches " + wanted + " (its layers:" + available
            + "; or all-linear)");
    }
    return out;
}

at::Tensor kaimingUniformA(std::int64_t r, std::int64_t in, const at::TensorOptions& options, at::Generator& gen)
{
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    return at::empty({ r, in }, options.device(at::kCPU).requires_grad(false))
        .uniform_(-bound, bound, gen)
        .to(options.device())
        .requires_grad_(true);
}

at::Tensor trainingDropout(const at::Tensor& x, double p)
{
    return p > 0 && at::GradMode::is_enabled() ? at::dropout(x, p, true) : x;
}

at::Tensor lowRank(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b)
{
    return at::matmul(at::matmul(x, a.t()), b.t()); // [..., in] -> [..., r] -> [..., out]
}

std::string peftPrefix(const std::string& module)
{
    return "base_model.model." + module;
}

std::pair<at::Tensor, at::Tensor> freshFactors(const Linear& layer, std::int64_t r, at::Generator& gen)
{
    const auto options = layer.weight().options();
    at::Tensor a = kaimingUniformA(r, layer.inFeatures(), options, gen);
    at::Tensor b = at::zeros({ layer.outFeatures(), r }, options.requires_grad(false)).requires_grad_(true);
    return { std::move(a), std::move(b) };
}

namespace {

class LoraHook final : public LowRankHook {
public:
    using LowRankHook::LowRankHook;

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor base = layer.baseForward(x);
        if (!enabled())
            return base;
        return base + lowRank(trainingDropout(x, dropout()), m_a, m_b) * scale();
    }
};

// LoRA (Hu et al.): h = W0 x + s B A dropout(x), A [r, in] Kaiming-uniform, B
// [out, r] zero so training starts from the base model; s = alpha / r, or
// alpha / sqrt(r) with use_rslora. Tensors are named as PEFT names them
// (base_model.model.<module>.lora_A.weight), so export is a copy.
class LoraAdapter final : public LowRankAdapter<LoraHook> {
public:
    LoraAdapter()
        : LowRankAdapter("LoRA")
    { }

    void attach(const AdapterSetup& setup) override
    {
        const LoraParams p = readParams(setup.params);
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);
        m_model = &setup.model;
        for (Linear* layer : targetedLayers(setup.model, p.targets)) {
            auto [a, b] = freshFactors(*layer, p.r, gen);
            addLayer(*layer, std::make_shared<LoraHook>(a, b, p.scale, p.dropout, m_on));
        }
    }

private:
    void fold(Linear& layer, const LoraHook& hook) const override
    {
        layer.weightOutIn().add_(at::matmul(hook.b(), hook.a()) * hook.scale());
    }
};

} // namespace

Adapter* createLoraAdapter()
{
    return new LoraAdapter();
}

} // namespace tunebench::lora
