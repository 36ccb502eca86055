// LN tuning (Qi et al., 2022): only the gains and biases of the normalisation
// layers train (RMSNorm / LayerNorm), everything else stays frozen. A complete
// adapter in one file, built outside Tunebench's tree against its SDK: see
// CMakeLists.txt beside it and core/method/ADDING_A_METHOD.md. It has a PEFT
// form (PEFT's LN_TUNING: each tuned norm saved whole as
// base_model.model.<module>.ln_tuning_layers.<weight|bias>, target_modules the
// norms' last names), so `tunebench-cli export --format peft` writes it and
// `import-adapter` reads it back; conformance.yaml holds its promises, which
// `tunebench-cli plugins check ln_tuning` checks.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <set>
#include <string>
#include <vector>

namespace {

using namespace tunebench;

class LnTuning final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        const bool finalNorm = setup.params.at("include_final_norm").get<bool>();
        for (auto& [name, tensor] : setup.model.namedParameters()) {
            const bool isNorm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
            const bool isFinal = name.rfind("model.norm.", 0) == 0 || name.rfind("transformer.ln_f.", 0) == 0;
            if (!isNorm || (isFinal && !finalNorm))
                continue;
            tensor.requires_grad_(true);
            m_params.push_back({ name, tensor });
        }
        if (m_params.empty())
            throw InputError(
                "ln_tuning: this model has no normalisation layer parameters (names with 'norm' or 'ln_')");
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return { { m_params, 0.0, 1.0 } }; // norms take no weight decay
    }

    AdapterState state() const override { return namedState(m_params); }
    void restoreState(const AdapterState& state) override { restoreNamedState(m_params, state, "ln_tuning"); }

    PeftForm toPeft(const nlohmann::json&, const AdapterState& state, const ModelConfig&) const override
    {
        PeftForm form;
        std::set<std::string> targets;
        for (const auto& [name, tensor] : state) {
            const auto dot = name.rfind('.');
            const std::string module = name.substr(0, dot);
            targets.insert(module.substr(module.rfind('.') + 1));
            form.tensors.emplace_back(
                peftModulePrefix(module) + ".ln_tuning_layers" + name.substr(dot), tensor.contiguous());
        }
        form.config = { { "target_modules", targets }, { "exclude_modules", nullptr } };
        return form;
    }

    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState& tensors) const override
    {
        const std::string prefix = peftModulePrefix("");
        const std::string marker = ".ln_tuning_layers.";
        bool finalNorm = false;
        for (auto& [name, tensor] : tensors) {
            const auto at = name.find(marker);
            if (name.rfind(prefix, 0) != 0 || at == std::string::npos)
                throw InputError(folder.label + ": tensor '" + name + "' is not an LN_TUNING tensor (" + prefix
                    + "<module>" + marker + "<weight|bias>)");
            name = name.substr(prefix.size(), at - prefix.size()) + name.substr(at + marker.size() - 1);
            finalNorm = finalNorm || name.rfind("model.norm.", 0) == 0 || name.rfind("transformer.ln_f.", 0) == 0;
        }
        return nlohmann::json { { "include_final_norm", finalNorm } };
    }

private:
    std::vector<NamedParameter> m_params;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "ln_tuning",
    "1.0.0",
    "adapter",
    "LN tuning: only the normalisation layers' gains and biases train (example out-of-tree plugin)",
    R"json([
      {"name": "include_final_norm", "type": "boolean", "default": true,
       "help": "also train the final norm before the output head"}
    ])json",
    []() -> Adapter* { return new LnTuning; },
    nullptr,
    "LN_TUNING",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
