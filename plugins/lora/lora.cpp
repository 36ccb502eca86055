// LoRA (Hu et al.): h = W0 x + s B A dropout(x), A [r, in] Kaiming-uniform, B [out, r]
// zero so training starts from the base model; s = alpha / r, or alpha / sqrt(r)
// with use_rslora. Tensors are named as PEFT names them
// (base_model.model.<module>.lora_A.weight), so export is a copy.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <memory>

namespace {

using namespace tunebench;

struct LoraShared {
    bool enabled = true;
};

class LoraHook final : public LinearHook {
public:
    LoraHook(at::Tensor a, at::Tensor b, double scale, double dropout, std::shared_ptr<const LoraShared> shared)
        : m_a(std::move(a))
        , m_b(std::move(b))
        , m_scale(scale)
        , m_dropout(dropout)
        , m_shared(std::move(shared))
    { }

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor base = layer.baseForward(x);
        if (!m_shared->enabled)
            return base;
        // Dropout only while gradients are recorded (training), not in evaluation or generation.
        const at::Tensor in = m_dropout > 0 && at::GradMode::is_enabled() ? at::dropout(x, m_dropout, true) : x;
        return base + at::matmul(at::matmul(in, m_a.t()), m_b.t()) * m_scale; // [..., in] -> [..., r] -> [..., out]
    }

    const at::Tensor& a() const { return m_a; }
    const at::Tensor& b() const { return m_b; }
    double scale() const { return m_scale; }

private:
    at::Tensor m_a; // [r, in]
    at::Tensor m_b; // [out, r]
    double m_scale;
    double m_dropout;
    std::shared_ptr<const LoraShared> m_shared;
};

bool targeted(const std::string& module, const std::vector<std::string>& targets)
{
    for (const auto& t : targets) {
        if (t == "all-linear")
            return module != "lm_head";
        // PEFT matches a target as the module's name or its last components.
        if (module == t
            || (module.size() > t.size() && module.compare(module.size() - t.size(), t.size(), t) == 0
                && module[module.size() - t.size() - 1] == '.'))
            return true;
    }
    return false;
}

class LoraAdapter final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        const auto r = setup.params.at("r").get<std::int64_t>();
        const double alpha = setup.params.at("lora_alpha").get<double>();
        const double dropout = setup.params.at("lora_dropout").get<double>();
        const auto targets = setup.params.at("target_modules").get<std::vector<std::string>>();
        const bool rslora = setup.params.at("use_rslora").get<bool>();
        const double scale = rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);
        m_model = &setup.model;
        std::string available;
        for (Linear* layer : setup.model.linears()) {
            const std::string& name = layer->name();
            const std::string last = name.substr(name.rfind('.') + 1);
            if (available.find(" " + last + ",") == std::string::npos && name != "lm_head")
                available += " " + last + ",";
            if (!targeted(name, targets))
                continue;
            const auto options = layer->weight().options().requires_grad(false);
            // Kaiming-uniform with a = sqrt(5), as nn.Linear and PEFT initialise A: bound = 1 / sqrt(in).
            const double bound = 1.0 / std::sqrt(static_cast<double>(layer->inFeatures()));
            at::Tensor a = at::empty({ r, layer->inFeatures() }, options.device(at::kCPU))
                               .uniform_(-bound, bound, gen)
                               .to(options.device())
                               .requires_grad_(true);
            at::Tensor b = at::zeros({ layer->outFeatures(), r }, options).requires_grad_(true);
            auto hook = std::make_shared<LoraHook>(a, b, scale, dropout, m_shared);
            layer->setHook(hook);
            m_layers.push_back({ name, hook });
        }
        if (m_layers.empty()) {
            if (!available.empty())
                available.pop_back();
            std::string wanted;
            for (const auto& t : targets)
                wanted += (wanted.empty() ? "" : ", ") + t;
            throw InputError("target_modules: no linear layer of this model matches " + wanted
                + " (its layers:" + available + "; or all-linear)");
        }
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        std::vector<NamedParameter> params;
        for (const auto& l : m_layers) {
            params.push_back({ prefix(l.module) + ".lora_A.weight", l.hook->a() });
            params.push_back({ prefix(l.module) + ".lora_B.weight", l.hook->b() });
        }
        return { { params, weightDecay, 1.0 } };
    }

    bool canDisable() const override { return true; }
    void setEnabled(bool enabled) override { m_shared->enabled = enabled; }

    bool canMerge() const override { return true; }
    void merge() override
    {
        at::NoGradGuard noGrad;
        for (const auto& l : m_layers) {
            Linear& layer = *m_model->linear(l.module);
            // W0 [out, in] += s B A; weightOutIn() is a view of GPT-2's [in, out] Conv1D weight.
            layer.weightOutIn().add_(at::matmul(l.hook->b(), l.hook->a()) * l.hook->scale());
            layer.setHook(nullptr);
        }
    }

    AdapterState state() const override { return namedState(parameterGroups(0.0).front().parameters); }
    void restoreState(const AdapterState& state) override
    {
        restoreNamedState(parameterGroups(0.0).front().parameters, state, "LoRA");
    }

private:
    static std::string prefix(const std::string& module) { return "base_model.model." + module; }

    struct Entry {
        std::string module;
        std::shared_ptr<LoraHook> hook;
    };
    std::vector<Entry> m_layers;
    CausalLM* m_model = nullptr;
    std::shared_ptr<LoraShared> m_shared = std::make_shared<LoraShared>();
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "lora",
    "1.0.0",
    "adapter",
    "LoRA: a trainable low-rank update B A beside each targeted linear layer",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank of the update"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0, "help": "scale numerator (scale = alpha / r)"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the update, while training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": false, "help": "scale by alpha / sqrt(r) (rank-stabilised LoRA)"}
    ])json",
    []() -> Adapter* { return new LoraAdapter(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
