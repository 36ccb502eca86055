// Prefix tuning (Li and Liang): per layer, n trainable keys and values in front
// of the attention's own, through CausalLM's attention prefix hook (see
// core/model/virtual_tokens.h: the prefix is a past of length n, used as given,
// and the input's positions start at n, as transformers does with PEFT's
// past_key_values). The model's own weights stay frozen.
//
// Layout, as PEFT's PrefixEncoder: the prefix is one matrix
//   prompt_embeddings [n, layers * 2 * kv_dim], each row [layers, 2, kv_heads, head_dim],
// keys at [l][0] and values at [l][1] (kv_dim = kv_heads * head_dim: PEFT's
// token_dim, the hidden size divided among the key/value heads for
// grouped-query models, see _prepare_prompt_learning_config; for models with a
// free head_dim such as Qwen3, kv_heads * head_dim). PEFT saves the prefix under
// that name and shape, so export is a copy.
//
// With prefix_projection the prefix is reparameterised while training, as
// PEFT's PrefixEncoder does it:
//   prefix = Linear(e -> layers * 2 * kv_dim)(tanh(Linear(kv_dim -> e)(embedding))), embedding [n, kv_dim],
// e = encoder_hidden_size (default kv_dim). Only the projected prefix is the
// method's result (it is what PEFT saves): state() holds it as
// prompt_embeddings, and beside it the embedding and the MLP
// (prompt_encoder.embedding.weight, prompt_encoder.transform.{0,2}.{weight,bias})
// so a checkpoint resumes exactly. A state without the MLP loads with
// prefix_projection false.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/model/virtual_tokens.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <memory>

namespace {

using namespace tunebench;

struct PrefixShared {
    bool enabled = true;
};

struct PrefixShape {
    std::int64_t length = 0; // n
    std::int64_t layers = 0;
    std::int64_t kvHeads = 0;
    std::int64_t headDim = 0;
    std::int64_t kvDim() const { return kvHeads * headDim; }
    std::int64_t width() const { return layers * 2 * kvDim(); } // one row of prompt_embeddings
};

// The trainable tensors: the prefix itself, or the embedding and MLP that project to it.
struct PrefixTensors {
    at::Tensor prefix; // [n, layers * 2 * kv_dim]; without projection
    at::Tensor embedding; // [n, kv_dim]; with projection
    at::Tensor w1; // [e, kv_dim]
    at::Tensor b1; // [e]
    at::Tensor w2; // [layers * 2 * kv_dim, e]
    at::Tensor b2; // [layers * 2 * kv_dim]
    bool projected() const { return embedding.defined(); }
};

class PrefixHook final : public AttentionPrefixHook {
public:
    PrefixHook(PrefixShape shape, PrefixTensors tensors, std::shared_ptr<const PrefixShared> shared)
        : m_shape(shape)
        , m_tensors(std::move(tensors))
        , m_shared(std::move(shared))
    { }

    std::int64_t length() const override { return m_shared->enabled ? m_shape.length : 0; }

    at::Tensor keysValues() const override
    {
        return flatPrefix()
            .view({ m_shape.length, m_shape.layers, 2, m_shape.kvHeads, m_shape.headDim })
            .permute({ 1, 2, 3, 0, 4 }); // [n, L, 2, Hkv, D] -> [L, 2, Hkv, n, D]
    }

    // [n, layers * 2 * kv_dim], PEFT's prompt_embeddings.
    at::Tensor flatPrefix() const
    {
        const PrefixTensors& t = m_tensors;
        if (!t.projected())
            return t.prefix;
        return at::linear(at::tanh(at::linear(t.embedding, t.w1, t.b1)), t.w2, t.b2); // [n, kv] -> [n, e] -> [n, width]
    }

    const PrefixTensors& tensors() const { return m_tensors; }

private:
    PrefixShape m_shape;
    PrefixTensors m_tensors;
    std::shared_ptr<const PrefixShared> m_shared;
};

// What torch.nn.Linear starts from: weight and bias U(-1/sqrt(in), 1/sqrt(in)).
at::Tensor linearInit(std::vector<std::int64_t> shape, std::int64_t in, at::Generator& gen)
{
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    return at::empty(shape, at::TensorOptions().dtype(at::kFloat)).uniform_(-bound, bound, gen);
}

const char* const kPrefix = "prompt_embeddings";
const char* const kEmbedding = "prompt_encoder.embedding.weight";
const char* const kW1 = "prompt_encoder.transform.0.weight";
const char* const kB1 = "prompt_encoder.transform.0.bias";
const char* const kW2 = "prompt_encoder.transform.2.weight";
const char* const kB2 = "prompt_encoder.transform.2.bias";

class PrefixTuningAdapter final : public Adapter {
public:
    // PEFT's PREFIX_TUNING. For grouped-query attention PEFT's _prepare_prompt_learning_config takes token_dim =
    // head_dim * kv heads and num_attention_heads = kv heads; both are written so that the computation leaves them
    // as they are. The projected prefix is what PEFT saves; without the MLP it loads with prefix_projection false.
    PeftForm toPeft(const nlohmann::json&, const AdapterState& state, const ModelConfig& model) const override
    {
        const at::Tensor& e = requireStateTensor(state, kPrefix, "prefix_tuning");
        const std::int64_t tokenDim = model.headDim * model.numKvHeads;
        if (e.dim() != 2 || e.size(1) != model.numLayers * 2 * tokenDim)
            throw InputError("prefix_tuning state: prompt_embeddings should be [n, " + std::to_string(model.numLayers)
                + " * 2 * " + std::to_string(tokenDim) + "] for this base model");
        PeftForm form;
        form.config = { { "num_virtual_tokens", e.size(0) }, { "token_dim", tokenDim },
            { "num_transformer_submodules", 1 }, { "num_attention_heads", model.numKvHeads },
            { "num_layers", model.numLayers }, { "encoder_hidden_size", tokenDim }, { "prefix_projection", false } };
        form.tensors.emplace_back(kPrefix, e.contiguous());
        return form;
    }

    // What PEFT saves is the prefix itself (projected when prefix_projection was on), so it loads plain.
    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState&) const override
    {
        return nlohmann::json { { "num_virtual_tokens", peftVirtualTokens(folder) }, { "prefix_projection", false } };
    }

    void attach(const AdapterSetup& setup) override
    {
        const auto& p = setup.params;
        CausalLM& model = setup.model;
        if (model.attentionPrefixHook())
            throw InputError("prefix tuning: the model already has an attention prefix (another adapter's)");
        const ModelConfig& c = model.config();
        PrefixShape shape { p.at("num_virtual_tokens").get<std::int64_t>(), c.numLayers, c.numKvHeads, c.headDim };
        const bool projection = p.at("prefix_projection").get<bool>();
        const bool zero = p.at("init_weights").get<std::string>() == "zero";
        const auto encoderHidden = p.at("encoder_hidden_size").get<std::int64_t>();
        if (encoderHidden > 0 && !projection)
            throw InputError("encoder_hidden_size is the size of the reparameterisation MLP: it needs "
                             "prefix_projection: true");
        const std::int64_t e = encoderHidden > 0 ? encoderHidden : shape.kvDim();
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);
        const auto floats = at::TensorOptions().dtype(at::kFloat);

        PrefixTensors t;
        if (!projection) {
            // torch.nn.Embedding's N(0, 1), or zeros.
            t.prefix = zero ? at::zeros({ shape.length, shape.width() }, floats)
                            : at::empty({ shape.length, shape.width() }, floats).normal_(0.0, 1.0, gen);
        } else {
            t.embedding = at::empty({ shape.length, shape.kvDim() }, floats).normal_(0.0, 1.0, gen);
            t.w1 = linearInit({ e, shape.kvDim() }, shape.kvDim(), gen);
            t.b1 = linearInit({ e }, shape.kvDim(), gen);
            t.w2 = zero ? at::zeros({ shape.width(), e }, floats) : linearInit({ shape.width(), e }, e, gen);
            t.b2 = zero ? at::zeros({ shape.width() }, floats) : linearInit({ shape.width() }, e, gen);
        }
        // In the model's device and dtype, as the other adapters keep theirs.
        for (at::Tensor* x : { &t.prefix, &t.embedding, &t.w1, &t.b1, &t.w2, &t.b2 }) {
            if (x->defined())
                *x = x->to(model.device(), model.dtype()).detach().requires_grad_(true);
        }
        m_hook = std::make_shared<PrefixHook>(shape, std::move(t), m_shared);
        model.setAttentionPrefixHook(m_hook);
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return defaultParameterGroups(parameters(), weightDecay);
    }

    // Off: no prefix, the base model's outputs.
    bool canDisable() const override { return true; }
    void setEnabled(bool enabled) override { m_shared->enabled = enabled; }

    // Nothing to fold: the prefix is extra keys and values, not a weight change.
    bool canMerge() const override { return false; }

    // The prefix as PEFT saves it (prompt_embeddings); with projection also
    // the embedding and MLP that produce it, to resume training exactly.
    AdapterState state() const override
    {
        if (!m_hook->tensors().projected())
            return namedState(parameters());
        at::NoGradGuard noGrad;
        AdapterState out { { kPrefix, m_hook->flatPrefix().detach() } };
        for (auto& [name, tensor] : namedState(parameters()))
            out.emplace_back(std::move(name), std::move(tensor));
        return out;
    }

    // Without projection only prompt_embeddings is read (a projected run's
    // state loads too: its prefix is the projected one). With projection the
    // embedding and MLP are needed; prompt_embeddings, derived from them, is
    // ignored.
    void restoreState(const AdapterState& state) override
    {
        if (m_hook->tensors().projected()) {
            bool hasMlp = false;
            for (const auto& entry : state)
                hasMlp = hasMlp || entry.first == kEmbedding;
            if (!hasMlp)
                throw InputError(std::string("prefix tuning state has no tensor '") + kEmbedding
                    + "': a prefix saved without its reparameterisation MLP loads with prefix_projection: false");
        }
        restoreNamedState(parameters(), state, "prefix tuning");
    }

private:
    std::vector<NamedParameter> parameters() const
    {
        const PrefixTensors& t = m_hook->tensors();
        if (!t.projected())
            return { { kPrefix, t.prefix } };
        return { { kEmbedding, t.embedding }, { kW1, t.w1 }, { kB1, t.b1 }, { kW2, t.w2 }, { kB2, t.b2 } };
    }

    std::shared_ptr<PrefixHook> m_hook;
    std::shared_ptr<PrefixShared> m_shared = std::make_shared<PrefixShared>();
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "prefix_tuning",
    "1.0.0",
    "adapter",
    "Prefix tuning: trainable keys and values in front of every layer's attention",
    R"json([
      {"name": "num_virtual_tokens", "aliases": ["pre_seq_len"], "type": "integer", "default": 20, "minimum": 1,
       "maximum": 4096, "help": "prefix length: keys and values per layer (trainable: this times layers times 2 times the key/value width)"},
      {"name": "prefix_projection", "type": "boolean", "default": false,
       "help": "train the prefix through a two-layer MLP (embedding -> Linear -> tanh -> Linear); only the projected prefix is kept"},
      {"name": "encoder_hidden_size", "type": "integer", "default": 0, "minimum": 0, "maximum": 1048576,
       "help": "hidden size of the prefix_projection MLP; 0: the key/value width (PEFT's default)"},
      {"name": "init_weights", "type": "choice", "default": "random", "choices": ["random", "zero"],
       "help": "start from N(0, 1) (random), or with zero keys and values (zero; with projection the MLP's last layer is zero)"}
    ])json",
    []() -> Adapter* { return new PrefixTuningAdapter(); },
    nullptr,
    "PREFIX_TUNING",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
