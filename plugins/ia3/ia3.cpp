// (IA)^3 (Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and
// Cheaper than In-Context Learning"): learned vectors, initialised to 1, rescale
// activations. As PEFT does it, a targeted layer either scales its output,
// h = l * (W x + b) with l [out] (attention: k_proj, v_proj), or, when it is a
// feed-forward module, its input, h = W (l * x) + b with l [in] (down_proj).
// Tensors are named and shaped as PEFT saves them
// (base_model.model.<module>.ia3_l, [out, 1] or [1, in]), so export is a copy.
// Targets default to PEFT's per-architecture choice: k_proj, v_proj and
// down_proj for the Llama family, c_attn (GPT-2's fused q/k/v, scaled as a
// whole as PEFT does) and mlp.c_proj for GPT-2.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <memory>

namespace {

using namespace tunebench;

struct Ia3Shared {
    bool enabled = true;
};

class Ia3Hook final : public LinearHook {
public:
    Ia3Hook(at::Tensor scale, bool feedforward, std::shared_ptr<const Ia3Shared> shared)
        : m_scale(std::move(scale))
        , m_feedforward(feedforward)
        , m_shared(std::move(shared))
    { }

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        if (!m_shared->enabled)
            return layer.baseForward(x);
        if (m_feedforward)
            return layer.baseForward(x * m_scale.view({ -1 })); // [..., in] * [in]
        return layer.baseForward(x) * m_scale.view({ -1 }); // [..., out] * [out]
    }

    const at::Tensor& scale() const { return m_scale; }
    bool feedforward() const { return m_feedforward; }

private:
    at::Tensor m_scale; // [1, in] (feed-forward) or [out, 1], as PEFT stores ia3_l
    bool m_feedforward;
    std::shared_ptr<const Ia3Shared> m_shared;
};

// PEFT matches a target as the module's name or its last dotted components.
bool matches(const std::string& module, const std::string& target)
{
    if (target == "all-linear")
        return module != "lm_head";
    return module == target
        || (module.size() > target.size() && module.compare(module.size() - target.size(), target.size(), target) == 0
            && module[module.size() - target.size() - 1] == '.');
}

bool matchesAny(const std::string& module, const std::vector<std::string>& targets)
{
    for (const auto& t : targets) {
        if (matches(module, t))
            return true;
    }
    return false;
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& s : items)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

// PEFT's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING and
// ..._FEEDFORWARD_MODULES_MAPPING for the architectures Tunebench runs.
std::vector<std::string> defaultTargets(Architecture arch)
{
    if (arch == Architecture::Gpt2)
        return { "c_attn", "mlp.c_proj" };
    return { "k_proj", "v_proj", "down_proj" };
}

std::vector<std::string> defaultFeedforward(Architecture arch)
{
    if (arch == Architecture::Gpt2)
        return { "mlp.c_proj" };
    return { "down_proj" };
}

class Ia3Adapter final : public Adapter {
public:
    // PEFT's IA3: the scales under their own names, target_modules the full names of the layers scaled (PEFT matches
    // a target as the whole name or a dotted suffix, so these select exactly those layers: GPT-2's attn.c_proj and
    // mlp.c_proj share their last name), feedforward_modules those scaled on their input ([1, in]).
    PeftForm toPeft(const nlohmann::json&, const AdapterState& state, const ModelConfig& model) const override
    {
        const std::string prefix = peftModulePrefix("");
        const std::string suffix = ".ia3_l";
        PeftForm form;
        nlohmann::json targets = nlohmann::json::array();
        nlohmann::json feedforward = nlohmann::json::array();
        for (const auto& [k, t] : state) {
            if (!k.starts_with(prefix) || !k.ends_with(suffix) || k.size() <= prefix.size() + suffix.size())
                throw InputError("ia3 state: unexpected tensor '" + k + "'");
            const std::string module = k.substr(prefix.size(), k.size() - prefix.size() - suffix.size());
            targets.push_back(module);
            if (t.dim() == 2 && t.size(0) == 1 && t.size(1) != 1)
                feedforward.push_back(module); // [1, in]: the input is scaled
            form.tensors.emplace_back(k, t.contiguous());
        }
        form.config
            = { { "target_modules", targets }, { "feedforward_modules", feedforward }, { "exclude_modules", nullptr },
                  { "fan_in_fan_out", model.architecture == Architecture::Gpt2 }, { "init_ia3_weights", true } };
        return form;
    }

    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState&) const override
    {
        const nlohmann::json& c = folder.config;
        peftRefuseSet(c, "exclude_modules", folder.label, "excluded modules are not imported");
        const auto ff = c.find("feedforward_modules");
        return nlohmann::json { { "target_modules",
                                    peftModuleList(c.value("target_modules", nlohmann::json()), "target_modules",
                                        folder.model, folder.label) },
            { "feedforward_modules",
                ff != c.end() && !ff->is_null() ? peftModuleList(*ff, "feedforward_modules", folder.model, folder.label)
                                                : nlohmann::json::array() } };
    }

    void attach(const AdapterSetup& setup) override
    {
        const Architecture arch = setup.model.config().architecture;
        auto targets = setup.params.at("target_modules").get<std::vector<std::string>>();
        auto feedforward = setup.params.at("feedforward_modules").get<std::vector<std::string>>();
        const bool defaultFf = feedforward.empty();
        if (targets.empty())
            targets = defaultTargets(arch);
        if (defaultFf)
            feedforward = defaultFeedforward(arch);
        m_model = &setup.model;

        std::string available;
        std::vector<bool> feedforwardUsed(feedforward.size(), false);
        for (Linear* layer : setup.model.linears()) {
            const std::string& name = layer->name();
            const std::string last = name.substr(name.rfind('.') + 1);
            if (available.find(" " + last + ",") == std::string::npos && name != "lm_head")
                available += " " + last + ",";
            if (!matchesAny(name, targets))
                continue;
            bool ff = false;
            for (std::size_t i = 0; i < feedforward.size(); ++i) {
                if (matches(name, feedforward[i])) {
                    ff = true;
                    feedforwardUsed[i] = true;
                }
            }
            const auto options = layer->weight().options().requires_grad(false);
            at::Tensor scale
                = (ff ? at::ones({ 1, layer->inFeatures() }, options) : at::ones({ layer->outFeatures(), 1 }, options))
                      .requires_grad_(true);
            auto hook = std::make_shared<Ia3Hook>(scale, ff, m_shared);
            layer->setHook(hook);
            m_layers.push_back({ name, hook });
        }
        if (m_layers.empty()) {
            if (!available.empty())
                available.pop_back();
            throw InputError("target_modules: no linear layer of this model matches " + joined(targets)
                + " (its layers:" + available + "; or all-linear)");
        }
        // As PEFT requires, feed-forward modules are among the targeted ones.
        if (!defaultFf) {
            for (std::size_t i = 0; i < feedforward.size(); ++i) {
                if (!feedforwardUsed[i])
                    throw InputError("feedforward_modules: '" + feedforward[i]
                        + "' matches none of the layers target_modules selects (" + joined(targets) + ")");
            }
        }
    }

    std::vector<ParameterGroup> parameterGroups(double) const override
    {
        // No weight decay: it would pull the scales towards 0 (switching
        // channels off), not towards the base model's 1.
        return { { parameters(), 0.0, 1.0 } };
    }

    bool canDisable() const override { return true; }
    void setEnabled(bool enabled) override { m_shared->enabled = enabled; }

    bool canMerge() const override { return true; }
    void merge() override
    {
        at::NoGradGuard noGrad;
        for (const auto& l : m_layers) {
            Linear& layer = *m_model->linear(l.module);
            // weightOutIn() is [out, in] (a view of GPT-2's [in, out] Conv1D weight).
            // Feed-forward: l [1, in] scales the columns, W diag(l); else l [out, 1]
            // scales the rows and the bias, diag(l) W and l * b.
            layer.weightOutIn().mul_(l.hook->scale());
            if (!l.hook->feedforward() && layer.hasBias())
                layer.bias().mul_(l.hook->scale().view({ -1 }));
            layer.setHook(nullptr);
        }
    }

    AdapterState state() const override { return namedState(parameters()); }
    void restoreState(const AdapterState& state) override { restoreNamedState(parameters(), state, "IA3"); }

private:
    std::vector<NamedParameter> parameters() const
    {
        std::vector<NamedParameter> params;
        for (const auto& l : m_layers)
            params.push_back({ "base_model.model." + l.module + ".ia3_l", l.hook->scale() });
        return params;
    }

    struct Entry {
        std::string module;
        std::shared_ptr<Ia3Hook> hook;
    };
    std::vector<Entry> m_layers;
    CausalLM* m_model = nullptr;
    std::shared_ptr<Ia3Shared> m_shared = std::make_shared<Ia3Shared>();
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "ia3",
    "1.0.0",
    "adapter",
    "(IA)^3: learned vectors rescale the outputs of k/v projections and the input of the feed-forward down projection",
    R"json([
      {"name": "target_modules", "aliases": ["ia3_target"], "type": "string_list", "default": [],
       "help": "linear layers to rescale, by name (k_proj, c_attn ...) or all-linear; empty: PEFT's default for the architecture (k_proj, v_proj, down_proj; GPT-2: c_attn, mlp.c_proj)"},
      {"name": "feedforward_modules", "type": "string_list", "default": [],
       "help": "which of the targeted layers are feed-forward: their input is rescaled instead of their output; empty: PEFT's default (down_proj; GPT-2: mlp.c_proj)"}
    ])json",
    []() -> Adapter* { return new Ia3Adapter(); },
    nullptr,
    "IA3",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
