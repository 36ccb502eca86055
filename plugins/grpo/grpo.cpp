// GRPO (Shao et al., DeepSeekMath; TRL's GRPOTrainer): for each prompt, num_generations completions sampled from
// the policy, scored by the run's reward functions (weighted sum), advantages normalised within each prompt's
// group, and the clipped ratio objective with an optional k3 KL to the reference (core/reward/grpo_loss.h).
// With num_iterations > 1 the completions of a batch are trained on that many steps in a row (the trainer keeps
// the batch, stepsPerBatch), against the log-probabilities of the policy that sampled them; they are kept in the
// checkpoint, so a run resumed between those steps continues exactly.

#include "core/method/plugin_api.h"
#include "core/metrics/diversity.h"
#include "core/model/causal_lm.h"
#include "core/reward/grpo_loss.h"
#include "core/reward/reward_set.h"
#include "core/util/error.h"
#include "core/util/splitmix64.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace {

using namespace tunebench;

// One generation batch: what every iteration on it needs.
struct Rollout {
    std::int64_t generation = -1;
    at::Tensor inputIds; // [N, P + C]: left-padded prompts, right-padded completions
    at::Tensor attentionMask; // [N, P + C]
    at::Tensor completionMask; // [N, C]
    at::Tensor advantages; // [N]
    at::Tensor oldLogProbs; // [N, C] with num_iterations > 1, else undefined
    at::Tensor refLogProbs; // [N, C] with beta > 0, else undefined
    std::int64_t promptLength = 0; // P
    std::map<std::string, double> metrics; // rewards, lengths, diversity
};

at::Tensor textTensor(const std::string& s)
{
    at::Tensor t = at::empty({ static_cast<std::int64_t>(s.size()) }, at::kByte);
    if (!s.empty())
        std::memcpy(t.data_ptr<std::uint8_t>(), s.data(), s.size());
    return t;
}

std::string tensorText(const at::Tensor& t)
{
    const at::Tensor c = t.to(at::kCPU).contiguous();
    return { reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()) };
}

void moveTo(Rollout& r, const at::Device& device)
{
    for (at::Tensor* t :
        { &r.inputIds, &r.attentionMask, &r.completionMask, &r.advantages, &r.oldLogProbs, &r.refLogProbs }) {
        if (t->defined())
            *t = t->to(device);
    }
}

class GrpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_numGenerations = params.at("num_generations");
        m_maxCompletionLength = params.at("max_completion_length");
        m_temperature = params.at("temperature");
        m_topP = params.at("top_p");
        m_topK = params.at("top_k");
        m_stop = params.at("stop").get<std::vector<std::string>>();
        m_numIterations = params.at("num_iterations");
        m_scaleRewards = params.at("scale_rewards");
        m_loss.type = grpoLossTypeFromString(params.at("loss_type").get<std::string>());
        m_loss.epsilonLow = params.at("epsilon");
        const double high = params.at("epsilon_high");
        m_loss.epsilonHigh = high < 0 ? m_loss.epsilonLow : high;
        m_loss.beta = params.at("beta");
        m_loss.maxCompletionLength = m_maxCompletionLength;
        if (m_temperature <= 0)
            throw InputError("temperature: GRPO samples its completions, so it must be above 0");
    }
    ObjectiveData data() const override { return ObjectiveData::Prompts; }
    bool needsReference() const override { return m_loss.beta != 0.0; }
    std::int64_t stepsPerBatch() const override { return m_numIterations; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        if (!batch.rollout || !batch.rollout->rewards)
            throw InputError("objective grpo needs prompt data and the run's reward functions");
        const bool training = batch.step >= 0;
        const std::int64_t generation = training ? batch.step / m_numIterations : -1;
        Rollout local;
        const Rollout* r = &local;
        m_timings.clear();
        if (training) {
            auto it = m_buffer.find(batch.micro);
            if (it == m_buffer.end() || it->second.generation != generation) {
                std::erase_if(m_buffer, [&](const auto& e) { return e.second.generation != generation; });
                it = m_buffer.insert_or_assign(batch.micro, sample(batch, models, generation)).first;
            }
            if (it->second.inputIds.device() != batch.prompts.device) // restored from a checkpoint
                moveTo(it->second, batch.prompts.device);
            r = &it->second;
        } else {
            local = sample(batch, models, generation);
        }

        ForwardInput input;
        input.inputIds = r->inputIds;
        input.attentionMask = r->attentionMask;
        input.outputHiddenStates = true; // the completions' final hidden states give the embedding diversity
        at::Tensor entropy;
        const ForwardOutput policy = models.policy(input);
        const at::Tensor logProbs = completionLogProbs(policy, *r, &entropy);
        const GrpoLoss l = grpoLoss(logProbs, r->oldLogProbs, r->refLogProbs, r->advantages, r->completionMask, m_loss);
        LossOutput out;
        out.loss = l.loss;
        // The trainer weighs micro-batches by tokens: completions for the per-sequence losses (each micro-batch
        // counts alike, as TRL divides by the accumulation steps), completion tokens for DAPO's token mean, so
        // accumulation gives the token mean over the whole step.
        out.tokens = m_loss.type == GrpoLossType::Dapo
            ? std::max<std::int64_t>(1, r->completionMask.sum().item<std::int64_t>())
            : r->completionMask.size(0);
        out.metrics = r->metrics;
        const at::Tensor m = r->completionMask.to(at::kFloat);
        out.metrics["entropy"] = ((entropy * m).sum() / m.sum().clamp_min(1.0)).item<double>();
        // From this pass's final hidden states over the completion tokens: no forward of its own.
        const at::Tensor& finalHidden = policy.finalHidden.defined() ? policy.finalHidden : policy.hiddenStates.back();
        const double embedding = groupEmbeddingDiversity(
            finalHidden.narrow(1, r->promptLength, r->completionMask.size(1)), r->completionMask, m_numGenerations);
        if (embedding >= 0)
            out.metrics["embedding_diversity"] = embedding;
        out.metrics["clip_ratio"] = l.clipRatio;
        out.metrics["clip_ratio/low"] = l.lowClipRatio;
        out.metrics["clip_ratio/high"] = l.highClipRatio;
        if (m_loss.beta != 0.0)
            out.metrics["kl"] = l.kl;
        // Only on the steps that sampled: where the step's time went, and the sampling rate.
        for (const auto& [k, v] : m_timings)
            out.metrics[k] = v;
        return out;
    }

    std::map<std::string, at::Tensor> state() const override
    {
        std::map<std::string, at::Tensor> s;
        for (const auto& [micro, r] : m_buffer) {
            std::string p = std::to_string(micro); // "m<micro>." (built up: GCC 12 misreads "m" + string)
            p.insert(p.begin(), 'm');
            p.push_back('.');
            s[p + "generation"] = at::tensor({ r.generation }, at::kLong);
            s[p + "prompt_length"] = at::tensor({ r.promptLength }, at::kLong);
            s[p + "input_ids"] = r.inputIds.to(at::kCPU);
            s[p + "attention_mask"] = r.attentionMask.to(at::kCPU);
            s[p + "completion_mask"] = r.completionMask.to(at::kCPU);
            s[p + "advantages"] = r.advantages.to(at::kCPU);
            if (r.oldLogProbs.defined())
                s[p + "old_logps"] = r.oldLogProbs.to(at::kCPU);
            if (r.refLogProbs.defined())
                s[p + "ref_logps"] = r.refLogProbs.to(at::kCPU);
            s[p + "metrics"] = textTensor(nlohmann::json(r.metrics).dump());
        }
        return s;
    }

    void restoreState(const std::map<std::string, at::Tensor>& s) override
    {
        m_buffer.clear();
        for (const auto& [key, tensor] : s) {
            const std::string suffix = ".generation";
            if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const std::string p = key.substr(0, key.size() - suffix.size() + 1);
            const std::int64_t micro = std::stoll(p.substr(1, p.size() - 2));
            auto get = [&](const std::string& name) {
                const auto it = s.find(p + name);
                return it == s.end() ? at::Tensor() : it->second;
            };
            Rollout r;
            r.generation = tensor.item<std::int64_t>();
            r.promptLength = get("prompt_length").item<std::int64_t>();
            r.inputIds = get("input_ids");
            r.attentionMask = get("attention_mask");
            r.completionMask = get("completion_mask");
            r.advantages = get("advantages");
            r.oldLogProbs = get("old_logps");
            r.refLogProbs = get("ref_logps");
            r.metrics = nlohmann::json::parse(tensorText(get("metrics"))).get<std::map<std::string, double>>();
            m_buffer[micro] = std::move(r);
        }
    }

private:
    // [N, C] log-probabilities of the completion tokens under the model's output, logits divided by the sampling
    // temperature (as TRL does); the entropy of each of those distributions in *entropy.
    at::Tensor completionLogProbs(const ForwardOutput& out, const Rollout& r, at::Tensor* entropy) const
    {
        const std::int64_t c = r.completionMask.size(1);
        const at::Tensor logits = out.logits.narrow(1, r.promptLength - 1, c).to(at::kFloat) / m_temperature;
        const at::Tensor logp = at::log_softmax(logits, -1); // [N, C, V]
        const at::Tensor targets = r.inputIds.narrow(1, r.promptLength, c).to(logp.device());
        if (entropy) {
            const at::NoGradGuard noGrad;
            *entropy = -(logp.exp() * logp).sum(-1);
        }
        return logp.gather(2, targets.unsqueeze(-1)).squeeze(-1);
    }

    Rollout sample(const ObjectiveBatch& batch, ModelAccess& models, std::int64_t generation)
    {
        const RolloutContext& ctx = *batch.rollout;
        const PromptBatch& pb = batch.prompts;
        const auto prompts = static_cast<std::int64_t>(pb.ids.size());
        const std::int64_t g = m_numGenerations;
        const std::int64_t n = prompts * g;
        std::vector<std::vector<std::int32_t>> repeated;
        repeated.reserve(static_cast<std::size_t>(n));
        for (const auto& ids : pb.ids) {
            for (std::int64_t k = 0; k < g; ++k)
                repeated.push_back(ids);
        }

        // The sampler's seed follows from the run's seed, the generation batch and the micro-batch alone, so a
        // resumed run (same weights, same prompts) samples the same completions.
        SplitMix64 mix(ctx.seed ^ (0x6a09e667f3bcc909ULL * static_cast<std::uint64_t>(generation + 2)));
        for (std::int64_t i = 0; i <= batch.micro; ++i)
            mix.next();
        GenerationOptions o;
        o.maxNewTokens = m_maxCompletionLength;
        o.sample = true;
        o.sampling.temperature = m_temperature;
        o.sampling.topP = m_topP;
        o.sampling.topK = m_topK;
        o.seed = mix.next();
        o.eosTokenIds = ctx.eosTokenIds;
        o.padTokenId = ctx.padTokenId;
        o.stopStrings = m_stop;
        o.decoder = ctx.decode;
        const auto started = std::chrono::steady_clock::now();
        const std::vector<GeneratedSequence> gen = models.generate(repeated, o);
        const auto generated = std::chrono::steady_clock::now();

        // Rewards of each completion's text (without its EOS token).
        RewardSet& rewards = *ctx.rewards;
        std::vector<double> totals(static_cast<std::size_t>(n));
        std::vector<double> perReward(rewards.size(), 0.0);
        std::vector<CompletionRecord> records;
        std::vector<Words> words;
        std::vector<std::string> texts, promptTexts;
        std::vector<const nlohmann::json*> fields;
        std::int64_t longestCompletion = 1, longestPrompt = 0;
        double lengthSum = 0, lengthMin = 1e300, lengthMax = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const auto pi = static_cast<std::size_t>(i / g);
            std::vector<std::int32_t> tokens = gen[static_cast<std::size_t>(i)].tokens;
            const auto length = static_cast<double>(tokens.size());
            lengthSum += length;
            lengthMin = std::min(lengthMin, length);
            lengthMax = std::max(lengthMax, length);
            longestCompletion = std::max<std::int64_t>(longestCompletion, static_cast<std::int64_t>(tokens.size()));
            longestPrompt = std::max<std::int64_t>(longestPrompt, static_cast<std::int64_t>(pb.ids[pi].size()));
            if (gen[static_cast<std::size_t>(i)].reason == FinishReason::Eos && !tokens.empty())
                tokens.pop_back();
            texts.push_back(ctx.decode ? ctx.decode(tokens) : std::string());
            promptTexts.push_back(pb.texts[pi]);
            fields.push_back(&pb.fields[pi]);
            words.push_back(splitWords(texts.back()));
        }
        // All completions of the batch at once: a reward model scores them in batched forward passes.
        const std::vector<std::vector<double>> scores = rewards.scoreBatch(promptTexts, texts, fields);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto ui = static_cast<std::size_t>(i);
            const auto pi = static_cast<std::size_t>(i / g);
            totals[ui] = rewards.total(scores[ui]);
            for (std::size_t k = 0; k < scores[ui].size(); ++k)
                perReward[k] += scores[ui][k] / static_cast<double>(n);
            records.push_back(
                { pb.examples[pi], static_cast<int>(i % g), pb.texts[pi], texts[ui], totals[ui], scores[ui], o.seed });
        }
        const auto scored = std::chrono::steady_clock::now();
        const double generationSeconds = std::chrono::duration<double>(generated - started).count();
        m_timings["time/generation_s"] = generationSeconds;
        m_timings["time/reward_s"] = std::chrono::duration<double>(scored - generated).count();
        m_timings["completions_per_s"] = generationSeconds > 0 ? static_cast<double>(n) / generationSeconds : 0.0;
        if (batch.step >= 0 && ctx.recordCompletions)
            ctx.recordCompletions(batch.step + 1, records);

        Rollout r;
        r.generation = generation;
        const at::Tensor rewardTensor = at::tensor(totals, at::kDouble);
        const GroupAdvantages adv = groupAdvantages(rewardTensor, g, m_scaleRewards);
        r.metrics["reward_mean"] = rewardTensor.mean().item<double>();
        r.metrics["reward_std"] = adv.rewardStd;
        r.metrics["frac_reward_zero_std"] = adv.zeroStdShare;
        for (std::size_t k = 0; k < rewards.size(); ++k)
            r.metrics["rewards/" + rewards.name(k)] = perReward[k];
        r.metrics["completion_length"] = lengthSum / static_cast<double>(n);
        r.metrics["completion_length/min"] = lengthMin;
        r.metrics["completion_length/max"] = lengthMax;
        r.metrics["distinct_1"] = distinctN(words, 1);
        r.metrics["distinct_2"] = distinctN(words, 2);
        // Within each prompt's group, as the groups are what GRPO compares: lower is more diverse.
        r.metrics["self_bleu"] = groupSelfBleu(words, static_cast<std::size_t>(g));

        // Prompts left-padded to P, completions right-padded to C; padding is masked (and never a target).
        const std::int64_t p = longestPrompt, c = longestCompletion;
        const std::int64_t pad = ctx.padTokenId.value_or(ctx.eosTokenIds.empty() ? 0 : ctx.eosTokenIds.front());
        std::vector<std::int64_t> ids(static_cast<std::size_t>(n * (p + c)), pad);
        std::vector<std::int64_t> mask(ids.size(), 0);
        std::vector<float> completionMask(static_cast<std::size_t>(n * c), 0.0f);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto& prompt = pb.ids[static_cast<std::size_t>(i / g)];
            const auto& tokens = gen[static_cast<std::size_t>(i)].tokens;
            const auto row = static_cast<std::size_t>(i * (p + c));
            const std::size_t start = row + static_cast<std::size_t>(p) - prompt.size();
            for (std::size_t t = 0; t < prompt.size(); ++t) {
                ids[start + t] = prompt[t];
                mask[start + t] = 1;
            }
            for (std::size_t t = 0; t < tokens.size(); ++t) {
                ids[row + static_cast<std::size_t>(p) + t] = tokens[t];
                mask[row + static_cast<std::size_t>(p) + t] = 1;
                completionMask[static_cast<std::size_t>(i * c) + t] = 1.0f;
            }
        }
        const at::Device device = pb.device;
        r.inputIds = at::tensor(ids, at::kLong).view({ n, p + c }).to(device);
        r.attentionMask = at::tensor(mask, at::kLong).view({ n, p + c }).to(device);
        r.completionMask = at::tensor(completionMask, at::kFloat).view({ n, c }).to(device);
        r.advantages = adv.advantages.to(at::kFloat).to(device);
        r.promptLength = p;

        ForwardInput input;
        input.inputIds = r.inputIds;
        input.attentionMask = r.attentionMask;
        if (m_numIterations > 1) {
            const at::NoGradGuard noGrad;
            r.oldLogProbs = completionLogProbs(models.policy(input), r, nullptr).detach();
        }
        if (m_loss.beta != 0.0)
            r.refLogProbs = completionLogProbs(models.reference(input), r, nullptr).detach();
        return r;
    }

    std::int64_t m_numGenerations = 4;
    std::int64_t m_maxCompletionLength = 64;
    double m_temperature = 1.0;
    double m_topP = 1.0;
    std::int64_t m_topK = 0;
    std::vector<std::string> m_stop;
    std::int64_t m_numIterations = 1;
    bool m_scaleRewards = true;
    GrpoLossOptions m_loss;
    std::map<std::int64_t, Rollout> m_buffer; // by micro-batch, for the current generation batch
    std::map<std::string, double> m_timings; // of this loss() call's sampling, if it sampled
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "grpo",
    "1.0.0",
    "objective",
    "GRPO: samples completions of prompts, scores them with the run's rewards, and follows the group-normalised "
    "advantages with a clipped ratio objective (Dr. GRPO and DAPO through loss_type)",
    R"json([
      {"name": "num_generations", "type": "integer", "default": 4, "minimum": 2, "maximum": 1024,
       "help": "completions sampled per prompt (the group its advantages are normalised in)"},
      {"name": "max_completion_length", "type": "integer", "default": 64, "minimum": 1, "maximum": 32768,
       "help": "the most tokens a completion may have"},
      {"name": "temperature", "type": "number", "default": 1.0, "minimum": 0.01, "maximum": 10,
       "help": "sampling temperature (the log-probabilities are taken at it too)"},
      {"name": "top_p", "type": "number", "default": 1.0, "minimum": 0.01, "maximum": 1,
       "help": "nucleus sampling: the smallest set of tokens reaching this probability (1: off)"},
      {"name": "top_k", "type": "integer", "default": 0, "minimum": 0, "help": "sample among the k likeliest tokens (0: off)"},
      {"name": "stop", "aliases": ["stop_strings"], "type": "string_list", "default": [],
       "help": "a completion ends once its text holds one of these"},
      {"name": "num_iterations", "type": "integer", "default": 1, "minimum": 1, "maximum": 64,
       "help": "policy updates per batch of completions (mu in the GRPO paper)"},
      {"name": "epsilon", "type": "number", "default": 0.2, "minimum": 0, "maximum": 10,
       "help": "the ratio is clipped to [1 - epsilon, 1 + epsilon_high]"},
      {"name": "epsilon_high", "type": "number", "default": -1, "minimum": -1, "maximum": 10,
       "help": "upper clipping bound (DAPO's clip-higher, e.g. 0.28); negative: the same as epsilon"},
      {"name": "beta", "type": "number", "default": 0.0, "minimum": 0, "maximum": 100,
       "help": "weight of the KL to the reference (k3 estimate); 0 keeps no reference"},
      {"name": "loss_type", "type": "choice", "choices": ["grpo", "dr_grpo", "dapo"], "default": "grpo",
       "help": "grpo: per-completion token mean; dr_grpo: a constant normaliser; dapo: token mean over the batch"},
      {"name": "scale_rewards", "type": "boolean", "default": true,
       "help": "divide advantages by the group's reward std (false: Dr. GRPO)"}
    ])json",
    nullptr,
    []() -> Objective* { return new GrpoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
