// Chain of LoRA (Xia et al., COLA): train a LoRA, merge it into the weight,
// start a fresh LoRA, and repeat, k links in all:
//   h = W0 x + bias + s sum_{j < n} B_j A_j x + s B_n A_n dropout(x),
// where n is the link in training and s = alpha / r (or alpha / sqrt(r)).
//
// Every chain_link_steps optimiser steps (afterStep), while fewer than
// chain_links links have started, the current link is folded: its A and B are
// copied into the frozen list, A is drawn afresh (Kaiming-uniform from a CPU
// generator seeded with seed + link index, so reruns and resumed runs draw the
// same values; link 0 is exactly what the lora plugin draws) and B is zeroed,
// so the outputs do not change at the fold. The trainer then builds a fresh
// optimiser, as COLA does at each link.
//
// The model's weights are never written while training: "merge into W" is a
// frozen copy of each finished link inside the hook, so frozen base parameters
// stay bit for bit and the adapter can be switched off. Keeping the links as
// low-rank factors (rather than one dense frozen delta) costs r (in + out)
// values per link instead of in x out, and evaluates the frozen links in the
// same order before and after a fold, so folding changes no output bit.
// merge() folds every link into the base weights.
//
// State (checkpoints and export):
//   base_model.model.<module>.lora_A.weight, .lora_B.weight   the link in training (PEFT's names)
//   base_model.model.<module>.chain.<j>.lora_A.weight, ...B   finished link j, frozen
//   chain_of_lora.link                                        n, int64 scalar
// That is all that determines the steps to come (the next link's A depends on
// the seed and its index only). The chain together is one LoRA of rank r (n + 1)
// with A = [A_0; ...; A_n] [r (n+1), in] and B = [B_0, ..., B_n] [out, r (n+1)],
// and lora_alpha = alpha (n + 1) for PEFT's alpha / rank scale to stay s.

#include "core/method/plugin_api.h"
#include "core/util/error.h"
#include "plugins/lora_common/lora_common.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <map>
#include <memory>

namespace {

using namespace tunebench;
using namespace tunebench::lora;

constexpr const char* kLinkKey = "chain_of_lora.link";

class ChainHook final : public LowRankHook {
public:
    using LowRankHook::LowRankHook;

    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override
    {
        at::Tensor out = baseForward(layer, x); // [..., out]
        if (!enabled())
            return out;
        // Finished links stand for updates merged into the weight: no dropout.
        for (std::size_t j = 0; j < m_frozenA.size(); ++j)
            out = out + lowRank(x, m_frozenA[j], m_frozenB[j]) * scale();
        return out + lowRank(trainingDropout(x, dropout()), m_a, m_b) * scale();
    }

    // Freezes a copy of the current link and starts the next from newA [r, in] and B = 0.
    void fold(const at::Tensor& newA)
    {
        at::NoGradGuard noGrad;
        m_frozenA.push_back(m_a.detach().clone());
        m_frozenB.push_back(m_b.detach().clone());
        m_a.copy_(newA);
        m_b.zero_();
        m_a.mutable_grad().reset();
        m_b.mutable_grad().reset();
    }

    // B_0 A_0 + ... + B_n A_n [out, in], without the scale.
    at::Tensor delta() const
    {
        at::Tensor sum = at::matmul(m_b, m_a).detach();
        for (std::size_t j = 0; j < m_frozenA.size(); ++j)
            sum += at::matmul(m_frozenB[j], m_frozenA[j]);
        return sum;
    }

    const std::vector<at::Tensor>& frozenA() const { return m_frozenA; }
    const std::vector<at::Tensor>& frozenB() const { return m_frozenB; }
    void setFrozen(std::vector<at::Tensor> a, std::vector<at::Tensor> b)
    {
        m_frozenA = std::move(a);
        m_frozenB = std::move(b);
    }

private:
    // m_a, m_b: the link in training.
    std::vector<at::Tensor> m_frozenA; // finished links, [r, in] each
    std::vector<at::Tensor> m_frozenB; // [out, r] each
};

class ChainOfLoraAdapter final : public LowRankAdapter<ChainHook> {
public:
    ChainOfLoraAdapter()
        : LowRankAdapter("chain_of_lora")
    { }

    // s sum_j B_j A_j = s [B_0 ... B_n] [A_0; ...; A_n]: the finished links and the one in training side by side,
    // one LoRA of rank r times the links so far (exported, never imported back: a LORA folder is the lora plugin's).
    PeftForm toPeft(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model) const override
    {
        return peftForm(
            params, state, model, "chain_of_lora", false, [](const std::string& module, const AdapterState& st) {
                std::vector<at::Tensor> as, bs;
                for (std::size_t j = 0;; ++j) {
                    const at::Tensor* a = findStateTensor(st, frozenName(module, j, 'A'));
                    if (!a)
                        break;
                    as.push_back(*a);
                    bs.push_back(requireStateTensor(st, frozenName(module, j, 'B'), "chain_of_lora"));
                }
                as.push_back(requireStateTensor(st, peftPrefix(module) + ".lora_A.weight", "chain_of_lora"));
                bs.push_back(requireStateTensor(st, peftPrefix(module) + ".lora_B.weight", "chain_of_lora"));
                return LayerFactors { at::cat(as, 0), at::cat(bs, 1), {} };
            });
    }

    void attach(const AdapterSetup& setup) override
    {
        const LoraParams p = readParams(setup.params);
        m_r = p.r;
        m_links = setup.params.at("chain_links").get<std::int64_t>();
        m_linkSteps = setup.params.at("chain_link_steps").get<std::int64_t>();
        m_seed = setup.seed;
        m_model = &setup.model;
        at::Generator gen = at::detail::createCPUGenerator(linkSeed(0));
        for (Linear* layer : targetedLayers(setup.model, p.targets)) {
            auto [a, b] = freshFactors(*layer, p.r, gen);
            addLayer(*layer, std::make_shared<ChainHook>(a, b, p.scale, p.dropout, m_on));
        }
        // Links fold into the hook's frozen update, never into W0, so W0 can stay quantised the whole run.
        quantizeBases(p.quantizeBase);
    }

    bool afterStep(std::int64_t step) override
    {
        if (step % m_linkSteps != 0 || m_link + 1 >= m_links)
            return false;
        ++m_link;
        at::Generator gen = at::detail::createCPUGenerator(linkSeed(m_link));
        for (const auto& l : m_layers) {
            const Linear& layer = *m_model->linear(l.module);
            l.hook->fold(kaimingUniformA(m_r, layer.inFeatures(), layer.weight().options(), gen));
        }
        return true;
    }

    // The trained link (parameterGroups: finished links are frozen), the finished links, and which link trains.
    AdapterState state() const override
    {
        AdapterState out = LowRankAdapter::state();
        out.emplace_back(kLinkKey, at::scalar_tensor(m_link, at::kLong));
        return out;
    }

    void restoreState(const AdapterState& state) override
    {
        std::map<std::string, const at::Tensor*> byName;
        for (const auto& [name, tensor] : state)
            byName[name] = &tensor;
        auto it = byName.find(kLinkKey);
        if (it == byName.end())
            throw InputError(std::string("chain_of_lora state has no tensor '") + kLinkKey + "'");
        if (it->second->numel() != 1 || it->second->is_floating_point())
            throw InputError(std::string("chain_of_lora state: '") + kLinkKey + "' is not one whole number");
        const std::int64_t link = it->second->item<std::int64_t>();
        if (link < 0 || link >= m_links)
            throw InputError("chain_of_lora state: it trains link " + std::to_string(link) + ", but chain_links is "
                + std::to_string(m_links));

        // Check everything before changing anything.
        auto take = [&](const std::string& name, const at::Tensor& like) {
            auto t = byName.find(name);
            if (t == byName.end())
                throw InputError("chain_of_lora state has no tensor '" + name + "'");
            if (t->second->sizes() != like.sizes())
                throw InputError("chain_of_lora state: '" + name + "' has shape " + c10::str(t->second->sizes())
                    + ", expected " + c10::str(like.sizes()));
            return t->second->detach().to(like.device(), like.scalar_type(), false, true);
        };
        std::vector<std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>>> frozen;
        for (const auto& l : m_layers) {
            std::vector<at::Tensor> as, bs;
            for (std::int64_t j = 0; j < link; ++j) {
                as.push_back(take(frozenName(l.module, static_cast<std::size_t>(j), 'A'), l.hook->a()));
                bs.push_back(take(frozenName(l.module, static_cast<std::size_t>(j), 'B'), l.hook->b()));
            }
            frozen.emplace_back(std::move(as), std::move(bs));
        }
        restoreNamedState(trainedTensors(), state, "chain_of_lora");
        for (std::size_t i = 0; i < m_layers.size(); ++i)
            m_layers[i].hook->setFrozen(std::move(frozen[i].first), std::move(frozen[i].second));
        m_link = link;
    }

private:
    std::uint64_t linkSeed(std::int64_t link) const { return m_seed + static_cast<std::uint64_t>(link); }

    void addFrozen(const Entry& l, std::vector<NamedParameter>& out) const override
    {
        for (std::size_t j = 0; j < l.hook->frozenA().size(); ++j) {
            out.push_back({ frozenName(l.module, j, 'A'), l.hook->frozenA()[j] });
            out.push_back({ frozenName(l.module, j, 'B'), l.hook->frozenB()[j] });
        }
    }

    // W0 [out, in] += s sum_j B_j A_j.
    void fold(Linear& layer, const ChainHook& hook) const override
    {
        layer.weightOutIn().add_(hook.delta() * hook.scale());
    }

    static std::string frozenName(const std::string& module, std::size_t link, char factor)
    {
        return peftPrefix(module) + ".chain." + std::to_string(link) + ".lora_" + factor + ".weight";
    }

    std::int64_t m_r = 0;
    std::int64_t m_links = 1; // k
    std::int64_t m_linkSteps = 1;
    std::int64_t m_link = 0; // the link in training, 0 .. k - 1
    std::uint64_t m_seed = 0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "chain_of_lora",
    "1.0.0",
    "adapter",
    "Chain of LoRA: LoRA links trained one after another, each folded in before the next starts",
    R"json([
      {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1, "maximum": 65536,
       "help": "rank of each link"},
      {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0, "help": "scale numerator (scale = alpha / r)"},
      {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
       "help": "dropout on the layer input of the link in training"},
      {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"],
       "help": "linear layers to adapt, by name (q_proj, c_attn ...) or all-linear"},
      {"name": "use_rslora", "type": "boolean", "default": false, "help": "scale by alpha / sqrt(r) (rank-stabilised LoRA)"},
      {"name": "chain_links", "type": "integer", "default": 3, "minimum": 1, "maximum": 10000,
       "help": "number of links k: LoRAs trained one after another, each folded into the frozen update"},
      {"name": "chain_link_steps", "type": "integer", "default": 100, "minimum": 1,
       "help": "optimiser steps per link; the last link trains until the run ends"},
    )json" TUNEBENCH_LORA_QUANTIZE_BASE_SCHEMA R"json(
    ])json",
    []() -> Adapter* { return new ChainOfLoraAdapter(); },
    nullptr,
    "LORA",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
