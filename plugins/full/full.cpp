// Full fine-tuning: every parameter of the model trains.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class FullAdapter final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        m_model = &setup.model;
        m_model->setRequiresGrad(true);
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return defaultParameterGroups(parameters(), weightDecay);
    }

    AdapterState state() const override { return namedState(parameters()); }
    void restoreState(const AdapterState& state) override
    {
        restoreNamedState(parameters(), state, "full fine-tuning");
    }

private:
    std::vector<NamedParameter> parameters() const
    {
        std::vector<NamedParameter> params;
        for (auto& [name, tensor] : m_model->namedParameters())
            params.push_back({ name, tensor });
        return params;
    }

    CausalLM* m_model = nullptr;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "full",
    "1.0.0",
    "adapter",
    "Full fine-tuning: every parameter trains",
    "[]",
    []() -> Adapter* { return new FullAdapter(); },
    nullptr,
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
