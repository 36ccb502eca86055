#include "plugins/lora_common/lora_common.h"

#include "core/model/config.h"
#include "core/quant/quantized_linear.h"
#include "core/util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

namespace tunebench::lora {

LoraParams readParams(const nlohmann::json& params)
{
    LoraParams p;
    p.r = params.at("r").get<std::int64_t>();
    p.alpha = params.at("lora_alpha").get<double>();
    p.dropout = params.at("lora_dropout").get<double>();
    p.targets = params.at("target_modules").get<std::vector<std::string>>();
    p.rslora = params.value("use_rslora", false);
    p.quantizeBase = quant::schemeFromString(params.value("quantize_base", std::string("none")), "quantize_base");
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
    return peftModulePrefix(module);
}

std::pair<at::Tensor, at::Tensor> freshFactors(const Linear& layer, std::int64_t r, at::Generator& gen)
{
    const auto options = layer.weight().options();
    at::Tensor a = kaimingUniformA(r, layer.inFeatures(), options, gen);
    at::Tensor b = at::zeros({ layer.outFeatures(), r }, options.requires_grad(false)).requires_grad_(true);
    return { std::move(a), std::move(b) };
}

void LowRankHook::quantizeBase(Linear& layer, quant::Scheme scheme)
{
    if (scheme == quant::Scheme::None)
        return;
    if (layer.weight().requires_grad())
        throw InputError("quantize_base: " + layer.name() + ".weight trains, and only a frozen weight is quantised");
    at::NoGradGuard noGrad;
    m_base = std::make_shared<const quant::QuantizedTensor>(quant::quantize(layer.weightOutIn(), scheme));
    at::Tensor& w = layer.weight();
    w = at::full({}, std::numeric_limits<double>::quiet_NaN(), w.options()).expand(w.sizes());
}

void LowRankHook::dequantizeBase(Linear& layer)
{
    if (!m_base)
        return;
    at::NoGradGuard noGrad;
    const at::Tensor w = baseWeightOutIn(layer);
    layer.weight() = layer.layout() == Linear::Layout::OutIn ? w : w.t().contiguous();
    m_base.reset();
}

at::Tensor LowRankHook::baseWeightOutIn(const Linear& layer) const
{
    if (!m_base)
        return layer.weightOutIn();
    return quant::dequantize(*m_base).to(layer.weight().device(), layer.weight().scalar_type());
}

at::Tensor LowRankHook::baseForward(const Linear& layer, const at::Tensor& x) const
{
    if (!m_base)
        return layer.baseForward(x);
    const at::Tensor y = quant::quantizedLinear(x, *m_base);
    return layer.hasBias() ? y + layer.bias() : y;
}

namespace {

class LoraHook final : public LowRankHook {
public:
    using LowRankHook::LowRankHook;

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor base = baseForward(layer, x);
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
    explicit LoraAdapter(bool claimsPeft)
        : LowRankAdapter("LoRA")
        , m_claimsPeft(claimsPeft)
    { }

    PeftForm toPeft(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model) const override
    {
        return peftForm(params, state, model, "LoRA", false);
    }

    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState&) const override
    {
        if (!m_claimsPeft && !folder.chosen)
            return std::nullopt;
        return paramsFromPeft(folder, false);
    }

    void attach(const AdapterSetup& setup) override
    {
        const LoraParams p = readParams(setup.params);
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);
        m_model = &setup.model;
        for (Linear* layer : targetedLayers(setup.model, p.targets)) {
            auto [a, b] = freshFactors(*layer, p.r, gen);
            addLayer(*layer, std::make_shared<LoraHook>(a, b, p.scale, p.dropout, m_on));
        }
        quantizeBases(p.quantizeBase);
    }

private:
    void fold(Linear& layer, const LoraHook& hook) const override
    {
        layer.weightOutIn().add_(at::matmul(hook.b(), hook.a()) * hook.scale());
    }

    bool m_claimsPeft;
};

} // namespace

Adapter* createLoraAdapter(bool claimsPeft)
{
    return new LoraAdapter(claimsPeft);
}

std::vector<std::string> stateModules(const AdapterState& state)
{
    const std::string prefix = peftModulePrefix("");
    const std::string suffix = ".lora_A.weight";
    std::vector<std::string> candidates;
    for (const auto& [k, t] : state) {
        if (k.size() > prefix.size() + suffix.size() && k.starts_with(prefix) && k.ends_with(suffix))
            candidates.push_back(k.substr(prefix.size(), k.size() - prefix.size() - suffix.size()));
    }
    std::vector<std::string> modules;
    for (const std::string& m : candidates) {
        bool below = false; // <module>.<extra>: a plugin's own tensors under a module that has its pair
        for (const std::string& other : candidates)
            below = below || (m.size() > other.size() + 1 && m.starts_with(other + "."));
        if (!below)
            modules.push_back(m);
    }
    return modules;
}

PeftForm peftForm(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model,
    const std::string& method, bool dora, const FactorsOf& factors)
{
    const LoraParams p = readParams(params);
    PeftForm form;
    std::int64_t rank = 0;
    for (const std::string& module : stateModules(state)) {
        const std::string base = peftModulePrefix(module);
        LayerFactors f = factors ? factors(module, state)
                                 : LayerFactors { requireStateTensor(state, base + ".lora_A.weight", method),
                                       requireStateTensor(state, base + ".lora_B.weight", method), {} };
        rank = f.a.size(0);
        form.tensors.emplace_back(base + ".lora_A.weight", f.a.contiguous());
        form.tensors.emplace_back(base + ".lora_B.weight", f.b.contiguous());
        if (dora)
            form.tensors.emplace_back(base + ".lora_magnitude_vector",
                (f.magnitude.defined() ? f.magnitude
                                       : requireStateTensor(state, base + ".lora_magnitude_vector", method))
                    .contiguous());
    }
    if (rank == 0)
        throw InputError(method + " state: no lora_A tensor (base_model.model.<module>.lora_A.weight)");
    // PEFT's scale is alpha / r (or / sqrt(r)) of the rank it sees: keep the plugin's scale at another rank.
    const double alpha = rank == p.r ? p.alpha
        : p.rslora                   ? p.scale * std::sqrt(static_cast<double>(rank))
                                     : p.scale * static_cast<double>(rank);
    // PEFT takes all-linear as a string only (as a list item it would be a module name).
    const bool allLinear = p.targets.size() == 1 && p.targets[0] == "all-linear";
    form.config = { { "r", rank }, { "lora_alpha", alpha }, { "lora_dropout", p.dropout },
        { "target_modules", allLinear ? nlohmann::json("all-linear") : nlohmann::json(p.targets) },
        { "use_rslora", p.rslora }, { "use_dora", dora }, { "bias", "none" }, { "lora_bias", false },
        // GPT-2's Conv1D stores [in, out]: PEFT sets this itself for such layers; the factors keep LoRA's shapes.
        { "fan_in_fan_out", model.architecture == Architecture::Gpt2 }, { "init_lora_weights", true },
        { "rank_pattern", nlohmann::json::object() }, { "alpha_pattern", nlohmann::json::object() },
        { "layers_to_transform", nullptr }, { "layers_pattern", nullptr }, { "layer_replication", nullptr },
        { "exclude_modules", nullptr }, { "megatron_config", nullptr }, { "megatron_core", "megatron.core" },
        { "loftq_config", nlohmann::json::object() }, { "eva_config", nullptr }, { "corda_config", nullptr },
        { "trainable_token_indices", nullptr }, { "use_qalora", false } };
    return form;
}

std::optional<nlohmann::json> paramsFromPeft(const PeftImport& folder, bool dora)
{
    const nlohmann::json& c = folder.config;
    const std::string& label = folder.label;
    const auto useDora = c.find("use_dora");
    if ((useDora != c.end() && useDora->is_boolean() && useDora->get<bool>()) != dora)
        return std::nullopt;
    for (const char* f : { "rank_pattern", "alpha_pattern" })
        peftRefuseSet(c, f, label, "per-layer ranks and alphas are not imported");
    peftRefuseSet(c, "layers_to_transform", label, "LoRA on a subset of layers is not imported");
    peftRefuseSet(c, "layer_replication", label, "layer replication is not imported");
    peftRefuseSet(c, "lora_bias", label, "LoRA biases are not imported");
    peftRefuseSet(c, "exclude_modules", label, "excluded modules are not imported");
    peftRefuseSet(c, "target_parameters", label, "LoRA on parameters is not imported");
    if (c.value("bias", std::string("none")) != "none")
        throw InputError(label + ": field 'bias' is " + c["bias"].dump() + "; only \"none\" is imported");
    return nlohmann::json { { "r", peftNumber(c, "r", label) }, { "lora_alpha", peftNumber(c, "lora_alpha", label) },
        { "lora_dropout", c.value("lora_dropout", 0.0) },
        { "target_modules",
            peftModuleList(c.value("target_modules", nlohmann::json()), "target_modules", folder.model, label) },
        { "use_rslora", c.value("use_rslora", false) } };
}

} // namespace tunebench::lora
