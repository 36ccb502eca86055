#include "core/data/model_selection.h"

#include "core/data/dataset_select.h"
#include "core/data/example_encoder.h"
#include "core/model/model_loader.h"
#include "core/store/datasets.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

at::Tensor idsTensor(const std::vector<std::int32_t>& ids, at::Device device)
{
    std::vector<std::int64_t> wide(ids.begin(), ids.end());
    return at::tensor(wide, at::kLong).view({ 1, static_cast<std::int64_t>(wide.size()) }).to(device);
}

// Mean cross-entropy over the example's labelled tokens (labels[i] is the
// target for position i, predicted from position i - 1). Undefined tensor
// when nothing is labelled past the first token.
at::Tensor exampleLoss(const CausalLM& model, const EncodedExample& e)
{
    if (e.ids.size() < 2)
        return {};
    std::vector<std::int64_t> targets;
    std::vector<std::int64_t> positions;
    for (std::size_t i = 1; i < e.ids.size(); ++i) {
        if (e.labels[i] != kIgnoreLabel) {
            targets.push_back(e.labels[i]);
            positions.push_back(static_cast<std::int64_t>(i) - 1);
        }
    }
    if (targets.empty())
        return {};
    ForwardInput in;
    in.inputIds = idsTensor(e.ids, model.device());
    const at::Tensor logits = model.forward(in).logits[0].to(at::kFloat); // [T, V]
    const at::Tensor picked = logits.index_select(0, at::tensor(positions, at::kLong).to(model.device()));
    const at::Tensor logProbs = at::log_softmax(picked, -1);
    const at::Tensor target = at::tensor(targets, at::kLong).to(model.device()).unsqueeze(1);
    return -logProbs.gather(1, target).mean();
}

} // namespace

at::Tensor embedTexts(const fs::path& modelDir, const std::vector<std::string>& texts, std::int64_t maxTokens)
{
    const Tokenizer tokenizer = Tokenizer::fromFolder(modelDir);
    const std::unique_ptr<CausalLM> model = loadCausalLM(modelDir);
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> rows;
    rows.reserve(texts.size());
    const std::int64_t hidden = model->config().hiddenSize;
    for (const std::string& text : texts) {
        std::vector<std::int32_t> ids = tokenizer.encode(text);
        if (static_cast<std::int64_t>(ids.size()) > maxTokens)
            ids.resize(static_cast<std::size_t>(maxTokens));
        if (ids.empty()) {
            rows.push_back(at::zeros({ hidden }, at::kFloat));
            continue;
        }
        ForwardInput in;
        in.inputIds = idsTensor(ids, model->device());
        in.outputHiddenStates = true;
        const ForwardOutput out = model->forward(in);
        at::Tensor pooled = out.hiddenStates.back()[0].to(at::kFloat).mean(0).cpu();
        const double norm = pooled.norm().item<double>();
        if (norm > 0)
            pooled = pooled / norm;
        rows.push_back(pooled);
    }
    if (rows.empty())
        return at::zeros({ 0, hidden }, at::kFloat);
    return at::stack(rows);
}

std::vector<int> kMeans(const at::Tensor& points, int k, std::uint64_t seed, int maxRounds)
{
    const std::int64_t n = points.size(0);
    if (k < 1)
        throw InputError("k-means: clusters must be at least 1, got " + std::to_string(k));
    std::vector<int> assignment(static_cast<std::size_t>(n), 0);
    if (n == 0)
        return assignment;
    k = static_cast<int>(std::min<std::int64_t>(k, n));
    const at::Tensor x = points.to(at::kDouble).contiguous();
    std::mt19937_64 rng(seed);
    // k-means++ seeding: each next centre drawn with probability proportional
    // to the squared distance to the nearest centre so far.
    std::vector<std::int64_t> centreRows { static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n)) };
    at::Tensor nearest = (x - x[centreRows[0]]).pow(2).sum(1);
    while (static_cast<int>(centreRows.size()) < k) {
        const std::vector<double> d(nearest.data_ptr<double>(), nearest.data_ptr<double>() + n);
        const double total = std::accumulate(d.begin(), d.end(), 0.0);
        std::int64_t next = 0;
        if (total <= 0) {
            next = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
        } else {
            std::discrete_distribution<std::int64_t> pick(d.begin(), d.end());
            next = pick(rng);
        }
        centreRows.push_back(next);
        nearest = at::minimum(nearest, (x - x[next]).pow(2).sum(1));
    }
    at::Tensor centres = x.index_select(0, at::tensor(centreRows, at::kLong)).clone();
    for (int round = 0; round < maxRounds; ++round) {
        const at::Tensor dist = at::cdist(x, centres); // [n, k]
        const at::Tensor labels = dist.argmin(1).contiguous();
        bool changed = round == 0;
        const std::int64_t* l = labels.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) {
            if (assignment[static_cast<std::size_t>(i)] != static_cast<int>(l[i])) {
                assignment[static_cast<std::size_t>(i)] = static_cast<int>(l[i]);
                changed = true;
            }
        }
        if (!changed)
            break;
        for (int c = 0; c < k; ++c) {
            const at::Tensor members = (labels == c).nonzero().squeeze(1);
            if (members.numel() > 0)
                centres[c] = x.index_select(0, members).mean(0);
            // An empty cluster keeps its centre.
        }
    }
    return assignment;
}

ClusterSelection selectByClusters(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const ClusterOptions& options)
{
    std::vector<std::string> texts;
    texts.reserve(records.size());
    for (const auto& r : records)
        texts.push_back(recordTexts(r, format).all());
    const at::Tensor embeddings = embedTexts(options.modelDir, texts, options.maxTokens);
    ClusterSelection s;
    s.assignment = kMeans(embeddings, options.clusters, options.seed);
    const int k = s.assignment.empty() ? 0 : *std::max_element(s.assignment.begin(), s.assignment.end()) + 1;
    std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(k));
    for (std::size_t i = 0; i < s.assignment.size(); ++i)
        members[static_cast<std::size_t>(s.assignment[i])].push_back(i);
    std::mt19937_64 rng(options.seed);
    for (auto& m : members) {
        s.clusterSizes.push_back(static_cast<std::int64_t>(m.size()));
        std::shuffle(m.begin(), m.end(), rng);
    }
    const std::size_t keep = std::min(options.keep, records.size());
    for (std::size_t round = 0; s.indices.size() < keep; ++round) {
        for (const auto& m : members) {
            if (round < m.size() && s.indices.size() < keep)
                s.indices.push_back(m[round]);
        }
    }
    std::sort(s.indices.begin(), s.indices.end());
    return s;
}

// Long for a reason: the learnability score trains a throwaway copy for a few steps and scores every record
// before and after; the two passes share the model, batches and generator.
LearnabilitySelection selectByLearnability(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const LearnabilityOptions& options)
{
    if (options.steps < 1 || options.batchSize < 1 || !(options.lr > 0))
        throw InputError("learnability: steps and batch size must be at least 1 and lr positive");
    const Tokenizer tokenizer = Tokenizer::fromFolder(options.modelDir);
    const std::optional<ChatTemplate> chatTemplate = ChatTemplate::fromFolderIfPresent(options.modelDir);
    EncoderOptions encoderOptions;
    encoderOptions.cutoffLen = options.cutoffLen;
    const ExampleEncoder encoder(tokenizer, chatTemplate ? &*chatTemplate : nullptr, encoderOptions);
    std::vector<EncodedExample> examples;
    examples.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string where = "record " + std::to_string(i + 1);
        if (format == DatasetFormat::Preference || format == DatasetFormat::UnpairedPreference) {
            const RecordTexts t = recordTexts(records[i], format);
            examples.push_back(
                encoder.encode({ { "instruction", t.prompt }, { "input", "" }, { "output", t.response } },
                    DatasetFormat::Instruction, where));
        } else {
            examples.push_back(encoder.encode(records[i], format, where));
        }
    }
    const std::unique_ptr<CausalLM> model = loadCausalLM(options.modelDir);

    auto losses = [&] {
        at::NoGradGuard noGrad;
        std::vector<double> out;
        out.reserve(examples.size());
        for (const auto& e : examples) {
            const at::Tensor l = exampleLoss(*model, e);
            out.push_back(l.defined() ? l.item<double>() : 0.0);
        }
        return out;
    };
    LearnabilitySelection s;
    s.lossBefore = losses();

    // The short tune: full-parameter Adam on random batches of the records.
    model->setRequiresGrad(true);
    std::vector<at::Tensor> params;
    for (auto& [name, p] : model->namedParameters())
        params.push_back(p);
    std::vector<at::Tensor> m1, m2;
    for (const auto& p : params) {
        m1.push_back(at::zeros_like(p));
        m2.push_back(at::zeros_like(p));
    }
    std::vector<std::size_t> trainable;
    for (std::size_t i = 0; i < examples.size(); ++i) {
        if (examples[i].trainedTokens() > 0)
            trainable.push_back(i);
    }
    std::mt19937_64 rng(options.seed);
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    for (int step = 1; step <= options.steps && !trainable.empty(); ++step) {
        int used = 0;
        for (int b = 0; b < options.batchSize; ++b) {
            const std::size_t i = trainable[static_cast<std::size_t>(rng() % trainable.size())];
            const at::Tensor l = exampleLoss(*model, examples[i]);
            if (!l.defined())
                continue;
            (l / options.batchSize).backward();
            ++used;
        }
        if (used == 0)
            continue;
        at::NoGradGuard noGrad;
        const double c1 = 1 - std::pow(beta1, step), c2 = 1 - std::pow(beta2, step);
        for (std::size_t j = 0; j < params.size(); ++j) {
            const at::Tensor& g = params[j].grad();
            if (!g.defined())
                continue;
            m1[j].mul_(beta1).add_(g, 1 - beta1);
            m2[j].mul_(beta2).addcmul_(g, g, 1 - beta2);
            params[j].addcdiv_(m1[j] / c1, (m2[j] / c2).sqrt_().add_(eps), -options.lr);
            params[j].mutable_grad().reset();
        }
    }
    model->setRequiresGrad(false);
    s.lossAfter = losses();

    std::vector<std::size_t> order(examples.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return s.lossBefore[a] - s.lossAfter[a] > s.lossBefore[b] - s.lossAfter[b];
    });
    order.resize(std::min(options.keep, order.size()));
    std::sort(order.begin(), order.end());
    s.indices = std::move(order);
    return s;
}

namespace {

const std::vector<std::string> kMethods = { "random", "length", "dedup", "minhash", "kmeans", "learnability" };

// Reads the parameters of one selection, checking names and types.
class Params {
public:
    Params(const nlohmann::json& params, std::string method)
        : m_params(params.is_null() ? nlohmann::json::object() : params)
        , m_method(std::move(method))
    {
        if (!m_params.is_object())
            throw InputError(m_method + ": parameters must be a JSON object");
    }
    std::optional<std::int64_t> integer(const std::string& key)
    {
        m_used.push_back(key);
        auto it = m_params.find(key);
        if (it == m_params.end() || it->is_null())
            return std::nullopt;
        if (!it->is_number_integer())
            throw InputError(m_method + ": " + key + " must be a whole number, got " + it->dump());
        return it->get<std::int64_t>();
    }
    std::optional<double> real(const std::string& key)
    {
        m_used.push_back(key);
        auto it = m_params.find(key);
        if (it == m_params.end() || it->is_null())
            return std::nullopt;
        if (!it->is_number())
            throw InputError(m_method + ": " + key + " must be a number, got " + it->dump());
        return it->get<double>();
    }
    std::optional<std::string> text(const std::string& key)
    {
        m_used.push_back(key);
        auto it = m_params.find(key);
        if (it == m_params.end() || it->is_null())
            return std::nullopt;
        if (!it->is_string())
            throw InputError(m_method + ": " + key + " must be a string, got " + it->dump());
        return it->get<std::string>();
    }
    std::string requiredText(const std::string& key)
    {
        auto v = text(key);
        if (!v || v->empty())
            throw InputError(m_method + ": needs " + key + " (a folder)");
        return *v;
    }
    // Every key given must be one this method reads.
    void checkUnused() const
    {
        for (auto it = m_params.begin(); it != m_params.end(); ++it) {
            if (std::find(m_used.begin(), m_used.end(), it.key()) == m_used.end())
                throw InputError(m_method + ": unknown parameter '" + it.key() + "'");
        }
    }

private:
    nlohmann::json m_params;
    std::string m_method;
    std::vector<std::string> m_used;
};

} // namespace

bool isSelectionMethod(const std::string& method)
{
    return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end();
}

std::string selectionMethodList()
{
    std::string out;
    for (const auto& m : kMethods)
        out += (out.empty() ? "" : ", ") + m;
    return out;
}

// Long for a reason: one dispatch over the selection methods, each reading its own parameters, then the
// derived dataset recorded with its lineage.
DatasetRecord selectDataset(Workspace& workspace, std::int64_t id, const std::string& method,
    const nlohmann::json& params, const std::string& name)
{
    if (!isSelectionMethod(method))
        throw InputError("unknown selection method '" + method + "' (expected " + selectionMethodList() + ")");
    Params p(params, method);
    const LoadedDataset d = loadDataset(workspace, id);
    const std::size_t n = d.records.size();
    nlohmann::json used = nlohmann::json::object();
    const auto seed = static_cast<std::uint64_t>(p.integer("seed").value_or(1));
    auto keepCount = [&] {
        const auto count = p.integer("count");
        const auto fraction = p.real("fraction");
        const std::size_t keep = selectionSize(n, count, fraction);
        if (count)
            used["count"] = *count;
        if (fraction)
            used["fraction"] = *fraction;
        return keep;
    };
    std::vector<std::size_t> keep;
    if (method == "random") {
        keep = selectRandom(n, keepCount(), seed);
        used["seed"] = seed;
    } else if (method == "length") {
        const std::int64_t minLength = p.integer("min").value_or(0);
        const auto maxLength = p.integer("max");
        std::optional<Tokenizer> tokenizer;
        const auto tokenizerDir = p.text("tokenizer");
        if (tokenizerDir && !tokenizerDir->empty())
            tokenizer.emplace(Tokenizer::fromFolder(*tokenizerDir));
        keep = selectByLength(d.records, d.format, tokenizer ? &*tokenizer : nullptr, minLength,
            maxLength.value_or(std::numeric_limits<std::int64_t>::max()));
        used["min"] = minLength;
        if (maxLength)
            used["max"] = *maxLength;
        used["unit"] = tokenizer ? "tokens" : "words";
        if (tokenizer)
            used["tokenizer"] = *tokenizerDir;
    } else if (method == "dedup") {
        keep = dedupExact(d.records);
    } else if (method == "minhash") {
        MinHashOptions o;
        o.threshold = p.real("threshold").value_or(o.threshold);
        o.permutations = static_cast<int>(p.integer("permutations").value_or(o.permutations));
        o.bands = static_cast<int>(p.integer("bands").value_or(o.bands));
        o.shingleWords = static_cast<int>(p.integer("shingle").value_or(o.shingleWords));
        o.seed = seed;
        keep = dedupMinHash(d.records, d.format, o);
        used = { { "threshold", o.threshold }, { "permutations", o.permutations }, { "bands", o.bands },
            { "shingle", o.shingleWords }, { "seed", o.seed } };
    } else if (method == "kmeans") {
        ClusterOptions o;
        o.modelDir = p.requiredText("model");
        o.clusters = static_cast<int>(p.integer("clusters").value_or(o.clusters));
        o.keep = keepCount();
        o.seed = seed;
        o.maxTokens = p.integer("max_tokens").value_or(o.maxTokens);
        const ClusterSelection s = selectByClusters(d.records, d.format, o);
        keep = s.indices;
        used["model"] = o.modelDir.string();
        used["clusters"] = o.clusters;
        used["seed"] = seed;
        used["max_tokens"] = o.maxTokens;
        used["cluster_sizes"] = s.clusterSizes;
    } else { // learnability
        LearnabilityOptions o;
        o.modelDir = p.requiredText("model");
        o.keep = keepCount();
        o.steps = static_cast<int>(p.integer("steps").value_or(o.steps));
        o.lr = p.real("lr").value_or(o.lr);
        o.batchSize = static_cast<int>(p.integer("batch_size").value_or(o.batchSize));
        o.cutoffLen = p.integer("cutoff_len").value_or(o.cutoffLen);
        o.seed = seed;
        const LearnabilitySelection s = selectByLearnability(d.records, d.format, o);
        keep = s.indices;
        double before = 0, after = 0;
        for (std::size_t i = 0; i < n; ++i) {
            before += s.lossBefore[i] / static_cast<double>(n);
            after += s.lossAfter[i] / static_cast<double>(n);
        }
        used["model"] = o.modelDir.string();
        used["steps"] = o.steps;
        used["lr"] = o.lr;
        used["batch_size"] = o.batchSize;
        used["cutoff_len"] = o.cutoffLen;
        used["seed"] = seed;
        used["mean_loss_before"] = before;
        used["mean_loss_after"] = after;
    }
    p.checkUnused();
    std::vector<nlohmann::json> selected;
    selected.reserve(keep.size());
    for (std::size_t i : keep)
        selected.push_back(d.records[i]);
    return writeDerivedDataset(workspace, id, selected, method, used, name.empty() ? d.name + "-" + method : name);
}

} // namespace tunebench
