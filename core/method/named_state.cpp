#include "core/method/named_state.h"

#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <map>

namespace tunebench {

AdapterState namedState(const std::vector<NamedParameter>& params)
{
    AdapterState out;
    out.reserve(params.size());
    for (const auto& p : params)
        out.emplace_back(p.name, p.tensor.detach());
    return out;
}

void restoreNamedState(const std::vector<NamedParameter>& params, const AdapterState& state, std::string_view method)
{
    at::NoGradGuard noGrad;
    std::map<std::string, const at::Tensor*> byName;
    for (const auto& [name, tensor] : state)
        byName[name] = &tensor;
    const std::string who = std::string(method) + " state";
    for (const auto& p : params) {
        auto it = byName.find(p.name);
        if (it == byName.end())
            throw InputError(who + " has no tensor '" + p.name + "'");
        if (it->second->sizes() != p.tensor.sizes())
            throw InputError(who + ": '" + p.name + "' has shape " + c10::str(it->second->sizes()) + ", expected "
                + c10::str(p.tensor.sizes()));
    }
    for (const auto& p : params) {
        at::Tensor target = p.tensor;
        target.copy_(*byName[p.name]);
    }
}

} // namespace tunebench
