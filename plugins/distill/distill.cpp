// Knowledge distillation (Hinton et al. 2015; on-policy as in GKD, Agarwal et al. 2024): the student (the
// trained model) is pulled towards a frozen teacher's next-token distribution on the completion tokens
// (labels != -100), position t of both models predicting token t + 1.
//
// With p_T = softmax(teacher logits / temperature), p_S the same for the student and
// M = beta p_T + (1 - beta) p_S, the generalised JSD of GKD per position is
//     beta KL(p_T || M) + (1 - beta) KL(p_S || M),
// whose limits are taken exactly: beta 0 is the forward KL(p_T || p_S), beta 1 the reverse KL(p_S || p_T)
// (the two ends as TRL's generalized_jsd_loss defines them). `loss: forward_kl | reverse_kl` pick those
// ends, `jsd` uses `beta`. The divergence is averaged over completion tokens (no temperature^2 factor, as
// GKD) and mixed with the SFT cross-entropy: loss = alpha divergence + (1 - alpha) CE.
//
// on_policy_ratio: the share of batches whose completions the student samples itself (from the batch's
// prompts, at `temperature`, up to max_new_tokens); the coin and the sampler's seed come from the run's
// CPU generator, which the run seeds and its checkpoints restore. Evaluation batches draw the coin too, so with
// on_policy_ratio > 0 the eval loss mixes both kinds of completion.
//
// teacher_top_k: k > 0 keeps of the teacher only its k most likely next tokens per position, and both
// distributions are taken over those k tokens (each renormalised there) before the divergence; k at least the
// vocabulary is the full loss. The teacher then runs once per example, on that example alone (its real tokens, as
// one row), and its top k (ids, log-probs at the temperature, and its log-prob of the next token for teacher_loss)
// are kept in memory by the example's tokens, so an example seen again (later epochs, evaluation) costs no
// teacher forward; 8 k + 4 bytes per position. Computing each example alone makes the numbers independent of the
// batch it came in, so a resumed run (whose cache starts empty) computes exactly what the straight run does.
// Completions sampled on-policy are scored the same way but not kept.
//
// Logged per step: divergence, student_loss and teacher_loss (cross-entropy of each model on the batch's
// completion tokens), teacher_student_gap (student_loss - teacher_loss) and on_policy (0 or 1); with
// teacher_top_k also teacher_cached (the share of the batch's rows whose teacher came from the cache).

#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace {

using namespace tunebench;

// Per position divergence [..] summed over the vocabulary, from log-probs [.., V] (float32).
at::Tensor generalizedJsd(const at::Tensor& studentLogp, const at::Tensor& teacherLogp, double beta)
{
    // KL(a || b) with log-probs: sum exp(a) (a - b).
    auto kl = [](const at::Tensor& a, const at::Tensor& b) { return (a.exp() * (a - b)).sum(-1); };
    if (beta <= 0.0)
        return kl(teacherLogp, studentLogp);
    if (beta >= 1.0)
        return kl(studentLogp, teacherLogp);
    const at::Tensor mixture
        = at::logsumexp(at::stack({ teacherLogp + std::log(beta), studentLogp + std::log1p(-beta) }), 0); // log M
    return beta * kl(teacherLogp, mixture) + (1.0 - beta) * kl(studentLogp, mixture);
}

// The teacher's top k at each position of one example but its last: ids int32 [n - 1, k], log-probs at the
// temperature float32 [n - 1, k], and the log-prob (temperature 1) of the token that follows, float32 [n - 1].
struct TeacherTopK {
    std::vector<std::int64_t> example; // what it was keyed by, compared on a hit (no collision is trusted)
    at::Tensor ids;
    at::Tensor logp;
    at::Tensor nextLogp;
};

// FNV-1a over an example's real tokens (and its segment and position ids when the batch has them).
std::uint64_t exampleKey(const std::vector<std::int64_t>& values)
{
    std::uint64_t h = 1469598103934665603ULL;
    for (const std::int64_t v : values) {
        auto u = static_cast<std::uint64_t>(v);
        for (int i = 0; i < 8; ++i, u >>= 8) {
            h ^= u & 0xff;
            h *= 1099511628211ULL;
        }
    }
    return h;
}

class DistillObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_teacher = params.at("teacher");
        if (m_teacher.empty())
            throw InputError("teacher: objective 'distill' needs the teacher's model folder (same tokenizer as the "
                             "trained model)");
        const std::string loss = params.at("loss");
        m_beta = loss == "forward_kl" ? 0.0 : loss == "reverse_kl" ? 1.0 : params.at("beta").get<double>();
        m_temperature = params.at("temperature");
        m_alpha = params.at("alpha");
        m_onPolicyRatio = params.at("on_policy_ratio");
        m_maxNewTokens = params.at("max_new_tokens");
        m_topK = params.at("teacher_top_k");
    }
    ObjectiveData data() const override { return ObjectiveData::Sequences; }
    std::string teacherModel() const override { return m_teacher; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        bool onPolicy = false;
        if (m_onPolicyRatio > 0)
            onPolicy = at::rand({ 1 }, at::kDouble).item<double>() < m_onPolicyRatio;
        const TokenBatch b = onPolicy ? sampled(batch.sequences, models) : batch.sequences;
        ForwardInput input;
        input.inputIds = b.inputIds;
        input.attentionMask = b.attentionMask;
        input.segmentIds = b.segmentIds;
        input.positionIds = b.positionIds;
        const at::Tensor student = models.policy(input).logits; // [B, T, V]
        const std::int64_t steps = student.size(1) - 1;
        const at::Tensor s = student.narrow(1, 0, steps).to(at::kFloat); // [B, T-1, V]
        const at::Tensor labels = b.labels.narrow(1, 1, steps); // [B, T-1]
        const at::Tensor mask = labels.ne(-100);
        LossOutput out;
        out.tokens = mask.sum().item<std::int64_t>();
        if (out.tokens == 0) {
            out.loss = student.sum() * 0.0;
            return out;
        }
        const at::Tensor flatLabels = labels.reshape({ -1 });
        const std::int64_t vocab = s.size(-1);
        at::Tensor divergence;
        double teacherCe = 0;
        double cached = 0;
        if (m_topK > 0) {
            const TopKBatch top = teacherTopK(b, models, !onPolicy, steps);
            const at::Tensor ids = top.ids.to(s.device());
            // Both distributions over the teacher's k tokens, each renormalised there.
            const at::Tensor studentK = at::log_softmax(s.gather(-1, ids) / m_temperature, -1);
            const at::Tensor teacherK = at::log_softmax(top.logp.to(s.device()), -1);
            divergence = generalizedJsd(studentK, teacherK, m_beta).masked_select(mask).mean();
            teacherCe = -top.nextLogp.to(s.device()).masked_select(mask).mean().item<double>();
            cached = top.cachedShare;
        } else {
            const at::Tensor t = models.teacher(input).logits.narrow(1, 0, steps).to(at::kFloat);
            divergence
                = generalizedJsd(at::log_softmax(s / m_temperature, -1), at::log_softmax(t / m_temperature, -1), m_beta)
                      .masked_select(mask)
                      .mean();
            teacherCe = at::cross_entropy_loss(t.reshape({ -1, vocab }), flatLabels, {}, at::Reduction::Mean, -100)
                            .item<double>();
        }
        const at::Tensor studentCe
            = at::cross_entropy_loss(s.reshape({ -1, vocab }), flatLabels, {}, at::Reduction::Mean, -100);
        out.loss = m_alpha >= 1.0 ? divergence : m_alpha * divergence + (1.0 - m_alpha) * studentCe;
        out.metrics = { { "divergence", divergence.item<double>() }, { "student_loss", studentCe.item<double>() },
            { "teacher_loss", teacherCe }, { "teacher_student_gap", studentCe.item<double>() - teacherCe },
            { "on_policy", onPolicy ? 1.0 : 0.0 } };
        if (m_topK > 0)
            out.metrics["teacher_cached"] = cached;
        return out;
    }

private:
    // The teacher's top k laid out like the batch: ids int64 [B, T-1, k], log-probs [B, T-1, k] and the next
    // token's log-prob [B, T-1], position t of row r from the example's own forward (positions of padding and the
    // row's last real token hold zeros; the loss masks them).
    struct TopKBatch {
        at::Tensor ids;
        at::Tensor logp;
        at::Tensor nextLogp;
        double cachedShare = 0;
    };

    TopKBatch teacherTopK(const TokenBatch& b, ModelAccess& models, bool keep, std::int64_t steps)
    {
        const at::Tensor ids = b.inputIds.to(at::kCPU).to(at::kLong).contiguous();
        const std::int64_t rows = ids.size(0);
        const at::Tensor attention
            = b.attentionMask.defined() ? b.attentionMask.to(at::kCPU).to(at::kLong) : at::ones_like(ids);
        const at::Tensor segments = b.segmentIds.defined() ? b.segmentIds.to(at::kCPU).to(at::kLong) : at::Tensor();
        const at::Tensor positions = b.positionIds.defined() ? b.positionIds.to(at::kCPU).to(at::kLong) : at::Tensor();
        std::vector<const TeacherTopK*> perRow(static_cast<std::size_t>(rows));
        std::vector<TeacherTopK> fresh; // rows not kept (on-policy completions)
        fresh.reserve(static_cast<std::size_t>(rows));
        std::vector<at::Tensor> realPositions(static_cast<std::size_t>(rows));
        int hits = 0;
        std::int64_t k = 1;
        for (std::int64_t r = 0; r < rows; ++r) {
            const at::Tensor real = attention[r].nonzero().reshape({ -1 });
            realPositions[static_cast<std::size_t>(r)] = real;
            const at::Tensor rowIds = ids[r].index_select(0, real);
            std::vector<std::int64_t> keyValues(
                rowIds.data_ptr<std::int64_t>(), rowIds.data_ptr<std::int64_t>() + rowIds.numel());
            for (const at::Tensor* extra : { &segments, &positions }) {
                if (!extra->defined())
                    continue;
                keyValues.push_back(-1);
                const at::Tensor v = (*extra)[r].index_select(0, real).contiguous();
                keyValues.insert(keyValues.end(), v.data_ptr<std::int64_t>(), v.data_ptr<std::int64_t>() + v.numel());
            }
            const std::uint64_t key = exampleKey(keyValues);
            if (keep) {
                if (auto it = m_cache.find(key); it != m_cache.end() && it->second.example == keyValues) {
                    perRow[static_cast<std::size_t>(r)] = &it->second;
                    ++hits;
                    continue;
                }
            }
            ForwardInput one;
            one.inputIds = rowIds.unsqueeze(0).to(b.inputIds.device());
            if (segments.defined())
                one.segmentIds = segments[r].index_select(0, real).unsqueeze(0).to(b.inputIds.device());
            if (positions.defined())
                one.positionIds = positions[r].index_select(0, real).unsqueeze(0).to(b.inputIds.device());
            TeacherTopK entry = topKOf(models.teacher(one).logits[0].to(at::kFloat), rowIds);
            if (keep) {
                entry.example = std::move(keyValues);
                perRow[static_cast<std::size_t>(r)] = &(m_cache[key] = std::move(entry));
            } else {
                perRow[static_cast<std::size_t>(r)] = &fresh.emplace_back(std::move(entry));
            }
        }
        for (const TeacherTopK* t : perRow)
            k = std::max<std::int64_t>(k, t->ids.dim() == 2 ? t->ids.size(1) : 1);
        TopKBatch out;
        out.ids = at::zeros({ rows, steps, k }, at::kLong);
        out.logp = at::zeros({ rows, steps, k }, at::kFloat);
        out.nextLogp = at::zeros({ rows, steps }, at::kFloat);
        for (std::int64_t r = 0; r < rows; ++r) {
            const TeacherTopK& t = *perRow[static_cast<std::size_t>(r)];
            const std::int64_t n = t.nextLogp.size(0);
            if (n == 0)
                continue;
            // Example position j (of its real tokens) sits at the row's j-th real position.
            const at::Tensor where = realPositions[static_cast<std::size_t>(r)].narrow(0, 0, n);
            out.ids[r].index_copy_(0, where, t.ids.to(at::kLong));
            out.logp[r].index_copy_(0, where, t.logp);
            out.nextLogp[r].index_copy_(0, where, t.nextLogp);
        }
        out.cachedShare = rows > 0 ? static_cast<double>(hits) / static_cast<double>(rows) : 0.0;
        return out;
    }

    // One example's teacher logits [n, V] and its ids [n] -> its top k at positions 0 .. n-2.
    TeacherTopK topKOf(const at::Tensor& logits, const at::Tensor& rowIds) const
    {
        const std::int64_t n = logits.size(0);
        const std::int64_t k = std::min<std::int64_t>(m_topK, logits.size(1));
        TeacherTopK t;
        if (n < 2) {
            t.ids = at::zeros({ 0, k }, at::kInt);
            t.logp = at::zeros({ 0, k }, at::kFloat);
            t.nextLogp = at::zeros({ 0 }, at::kFloat);
            return t;
        }
        const at::Tensor head = logits.narrow(0, 0, n - 1).to(at::kCPU);
        const at::Tensor top = std::get<1>(head.topk(k, -1)); // the temperature keeps the order
        t.logp = at::log_softmax(head / m_temperature, -1).gather(-1, top).contiguous();
        t.ids = top.to(at::kInt).contiguous();
        t.nextLogp
            = at::log_softmax(head, -1).gather(-1, rowIds.narrow(0, 1, n - 1).unsqueeze(1)).squeeze(1).contiguous();
        return t;
    }

    // The batch's prompts (each row's tokens before its first trained label) with completions the student
    // samples in place of the dataset's; the sampled tokens are the trained ones.
    TokenBatch sampled(const TokenBatch& b, ModelAccess& models) const
    {
        if (b.segmentIds.defined())
            throw InputError("on_policy_ratio: the student's completions need one example a row; set packing: false");
        const at::Tensor ids = b.inputIds.to(at::kCPU).to(at::kLong);
        const at::Tensor labels = b.labels.to(at::kCPU).to(at::kLong);
        const at::Tensor attention
            = b.attentionMask.defined() ? b.attentionMask.to(at::kCPU).to(at::kLong) : at::ones_like(ids);
        const auto id = ids.accessor<std::int64_t, 2>();
        const auto label = labels.accessor<std::int64_t, 2>();
        const auto attended = attention.accessor<std::int64_t, 2>();
        std::vector<std::vector<std::int32_t>> prompts;
        for (std::int64_t r = 0; r < ids.size(0); ++r) {
            std::vector<std::int32_t> prompt;
            for (std::int64_t c = 0; c < ids.size(1) && attended[r][c] != 0 && label[r][c] == -100; ++c)
                prompt.push_back(static_cast<std::int32_t>(id[r][c]));
            if (prompt.empty()) // every token trained (train_on_prompt, raw text): the first one prompts
                prompt.push_back(static_cast<std::int32_t>(id[r][0]));
            prompts.push_back(std::move(prompt));
        }
        GenerationOptions options;
        options.maxNewTokens = m_maxNewTokens;
        options.sample = true;
        options.sampling.temperature = m_temperature;
        options.seed = static_cast<std::uint64_t>(at::randint(0, std::int64_t { 1 } << 62, { 1 }).item<std::int64_t>());
        const std::vector<GeneratedSequence> completions = models.generate(prompts, options);
        std::size_t longest = 1;
        for (std::size_t i = 0; i < prompts.size(); ++i)
            longest = std::max(longest, prompts[i].size() + completions[i].tokens.size());
        const auto rows = static_cast<std::int64_t>(prompts.size());
        const auto width = static_cast<std::int64_t>(longest);
        at::Tensor newIds = at::zeros({ rows, width }, at::kLong);
        at::Tensor newMask = at::zeros({ rows, width }, at::kLong);
        at::Tensor newLabels = at::full({ rows, width }, -100, at::kLong);
        auto outId = newIds.accessor<std::int64_t, 2>();
        auto outMask = newMask.accessor<std::int64_t, 2>();
        auto outLabel = newLabels.accessor<std::int64_t, 2>();
        for (std::int64_t r = 0; r < rows; ++r) {
            std::int64_t c = 0;
            for (std::int32_t token : prompts[static_cast<std::size_t>(r)]) {
                outId[r][c] = token;
                outMask[r][c++] = 1;
            }
            for (std::int32_t token : completions[static_cast<std::size_t>(r)].tokens) {
                outId[r][c] = outLabel[r][c] = token;
                outMask[r][c++] = 1;
            }
        }
        const at::Device device = b.inputIds.device();
        TokenBatch out;
        out.inputIds = newIds.to(device);
        out.attentionMask = newMask.to(device);
        out.labels = newLabels.to(device);
        return out;
    }

    std::string m_teacher;
    double m_beta = 0.0;
    double m_temperature = 1.0;
    double m_alpha = 1.0;
    double m_onPolicyRatio = 0.0;
    std::int64_t m_maxNewTokens = 32;
    std::int64_t m_topK = 0;
    std::unordered_map<std::uint64_t, TeacherTopK> m_cache; // teacher_top_k: by the example's tokens
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "distill",
    "1.0.0",
    "objective",
    "Knowledge distillation: forward/reverse KL or GKD's generalised JSD to a teacher model, on- or off-policy",
    R"json([
      {"name": "teacher", "aliases": ["teacher_model", "teacher_model_name_or_path"], "type": "string",
       "default": "", "help": "the teacher's model folder (same tokenizer as the trained model)"},
      {"name": "loss", "type": "choice", "default": "forward_kl", "choices": ["forward_kl", "reverse_kl", "jsd"],
       "help": "forward_kl: KL(teacher || student); reverse_kl: KL(student || teacher); jsd: GKD's generalised JSD with beta"},
      {"name": "beta", "type": "number", "default": 0.5, "minimum": 0, "maximum": 1,
       "help": "jsd: the teacher's weight in the mixture (0 is forward KL, 1 reverse KL)"},
      {"name": "temperature", "type": "number", "default": 1.0, "minimum": 0.01, "maximum": 100,
       "help": "softens both distributions before the divergence; also the on-policy sampling temperature"},
      {"name": "alpha", "type": "number", "default": 1.0, "minimum": 0, "maximum": 1,
       "help": "loss = alpha * divergence + (1 - alpha) * SFT cross-entropy"},
      {"name": "on_policy_ratio", "aliases": ["lmbda"], "type": "number", "default": 0.0, "minimum": 0,
       "maximum": 1, "help": "share of batches whose completions the student samples (GKD's lambda)"},
      {"name": "max_new_tokens", "type": "integer", "default": 32, "minimum": 1, "maximum": 65536,
       "help": "longest completion the student samples on-policy"},
      {"name": "teacher_top_k", "type": "integer", "default": 0, "minimum": 0, "maximum": 1048576,
       "help": "0: the teacher's full distribution, computed for every batch; k: its k most likely tokens per position, computed once per example and kept in memory (8 k + 4 bytes a position), both distributions taken over them"}
    ])json",
    nullptr,
    []() -> Objective* { return new DistillObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
