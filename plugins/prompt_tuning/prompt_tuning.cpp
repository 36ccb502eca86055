// Prompt tuning (Lester et al.): n trainable virtual-token embeddings [n, hidden]
// in front of the input embeddings, through CausalLM's input prefix hook (see
// core/model/virtual_tokens.h for positions, masks and caches). The model's
// own weights stay frozen. The tensor is named as PEFT saves it
// (prompt_embeddings [n, hidden]), so export is a copy.
//
// Initialisation (prompt_tuning_init, PEFT's PromptTuningInit):
//   random        N(0, 1), what torch.nn.Embedding (PEFT's RANDOM) starts from;
//   sample_vocab  the embeddings of n random vocabulary ids (PEFT's SAMPLE_VOCAB);
//   text          the embeddings of a text's tokens, cut or repeated to n tokens (PEFT's TEXT).
// The text is encoded with the run's tokenizer, special tokens included, as
// PEFT's tokenizer(prompt_tuning_init_text) does; without a tokenizer (an
// adapter attached outside a training run) give the ids themselves in
// prompt_tuning_init_token_ids.

#include "core/method/named_state.h"
#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/model/virtual_tokens.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <memory>

namespace {

using namespace tunebench;

struct PromptShared {
    bool enabled = true;
};

class PromptHook final : public InputPrefixHook {
public:
    PromptHook(at::Tensor embeddings, std::shared_ptr<const PromptShared> shared)
        : m_embeddings(std::move(embeddings))
        , m_shared(std::move(shared))
    { }

    std::int64_t length() const override { return m_shared->enabled ? m_embeddings.size(0) : 0; }
    at::Tensor embeddings() const override { return m_embeddings; }

    const at::Tensor& tensor() const { return m_embeddings; }

private:
    at::Tensor m_embeddings; // [n, H]
    std::shared_ptr<const PromptShared> m_shared;
};

// The token embedding matrix [V, H] of the architectures Tunebench runs.
at::Tensor tokenEmbeddings(const CausalLM& model)
{
    return model.parameter(
        model.config().architecture == Architecture::Gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight");
}

std::vector<std::int64_t> initialIds(const AdapterSetup& setup)
{
    const auto& p = setup.params;
    auto ids = p.at("prompt_tuning_init_token_ids").get<std::vector<std::int64_t>>();
    const auto text = p.at("prompt_tuning_init_text").get<std::string>();
    if (!ids.empty() && !text.empty())
        throw InputError("prompt_tuning_init_text and prompt_tuning_init_token_ids are both set; give one");
    if (ids.empty() && !text.empty()) {
        if (!setup.encodeText)
            throw InputError("prompt_tuning_init_text: no tokenizer to encode it with here; give the text's token ids "
                             "in prompt_tuning_init_token_ids");
        for (const std::int32_t id : setup.encodeText(text))
            ids.push_back(id);
        if (ids.empty())
            throw InputError("prompt_tuning_init_text: the text encodes to no tokens");
    }
    if (ids.empty())
        throw InputError("prompt_tuning_init: text needs prompt_tuning_init_text (or prompt_tuning_init_token_ids)");
    const std::int64_t vocab = setup.model.config().vocabSize;
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= vocab)
            throw InputError("prompt_tuning_init_token_ids: token id " + std::to_string(id)
                + " is outside the model's vocabulary [0, " + std::to_string(vocab) + ")");
    }
    return ids;
}

class PromptTuningAdapter final : public Adapter {
public:
    // PEFT's PROMPT_TUNING. The embeddings are saved, so PEFT must not initialise them from text again: RANDOM,
    // whatever the run started from (prompt_tuning_init here is how training began, not how to load).
    PeftForm toPeft(const nlohmann::json&, const AdapterState& state, const ModelConfig& model) const override
    {
        const at::Tensor& e = requireStateTensor(state, "prompt_embeddings", "prompt_tuning");
        PeftForm form;
        form.config = { { "num_virtual_tokens", e.size(0) }, { "token_dim", model.hiddenSize },
            { "num_transformer_submodules", 1 }, { "num_attention_heads", model.numHeads },
            { "num_layers", model.numLayers }, { "prompt_tuning_init", "RANDOM" },
            { "prompt_tuning_init_text", nullptr }, { "tokenizer_name_or_path", nullptr },
            { "tokenizer_kwargs", nullptr } };
        form.tensors.emplace_back("prompt_embeddings", e.contiguous());
        return form;
    }

    std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState&) const override
    {
        return nlohmann::json { { "num_virtual_tokens", peftVirtualTokens(folder) }, { "prompt_tuning_init", "random" } };
    }

    void attach(const AdapterSetup& setup) override
    {
        const auto& p = setup.params;
        const auto n = p.at("num_virtual_tokens").get<std::int64_t>();
        const auto init = p.at("prompt_tuning_init").get<std::string>();
        CausalLM& model = setup.model;
        if (model.inputPrefixHook())
            throw InputError("prompt tuning: the model already has virtual input tokens (another adapter's)");
        const at::Tensor embed = tokenEmbeddings(model).detach(); // [V, H]
        const std::int64_t hidden = model.config().hiddenSize;
        at::Generator gen = at::detail::createCPUGenerator(setup.seed);

        at::Tensor weight; // [n, H]
        if (init == "text") {
            const std::vector<std::int64_t> textIds = initialIds(setup);
            // PEFT: cut to n, or repeat the whole text until n tokens are filled.
            std::vector<std::int64_t> ids;
            for (std::size_t i = 0; static_cast<std::int64_t>(ids.size()) < n; ++i)
                ids.push_back(textIds[i % textIds.size()]);
            weight = embed.index_select(0, at::tensor(ids, at::kLong).to(embed.device())).clone();
        } else {
            if (!p.at("prompt_tuning_init_text").get<std::string>().empty()
                || !p.at("prompt_tuning_init_token_ids").empty())
                throw InputError("prompt_tuning_init is " + init
                    + ": prompt_tuning_init_text and prompt_tuning_init_token_ids are only used with "
                      "prompt_tuning_init: text");
            if (init == "sample_vocab") {
                const at::Tensor ids = at::randint(0, embed.size(0), { n }, gen, at::TensorOptions().dtype(at::kLong));
                weight = embed.index_select(0, ids.to(embed.device())).clone();
            } else {
                weight = at::empty({ n, hidden }, at::TensorOptions().dtype(at::kFloat)).normal_(0.0, 1.0, gen);
            }
        }
        weight = weight.to(embed.device(), embed.scalar_type()).detach().requires_grad_(true);
        m_hook = std::make_shared<PromptHook>(weight, m_shared);
        model.setInputPrefixHook(m_hook);
    }

    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return defaultParameterGroups(parameters(), weightDecay);
    }

    // Off: the model reads the input alone, the base model's outputs.
    bool canDisable() const override { return true; }
    void setEnabled(bool enabled) override { m_shared->enabled = enabled; }

    // Nothing to fold: the virtual tokens are extra inputs, not a weight change.
    bool canMerge() const override { return false; }

    AdapterState state() const override { return namedState(parameters()); }
    void restoreState(const AdapterState& state) override { restoreNamedState(parameters(), state, "prompt tuning"); }

private:
    std::vector<NamedParameter> parameters() const { return { { "prompt_embeddings", m_hook->tensor() } }; }

    std::shared_ptr<PromptHook> m_hook;
    std::shared_ptr<PromptShared> m_shared = std::make_shared<PromptShared>();
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "prompt_tuning",
    "1.0.0",
    "adapter",
    "Prompt tuning: trainable virtual-token embeddings in front of the input",
    R"json([
      {"name": "num_virtual_tokens", "type": "integer", "default": 20, "minimum": 1,
       "maximum": 4096, "help": "virtual tokens in front of every sequence (trainable: this times the hidden size)"},
      {"name": "prompt_tuning_init", "type": "choice", "default": "random", "choices": ["random", "sample_vocab", "text"],
       "help": "start from N(0, 1) (random), the embeddings of random vocabulary tokens (sample_vocab), or those of a text's tokens (text)"},
      {"name": "prompt_tuning_init_text", "type": "string", "default": "",
       "help": "with init text: the text, encoded with the run's tokenizer and cut or repeated to num_virtual_tokens"},
      {"name": "prompt_tuning_init_token_ids", "type": "integer_list", "default": [], "minimum": 0,
       "help": "with init text: token ids to start from instead of the text (when no tokenizer is at hand)"}
    ])json",
    []() -> Adapter* { return new PromptTuningAdapter(); },
    nullptr,
    "PROMPT_TUNING",
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
