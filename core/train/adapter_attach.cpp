#include "core/train/adapter_attach.h"

#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"

namespace tunebench {

std::unique_ptr<Adapter> attachAdapter(const PluginRegistry& plugins, const std::string& name, CausalLM& model,
    const nlohmann::json& params, std::uint64_t seed, const TextEncoder& encodeText)
{
    std::unique_ptr<Adapter> adapter = plugins.createAdapter(name);
    model.setRequiresGrad(false);
    adapter->attach({ model, params, seed, encodeText });
    return adapter;
}

std::int64_t trainableElements(const Adapter& adapter)
{
    std::int64_t n = 0;
    // Weight decay sorts tensors into groups; it does not change which train.
    for (const ParameterGroup& group : adapter.parameterGroups(0.0)) {
        for (const auto& p : group.parameters)
            n += p.tensor.numel();
    }
    return n;
}

} // namespace tunebench
