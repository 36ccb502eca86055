// Lottery-ticket sparse fine-tuning (Ansell et al., "Composable Sparse
// Fine-Tuning for Cross-Lingual Transfer"): a dense phase of dense_steps
// optimiser steps trains every chosen parameter; then the K entries that moved
// most, by |theta1 - theta0| over all chosen tensors together, are kept, every
// parameter is reset to theta0, and from then on only those entries train.
// After each later step the update is projected back onto them,
// theta = where(mask, theta, theta0), so the others never move whatever the
// optimiser (weight decay included) does; their gradients are masked too, so
// gradient clipping and the optimiser's moments see the trained entries only.
// At the transition afterStep() returns true and the trainer starts a fresh
// optimiser over the tensors that keep entries.
//
// State: in the dense phase the trained tensors under their HF names (as full
// fine-tuning saves them). Afterwards the sparse difference, per chosen tensor
//   <name>.indices          int64 [k]  flat positions of the kept entries, ascending
//   <name>.values           [k]        theta - theta0 there (the difference to apply to the base)
//   <name>.trained_values   [k]        theta there (what resuming restores, bit for bit)
// and "sparse_ft.phase" (int64 scalar 1). The tensors are the model's own, so
// there is nothing to merge (canMerge false, as full fine-tuning).

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <map>
#include <optional>

namespace {

using namespace tunebench;

constexpr const char* kPhaseKey = "sparse_ft.phase";

class SparseAdapter final : public Adapter {
public:
    ~SparseAdapter() override { removeHooks(); }

    void attach(const AdapterSetup& setup) override
    {
        m_denseSteps = setup.params.at("dense_steps").get<std::int64_t>();
        const auto k = setup.params.at("sparsity_k").get<std::int64_t>();
        const double density = setup.params.at("density").get<double>();
        const auto modules = setup.params.at("trainable_modules").get<std::vector<std::string>>();

        std::map<std::string, bool> moduleUsed;
        for (auto& [name, tensor] : setup.model.namedParameters()) {
            bool train = modules.empty();
            for (const auto& m : modules) {
                if (name.find(m) != std::string::npos) {
                    train = true;
                    moduleUsed[m] = true;
                }
            }
            if (train)
                m_params.push_back({ { name, tensor }, tensor.detach().clone(), at::Tensor(), 0, std::nullopt });
        }
        for (const auto& m : modules) {
            if (!moduleUsed[m])
                throw InputError("trainable_modules: no parameter name of this model contains '" + m + "'");
        }
        std::int64_t total = 0;
        for (const auto& p : m_params)
            total += p.param.tensor.numel();
        if (k > total)
            throw InputError("sparsity_k: " + std::to_string(k) + " entries asked for, the chosen parameters hold "
                + std::to_string(total));
        m_k = k > 0 ? k : std::max<std::int64_t>(1, std::llround(density * static_cast<double>(total)));
        enterDense();
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        std::vector<NamedParameter> params;
        for (const auto& p : m_params) {
            if (!m_sparse || p.kept > 0)
                params.push_back(p.param);
        }
        return defaultParameterGroups(params, weightDecay);
    }

    bool afterStep(std::int64_t step) override
    {
        if (!m_sparse) {
            if (step < m_denseSteps)
                return false;
            selectAndReset();
            return true;
        }
        project();
        return false;
    }

    AdapterState state() const override
    {
        if (!m_sparse) {
            std::vector<NamedParameter> params;
            for (const auto& p : m_params)
                params.push_back(p.param);
            return namedState(params);
        }
        at::NoGradGuard noGrad;
        AdapterState out;
        out.emplace_back(kPhaseKey, at::scalar_tensor(1, at::kLong));
        for (const auto& p : m_params) {
            const at::Tensor flat = p.param.tensor.detach().reshape({ -1 });
            const at::Tensor indices = p.mask.reshape({ -1 }).nonzero().reshape({ -1 }); // [k], ascending
            const at::Tensor trained = flat.index_select(0, indices);
            out.emplace_back(p.param.name + ".indices", indices);
            out.emplace_back(p.param.name + ".values", trained - p.theta0.reshape({ -1 }).index_select(0, indices));
            out.emplace_back(p.param.name + ".trained_values", trained);
        }
        return out;
    }

    void restoreState(const AdapterState& state) override
    {
        std::map<std::string, const at::Tensor*> byName;
        for (const auto& [name, tensor] : state)
            byName[name] = &tensor;
        if (!byName.count(kPhaseKey)) {
            std::vector<NamedParameter> params;
            for (const auto& p : m_params)
                params.push_back(p.param);
            restoreNamedState(params, state, "sparse fine-tuning");
            enterDense();
            return;
        }
        auto take = [&](const std::string& name) -> const at::Tensor& {
            auto it = byName.find(name);
            if (it == byName.end())
                throw InputError("sparse fine-tuning state has no tensor '" + name + "'");
            return *it->second;
        };
        // Check everything before changing anything.
        std::vector<at::Tensor> indices;
        std::vector<at::Tensor> values;
        std::int64_t kept = 0;
        for (const auto& p : m_params) {
            const std::string& name = p.param.name;
            const at::Tensor& idx = take(name + ".indices");
            // The exact values when saved by this adapter; else the difference to theta0.
            const bool exact = byName.count(name + ".trained_values") > 0;
            const std::string valueName = name + (exact ? ".trained_values" : ".values");
            const at::Tensor& given = take(valueName);
            if (idx.dim() != 1 || idx.scalar_type() != at::kLong)
                throw InputError("sparse fine-tuning state: '" + name + ".indices' is not a 1-D int64 tensor");
            if (given.dim() != 1 || given.size(0) != idx.size(0))
                throw InputError("sparse fine-tuning state: '" + valueName + "' has shape " + c10::str(given.sizes())
                    + ", expected [" + std::to_string(idx.size(0)) + "]");
            const std::int64_t numel = p.param.tensor.numel();
            if (idx.numel() > 0 && (idx.min().item<std::int64_t>() < 0 || idx.max().item<std::int64_t>() >= numel))
                throw InputError("sparse fine-tuning state: '" + name + ".indices' holds positions outside [0, "
                    + std::to_string(numel) + ")");
            kept += idx.numel();
            at::Tensor onDevice = idx.to(p.param.tensor.device());
            at::Tensor value = given.to(p.param.tensor.device(), p.param.tensor.scalar_type());
            if (!exact)
                value = p.theta0.reshape({ -1 }).index_select(0, onDevice) + value;
            indices.push_back(onDevice);
            values.push_back(value);
        }
        at::NoGradGuard noGrad;
        m_k = kept;
        std::vector<at::Tensor> masks;
        for (std::size_t i = 0; i < m_params.size(); ++i) {
            Param& p = m_params[i];
            at::Tensor mask = at::zeros({ p.param.tensor.numel() }, p.param.tensor.options().dtype(at::kBool));
            mask.index_fill_(0, indices[i], true);
            at::Tensor flat = p.theta0.reshape({ -1 }).clone();
            flat.index_copy_(0, indices[i], values[i]);
            p.param.tensor.copy_(flat.view(p.param.tensor.sizes()));
            masks.push_back(mask.view(p.param.tensor.sizes()));
        }
        enterSparse(masks);
    }

private:
    struct Param {
        NamedParameter param; // the model's tensor, under its HF name
        at::Tensor theta0; // frozen copy of the base values, same shape
        at::Tensor mask; // bool, same shape (sparse phase)
        std::int64_t kept = 0; // entries the mask keeps
        std::optional<unsigned> hook; // gradient mask hook (sparse phase, kept > 0)
    };

    void removeHooks()
    {
        for (auto& p : m_params) {
            if (p.hook) {
                p.param.tensor.remove_hook(*p.hook);
                p.hook.reset();
            }
        }
    }

    void enterDense()
    {
        removeHooks();
        m_sparse = false;
        for (auto& p : m_params) {
            p.mask = at::Tensor();
            p.kept = 0;
            p.param.tensor.requires_grad_(true);
        }
    }

    void enterSparse(const std::vector<at::Tensor>& masks)
    {
        removeHooks();
        m_sparse = true;
        for (std::size_t i = 0; i < m_params.size(); ++i) {
            Param& p = m_params[i];
            p.mask = masks[i];
            p.kept = p.mask.sum().item<std::int64_t>();
            at::Tensor& t = p.param.tensor;
            if (t.grad().defined())
                t.mutable_grad().reset();
            t.requires_grad_(p.kept > 0);
            if (p.kept > 0) {
                const at::Tensor drop = p.mask.logical_not();
                p.hook = t.register_hook([drop](const at::Tensor& grad) { return grad.masked_fill(drop, 0); });
            }
        }
    }

    // The end of the dense phase: keep the top-K entries by |theta1 - theta0|
    // over all chosen tensors, and go back to theta0.
    void selectAndReset()
    {
        at::NoGradGuard noGrad;
        std::vector<at::Tensor> moved;
        for (const auto& p : m_params)
            moved.push_back((p.param.tensor.detach() - p.theta0).abs().reshape({ -1 }).to(at::kFloat));
        const at::Tensor all = at::cat(moved); // [N]
        const at::Tensor top = std::get<1>(at::topk(all, m_k, 0, true, false)); // [K]
        at::Tensor keep = at::zeros_like(all, all.options().dtype(at::kBool));
        keep.index_fill_(0, top, true);
        std::vector<at::Tensor> masks;
        std::int64_t offset = 0;
        for (auto& p : m_params) {
            const std::int64_t n = p.param.tensor.numel();
            masks.push_back(keep.narrow(0, offset, n).view(p.param.tensor.sizes()).clone());
            offset += n;
            p.param.tensor.copy_(p.theta0);
        }
        enterSparse(masks);
    }

    void project()
    {
        at::NoGradGuard noGrad;
        for (auto& p : m_params) {
            if (p.kept > 0)
                p.param.tensor.copy_(at::where(p.mask, p.param.tensor, p.theta0));
        }
    }

    std::vector<Param> m_params;
    std::int64_t m_denseSteps = 0;
    std::int64_t m_k = 0;
    bool m_sparse = false;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "sparse",
    "1.0.0",
    "adapter",
    "Lottery-ticket sparse fine-tuning: a dense phase picks the K entries that moved most, then only those train",
    R"json([
      {"name": "dense_steps", "aliases": ["full_ft_max_steps"], "type": "integer", "default": 100, "minimum": 1,
       "help": "optimiser steps of the dense phase, in which every chosen parameter trains"},
      {"name": "density", "aliases": ["ft_params_proportion"], "type": "number", "default": 0.01, "minimum": 0,
       "maximum": 1, "help": "share of the chosen parameters' entries kept for the sparse phase (when sparsity_k is 0)"},
      {"name": "sparsity_k", "aliases": ["ft_params_num"], "type": "integer", "default": 0, "minimum": 0,
       "help": "number of entries kept for the sparse phase; 0: density decides"},
      {"name": "trainable_modules", "type": "string_list", "default": [],
       "help": "train only parameters whose names contain one of these (mlp, self_attn ...); empty: every parameter"}
    ])json",
    []() -> Adapter* { return new SparseAdapter(); },
    nullptr,
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
