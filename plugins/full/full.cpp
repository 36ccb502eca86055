// Full fine-tuning: every parameter of the model trains.

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
        std::vector<NamedParameter> params;
        for (auto& [name, tensor] : m_model->namedParameters())
            params.push_back({name, tensor});
        return defaultParameterGroups(std::move(params), weightDecay);
    }

    AdapterState state() const override
    {
        AdapterState out;
        for (auto& [name, tensor] : m_model->namedParameters())
            out.emplace_back(name, tensor.detach());
        return out;
    }

    void restoreState(const AdapterState& state) override
    {
        at::NoGradGuard noGrad;
        std::map<std::string, at::Tensor> byName(state.begin(), state.end());
        for (auto& [name, tensor] : m_model->namedParameters()) {
            auto it = byName.find(name);
            if (it == byName.end())
                throw InputError("full fine-tuning state has no tensor '" + name + "'");
            if (it->second.sizes() != tensor.sizes())
                throw InputError("full fine-tuning state: '" + name + "' has shape " + c10::str(it->second.sizes())
                                 + ", the model has " + c10::str(tensor.sizes()));
            tensor.copy_(it->second);
        }
    }

private:
    CausalLM* m_model = nullptr;
};

const TunebenchPluginDescriptor kDescriptor{
    TUNEBENCH_PLUGIN_API_VERSION,
    "full",
    "1.0.0",
    "adapter",
    "Full fine-tuning: every parameter trains",
    "[]",
    [] () -> Adapter* { return new FullAdapter(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
