#include "core/method/adapter_fold.h"

#include "core/method/adapter.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace tunebench {

void foldAdapterIntoWeights(Adapter& adapter, CausalLM& model, const std::string& subject, const std::string& instead)
{
    if (adapter.canMerge()) {
        at::NoGradGuard noGrad;
        adapter.merge();
    }
    // A merged adapter has removed its hooks, so what is left hooked in (or added as virtual tokens) computes
    // beside the weights and has no place in a weights-only model.
    bool hooked = model.virtualTokenCount() > 0;
    for (const Linear* layer : model.linears())
        hooked = hooked || layer->hook() != nullptr;
    if (hooked)
        throw InputError(subject
            + " cannot be folded into the model's weights (prompt and prefix tuning add inputs, not weights)"
            + (instead.empty() ? std::string() : "; " + instead));
}

} // namespace tunebench
