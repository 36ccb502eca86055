// Half Fine-Tuning (Hui et al., "HFT: Half Fine-Tuning for Large Language
// Models"): in each stage (an epoch) a random half of the weight matrices of
// every transformer layer trains and the other half stays frozen, so part of
// what the model knew is kept; the halves are drawn again each stage. The draw
// is per layer and per kind: half of the attention projections (q/k/v/o;
// GPT-2's c_attn and attn.c_proj) and half of the MLP projections
// (gate/up/down; GPT-2's c_fc and mlp.c_proj). A matrix trains together with
// its bias. Where half a kind is not a whole number of matrices (the Llama
// MLP's three), the count is rounded up or down at random with the odds that
// keep the expected share at hft_ratio; at least one matrix of each kind
// trains in every layer, so a small ratio never leaves a stage with nothing.
//
// The paper's selection is over these per-layer matrices; embeddings, norms and
// the head are outside it. They stay frozen by default (other_parameters:
// frozen), which keeps the base model's vocabulary and normalisation as they
// are; other_parameters: trainable trains them in every stage.
//
// The draw depends only on the run's seed and the stage, so a resumed run
// draws the same halves. parameterGroups() lists every candidate, frozen or
// not, so the optimiser is built once and keeps its moments across stages; a
// frozen matrix gets no gradient, and the optimisers skip parameters without
// one entirely (no weight decay either), so it stays bit for bit.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/util/error.h"
#include "core/util/splitmix64.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

namespace {

using namespace tunebench;

// The transformer layer a module belongs to ("model.layers.3." or
// "transformer.h.3."), or -1 outside the layers.
std::int64_t layerOf(const std::string& name)
{
    static const std::regex kLayer(R"((?:^|\.)(?:layers|h)\.(\d+)\.)");
    std::smatch m;
    if (std::regex_search(name, m, kLayer))
        return std::stoll(m[1].str());
    return -1;
}

class HftAdapter final : public Adapter {
public:
    void attach(const AdapterSetup& setup) override
    {
        m_ratio = setup.params.at("hft_ratio").get<double>();
        const bool trainOthers = setup.params.at("other_parameters").get<std::string>() == "trainable";
        m_seed = setup.seed;

        std::set<std::string> inCandidates;
        std::map<std::pair<std::int64_t, int>, std::vector<std::size_t>> byGroup;
        for (Linear* layer : setup.model.linears()) {
            const std::int64_t index = layerOf(layer->name());
            if (index < 0)
                continue; // lm_head
            Candidate c;
            c.module = layer->name();
            c.weight = layer->weight();
            if (layer->hasBias())
                c.bias = layer->bias();
            const int kind = layer->name().find(".mlp.") != std::string::npos ? kMlp : kAttention;
            byGroup[{ index, kind }].push_back(m_candidates.size());
            m_candidates.push_back(std::move(c));
            inCandidates.insert(layer->name() + ".weight");
            inCandidates.insert(layer->name() + ".bias");
        }
        if (m_candidates.empty())
            throw InputError("hft: this model has no transformer layers with linear projections to train");
        for (auto& [key, members] : byGroup)
            m_groups.push_back(std::move(members));

        for (const auto& c : m_candidates) {
            m_listed.push_back({ c.module + ".weight", c.weight });
            if (c.bias.defined())
                m_listed.push_back({ c.module + ".bias", c.bias });
        }
        if (trainOthers) {
            for (auto& [name, tensor] : setup.model.namedParameters()) {
                if (inCandidates.count(name))
                    continue;
                tensor.requires_grad_(true);
                m_listed.push_back({ name, tensor });
            }
        }
        beginStage(0);
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return defaultParameterGroups(m_listed, weightDecay);
    }

    void beginStage(std::int64_t stage) override
    {
        const std::vector<bool> train = draw(stage);
        for (std::size_t i = 0; i < m_candidates.size(); ++i) {
            for (const at::Tensor* t : { &m_candidates[i].weight, &m_candidates[i].bias }) {
                if (!t->defined())
                    continue;
                at::Tensor tensor = *t;
                if (!train[i] && tensor.grad().defined())
                    tensor.mutable_grad().reset();
                tensor.requires_grad_(train[i]);
            }
        }
    }

    AdapterState state() const override { return namedState(m_listed); }
    void restoreState(const AdapterState& state) override { restoreNamedState(m_listed, state, "HFT"); }

private:
    static constexpr int kAttention = 0;
    static constexpr int kMlp = 1;

    struct Candidate {
        std::string module;
        at::Tensor weight; // the model's own tensors
        at::Tensor bias; // undefined without a bias
    };

    // Which candidates train in this stage: per layer and kind, a uniformly
    // random subset of max(1, round(ratio * n)) matrices (randomly rounded).
    std::vector<bool> draw(std::int64_t stage) const
    {
        SplitMix64 rng(m_seed ^ (0xd1b54a32d192ed03ULL * (static_cast<std::uint64_t>(stage) + 1)));
        rng.next(); // decorrelate neighbouring seeds
        std::vector<bool> train(m_candidates.size(), false);
        for (const auto& members : m_groups) {
            const double exact = m_ratio * static_cast<double>(members.size());
            auto count = static_cast<std::size_t>(std::floor(exact + 1e-9));
            const double fraction = exact - static_cast<double>(count);
            if (fraction > 1e-9 && rng.unit() < fraction)
                ++count;
            count = std::clamp<std::size_t>(count, 1, members.size());
            std::vector<std::size_t> order = members;
            for (std::size_t i = 0; i < count; ++i) { // partial Fisher-Yates
                // Uniform in [i, size): the modulo bias is below 2^-40 for the counts here.
                const std::size_t j = i + static_cast<std::size_t>(rng.next() % (order.size() - i));
                std::swap(order[i], order[j]);
                train[order[i]] = true;
            }
        }
        return train;
    }

    double m_ratio = 0.5;
    std::uint64_t m_seed = 0;
    std::vector<Candidate> m_candidates;
    std::vector<std::vector<std::size_t>> m_groups; // candidate indices per (layer, kind), in layer order
    std::vector<NamedParameter> m_listed; // every tensor HFT may train, under its HF name
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "hft",
    "1.0.0",
    "adapter",
    "Half Fine-Tuning: each epoch a random half of every layer's attention and MLP matrices trains, the rest is frozen",
    R"json([
      {"name": "hft_ratio", "aliases": ["half_ratio"], "type": "number", "default": 0.5, "minimum": 0.01, "maximum": 1,
       "help": "share of each layer's attention and of its MLP matrices that trains in a stage (drawn again each epoch; at least one of each)"},
      {"name": "other_parameters", "type": "choice", "choices": ["frozen", "trainable"], "default": "frozen",
       "help": "embeddings, norms and the head: frozen (as the base model), or trained in every stage"}
    ])json",
    []() -> Adapter* { return new HftAdapter(); },
    nullptr,
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
