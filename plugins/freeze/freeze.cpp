// Partial fine-tuning: only chosen layers or modules train, the rest stays
// frozen. trainable_layers: the top N transformer layers; trainable_modules:
// name patterns (a parameter trains when its name contains one, e.g.
// "embed_tokens", "lm_head", "mlp"). Optional layer-wise learning-rate decay
// scales layer l's rate by decay^(L-1-l), so lower layers move less.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <regex>

namespace {

using namespace tunebench;

// The transformer layer a parameter belongs to ("model.layers.3." or
// "transformer.h.3."), or -1 for embeddings, final norm and head.
std::int64_t layerOf(const std::string& name)
{
    static const std::regex kLayer(R"((?:^|\.)(?:layers|h)\.(\d+)\.)");
    std::smatch m;
    if (std::regex_search(name, m, kLayer))
        return std::stoll(m[1].str());
    return -1;
}

class FreezeAdapter final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        const auto topLayers = setup.params.at("trainable_layers").get<std::int64_t>();
        const auto modules = setup.params.at("trainable_modules").get<std::vector<std::string>>();
        m_decay = setup.params.at("layerwise_lr_decay").get<double>();
        m_layers = setup.model.config().numLayers;
        if (topLayers > m_layers)
            throw InputError("trainable_layers: the model has " + std::to_string(m_layers) + " layers, asked for "
                + std::to_string(topLayers));
        std::map<std::string, bool> moduleUsed;
        for (auto& [name, tensor] : setup.model.namedParameters()) {
            const std::int64_t layer = layerOf(name);
            bool train = layer >= 0 && layer >= m_layers - topLayers;
            for (const auto& m : modules) {
                if (name.find(m) != std::string::npos) {
                    train = true;
                    moduleUsed[m] = true;
                }
            }
            if (train) {
                tensor.requires_grad_(true);
                m_params.push_back({ name, tensor });
            }
        }
        for (const auto& m : modules) {
            if (!moduleUsed[m])
                throw InputError("trainable_modules: no parameter name of this model contains '" + m + "'");
        }
        if (m_params.empty())
            throw InputError("trainable_layers and trainable_modules leave nothing to train");
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        // One pair of groups (decayed or not) per learning-rate scale.
        std::map<double, std::vector<NamedParameter>> byScale;
        for (const auto& p : m_params) {
            const std::int64_t layer = layerOf(p.name);
            const double scale = layer >= 0 ? std::pow(m_decay, static_cast<double>(m_layers - 1 - layer)) : 1.0;
            byScale[scale].push_back(p);
        }
        std::vector<ParameterGroup> out;
        for (auto& [scale, params] : byScale) {
            for (auto& g : defaultParameterGroups(params, weightDecay)) {
                g.lrScale = scale;
                out.push_back(std::move(g));
            }
        }
        return out;
    }

    AdapterState state() const override { return namedState(m_params); }
    void restoreState(const AdapterState& state) override { restoreNamedState(m_params, state, "freeze"); }

private:
    std::vector<NamedParameter> m_params;
    double m_decay = 1.0;
    std::int64_t m_layers = 0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "freeze",
    "1.0.0",
    "adapter",
    "Partial fine-tuning: the top layers and/or named modules train, the rest is frozen",
    R"json([
      {"name": "trainable_layers", "aliases": ["freeze_trainable_layers", "num_layer_trainable"], "type": "integer",
       "default": 2, "minimum": 0, "help": "how many of the top transformer layers train"},
      {"name": "trainable_modules", "aliases": ["freeze_extra_modules"], "type": "string_list", "default": [],
       "help": "also train parameters whose names contain one of these (embed_tokens, lm_head, mlp ...)"},
      {"name": "layerwise_lr_decay", "type": "number", "default": 1.0, "minimum": 0.01, "maximum": 1,
       "help": "layer l learns at decay^(L-1-l) times the rate; 1 turns it off"}
    ])json",
    []() -> Adapter* { return new FreezeAdapter(); },
    nullptr,
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
