// BitFit (Ben Zaken et al.): only the bias terms train. Architectures without
// biases (Llama, Mistral, Qwen3 without attention_bias) have none to train, so
// there the normalisation gains train instead, and the start event's
// trainable-parameter count shows how few that is.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isNormGain(const std::string& name)
{
    return endsWith(name, ".weight")
        && (name.find("norm") != std::string::npos || name.find(".ln_") != std::string::npos);
}

class BitFitAdapter final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        const std::string fallback = setup.params.at("without_biases");
        for (auto& [name, tensor] : setup.model.namedParameters()) {
            if (endsWith(name, ".bias"))
                m_params.push_back({ name, tensor });
        }
        if (m_params.empty()) {
            if (fallback == "error")
                throw InputError("without_biases: this model has no bias terms to train (set without_biases: "
                                 "norm_gains to train the normalisation gains instead)");
            for (auto& [name, tensor] : setup.model.namedParameters()) {
                if (isNormGain(name))
                    m_params.push_back({ name, tensor });
            }
        }
        for (auto& p : m_params)
            p.tensor.requires_grad_(true);
    }

    std::vector<ParameterGroup> parameterGroups(double) const override
    {
        return { { m_params, 0.0, 1.0 } }; // biases and gains are never decayed
    }

    AdapterState state() const override { return namedState(m_params); }
    void restoreState(const AdapterState& state) override { restoreNamedState(m_params, state, "BitFit"); }

private:
    std::vector<NamedParameter> m_params;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "bitfit",
    "1.0.0",
    "adapter",
    "BitFit: only the bias terms train (normalisation gains on models without biases)",
    R"json([{"name": "without_biases", "type": "choice", "choices": ["norm_gains", "error"], "default": "norm_gains",
             "help": "what trains on a model without biases: its normalisation gains, or refuse"}])json",
    []() -> Adapter* { return new BitFitAdapter(); },
    nullptr,
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
