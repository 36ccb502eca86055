// The objectives against the libraries they come from, on the same inputs: dpo (and cDPO), ipo, orpo, simpo and
// kto against TRL 1.16's own trainer code, sft against transformers 5.17's causal-LM loss
// (tests/reference/trl_objectives.py, one Python process for every row).
//
// Preference rows run on "table models": the logits at position t are token[id_t] + position[t] (one table pair
// for the policy, one for the reference), which the script rebuilds as a transformers model whose LM head is the
// identity, so both sides score bit-identical logits and the comparison is of the objective code alone: log-probs,
// masks, the KL pairs, the loss and every metric Tunebench logs, within 1e-5. SFT rows run tiny random model
// folders with prompts masked and right padding: the objective's loss against
// AutoModelForCausalLM(input_ids, attention_mask, labels).loss, and against transformers' ForCausalLMLoss (or, with
// label smoothing, the Trainer's LabelSmoother) on Tunebench's own logits.

#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/method/preference.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/train/batching.h"
#include "model/model_test_support.h"
#include "support/reference.h"

#include <ATen/ATen.h>

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <stdexcept>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kVocab = 16;
constexpr std::int64_t kPositions = 32;
constexpr double kTolerance = 1e-5;

// logits[b, t] = token[ids[b, t]] + position[positions[b, t]]; positions default to 0, 1, ... (right padding), and
// prefix sharing passes its own.
class TableModels final : public ModelAccess {
public:
    explicit TableModels(const NamedTensors& tables)
    {
        for (const auto& [name, t] : tables)
            m_tables[name] = t;
    }
    ForwardOutput policy(const ForwardInput& in) override { return { logits("policy", in), {} }; }
    ForwardOutput reference(const ForwardInput& in) override { return { logits("reference", in), {} }; }
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>&, const GenerationOptions&) override
    {
        throw std::logic_error("these tests do not sample");
    }

private:
    at::Tensor logits(const std::string& model, const ForwardInput& in) const
    {
        const std::int64_t b = in.inputIds.size(0), t = in.inputIds.size(1);
        const at::Tensor positions
            = in.positionIds.defined() ? in.positionIds : at::arange(t, at::kLong).unsqueeze(0).expand({ b, t });
        const at::Tensor token = m_tables.at(model + ".token").index_select(0, in.inputIds.reshape({ -1 }));
        const at::Tensor position = m_tables.at(model + ".position").index_select(0, positions.reshape({ -1 }));
        return (token + position).view({ b, t, kVocab });
    }
    std::map<std::string, at::Tensor> m_tables;
};

// One model, no reference: the SFT objective's view of it. Keeps the logits it returned.
class SingleModel final : public ModelAccess {
public:
    explicit SingleModel(CausalLM& model)
        : m_model(model)
    { }
    ForwardOutput policy(const ForwardInput& in) override
    {
        ForwardOutput out = m_model.forward(in);
        // SFT defers the logits to its loss where the model allows it: the same product here.
        logits = (out.logits.defined() ? out.logits : at::linear(out.finalHidden, out.headWeight)).detach();
        return out;
    }
    ForwardOutput reference(const ForwardInput&) override { throw std::logic_error("sft has no reference"); }
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>&, const GenerationOptions&) override
    {
        throw std::logic_error("these tests do not sample");
    }
    at::Tensor logits;

private:
    CausalLM& m_model;
};

struct PreferenceRow {
    const char* name;
    const char* objective;
    const char* params; // the plugin's parameters (JSON)
    const char* batch;
    bool cachedReference = false; // precompute_ref_log_probs
};

// Several parameter rows per objective. ipo with average_log_prob: the form TRL computes.
const PreferenceRow kPreferenceRows[] = {
    { "dpo beta 0.1", "dpo", R"({"beta": 0.1})", "pairs" },
    { "dpo beta 0.5", "dpo", R"({"beta": 0.5})", "pairs" },
    { "cdpo beta 0.1 eps 0.1", "dpo", R"({"beta": 0.1, "label_smoothing": 0.1})", "pairs" },
    { "cdpo beta 0.3 eps 0.4", "dpo", R"({"beta": 0.3, "label_smoothing": 0.4})", "pairs" },
    { "dpo prefix sharing", "dpo", R"({"beta": 0.2, "prefix_sharing": true})", "pairs" },
    { "dpo precomputed reference", "dpo", R"({"beta": 0.2})", "pairs", true },
    { "ipo beta 0.1", "ipo", R"({"beta": 0.1, "average_log_prob": true})", "pairs" },
    { "ipo beta 0.5", "ipo", R"({"beta": 0.5, "average_log_prob": true})", "pairs" },
    { "ipo beta 2", "ipo", R"({"beta": 2.0, "average_log_prob": true})", "pairs" },
    { "orpo lambda 0.1", "orpo", R"({"lambda": 0.1})", "pairs" },
    { "orpo lambda 0.5", "orpo", R"({"lambda": 0.5})", "pairs" },
    { "orpo lambda 1 prefix sharing", "orpo", R"({"lambda": 1.0, "prefix_sharing": true})", "pairs" },
    { "simpo beta 2 gamma 1", "simpo", R"({"beta": 2.0, "gamma": 1.0})", "pairs" },
    { "simpo beta 2.5 gamma 0.4", "simpo", R"({"beta": 2.5, "gamma": 0.4})", "pairs" },
    { "simpo beta 10 gamma 3", "simpo", R"({"beta": 10.0, "gamma": 3.0})", "pairs" },
    { "kto beta 0.1", "kto", R"({"beta": 0.1})", "unpaired" },
    { "kto beta 0.4 weights 1.5/0.7", "kto", R"({"beta": 0.4, "desirable_weight": 1.5, "undesirable_weight": 0.7})",
        "unpaired" },
    { "kto beta 1 weights 0.8/1.33", "kto", R"({"beta": 1.0, "desirable_weight": 0.8, "undesirable_weight": 1.33})",
        "unpaired" },
    { "kto all desirable", "kto", R"({"beta": 0.3})", "desirable" },
};

// Prompts and responses of different lengths (right padding inside each side and between chosen and rejected).
// Pair 3's chosen response is the single likely token 13 after 12 (see initTestCase), so its mean log-prob lies
// above -ln 2, where TRL's log1mexp switches to its expm1 branch.
const std::vector<EncodedPreference> kPairs = {
    { { 1, 2 }, { 3, 4, 5 }, { 6, 7 }, true, false },
    { { 2, 8, 9, 4 }, { 10 }, { 4, 4, 4, 2, 11 }, true, false },
    { { 5 }, { 1, 9, 3, 14 }, { 7, 7, 1 }, true, false },
    { { 3, 12 }, { 13 }, { 5, 6 }, true, false },
};

const std::vector<EncodedPreference> kUnpaired = {
    { { 1, 2 }, { 3, 4, 5 }, {}, true, false },
    { { 2, 8, 9 }, { 10 }, {}, false, false },
    { { 5 }, { 1, 9, 3, 14 }, {}, true, false },
    { { 6, 6, 2 }, { 11, 12 }, {}, false, false },
    { { 9 }, { 15, 3, 3 }, {}, true, false },
};

const std::vector<EncodedPreference> kDesirable = {
    { { 4, 1 }, { 2, 2 }, {}, true, false },
    { { 7 }, { 8, 9, 10 }, {}, true, false },
    { { 3, 3, 12 }, { 13 }, {}, true, false },
};

json examplesJson(const std::vector<EncodedPreference>& examples, bool paired)
{
    json out = json::array();
    for (const auto& e : examples) {
        if (paired)
            out.push_back({ { "prompt", e.prompt }, { "chosen", e.chosen }, { "rejected", e.rejected } });
        else
            out.push_back({ { "prompt", e.prompt }, { "completion", e.chosen }, { "desirable", e.desirable } });
    }
    return out;
}

ObjectiveBatch collated(const std::vector<EncodedPreference>& examples, bool paired)
{
    std::vector<const EncodedPreference*> pointers;
    for (const auto& e : examples)
        pointers.push_back(&e);
    return collatePreferences(pointers, 0, paired);
}

struct SftRow {
    const char* name;
    const char* architecture; // a row of model_test::architectureConfigs
    double labelSmoothing;
};

const SftRow kSftRows[] = {
    { "sft llama", "llama", 0.0 },
    { "sft qwen2", "qwen2", 0.0 },
    { "sft gpt2", "gpt2", 0.0 },
    { "sft llama label smoothing 0.1", "llama", 0.1 },
};

// Prompt tokens masked, responses trained, lengths differing (right padding).
std::vector<EncodedExample> sftExamples(std::uint64_t seed)
{
    const std::int64_t prompts[] = { 3, 6, 1 };
    const std::int64_t responses[] = { 5, 2, 7 };
    std::vector<EncodedExample> out;
    for (std::size_t i = 0; i < 3; ++i) {
        const at::Tensor ids = model_test::randomIds(1, prompts[i] + responses[i], seed + i).view({ -1 });
        EncodedExample e;
        for (std::int64_t t = 0; t < ids.size(0); ++t) {
            e.ids.push_back(static_cast<std::int32_t>(ids[t].item<std::int64_t>()));
            e.labels.push_back(t < prompts[i] ? kIgnoreLabel : e.ids.back());
        }
        out.push_back(std::move(e));
    }
    return out;
}

bool close(double ours, double theirs)
{
    return std::abs(ours - theirs) <= kTolerance * std::max(1.0, std::abs(theirs));
}

} // namespace

class TestObjectiveParity : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    QTemporaryDir m_dir;
    json m_ours = json::object(); // row name -> {"loss", "metrics"}
    json m_theirs = json::object(); // row name -> TRL's / transformers' numbers

    std::unique_ptr<Objective> objective(const std::string& name, json params, json* resolved)
    {
        auto o = m_plugins.createObjective(name);
        *resolved = m_plugins.require(PluginKind::Objective, name).schema.resolve(params, "test");
        o->configure(*resolved);
        return o;
    }

private Q_SLOTS:
    void initTestCase()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        QVERIFY(m_dir.isValid());
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());

        // The reference, and a policy near it (as after some training).
        at::manual_seed(7);
        const at::Tensor token = at::randn({ kVocab, kVocab }) * 2.0;
        const at::Tensor position = at::randn({ kPositions, kVocab }) * 0.5;
        NamedTensors tensors = {
            { "policy.token", token + at::randn({ kVocab, kVocab }) * 0.5 },
            { "policy.position", position + at::randn({ kPositions, kVocab }) * 0.2 },
            { "reference.token", token },
            { "reference.position", position },
        };
        // A likely next token: after 12 the policy says 13 with log-prob about -0.27 (near 0 the float32 log-prob
        // itself has too few digits for log(1 - p) to be compared).
        tensors[0].second[12][13] = 5.0;
        // The policy favours the unpaired completions' own transitions, so the KL estimate over mismatched pairs is
        // positive (not clamped to 0) and which pairs it is taken over shows in the loss.
        for (const auto& e : kUnpaired) {
            for (std::size_t t = 1; t < e.chosen.size(); ++t)
                tensors[0].second[e.chosen[t - 1]][e.chosen[t]] += 1.5;
        }
        TableModels tables(tensors);

        const std::map<std::string, std::pair<const std::vector<EncodedPreference>*, bool>> batches
            = { { "pairs", { &kPairs, true } }, { "unpaired", { &kUnpaired, false } },
                  { "desirable", { &kDesirable, false } } };
        json manifest = { { "batches", json::object() }, { "rows", json::array() }, { "sft", json::array() } };
        for (const auto& [name, batch] : batches)
            manifest["batches"][name] = examplesJson(*batch.first, batch.second);

        {
            // The near-certain response of pair 3 must reach TRL's other log1mexp branch.
            const PairLogProbs lp = pairLogProbs(collated(kPairs, true), tables, false);
            QVERIFY2(lp.policyChosen.mean()[3].item<double>() > -std::log(2.0),
                qPrintable(QString("pair 3's mean chosen log-prob %1").arg(lp.policyChosen.mean()[3].item<double>())));
        }

        at::NoGradGuard noGrad;
        for (const PreferenceRow& row : kPreferenceRows) {
            json resolved;
            auto o = objective(row.objective, json::parse(row.params), &resolved);
            const auto& [examples, paired] = batches.at(row.batch);
            ObjectiveBatch batch = collated(*examples, paired);
            if (row.cachedReference) {
                QVERIFY(o->canCacheReference());
                batch.referenceLogProbs = o->referenceLogProbs(batch, tables);
                resolved["precompute_ref_log_probs"] = true;
            }
            const LossOutput out = o->loss(batch, tables);
            const json ours = { { "loss", out.loss.item<double>() }, { "metrics", out.metrics } };
            m_ours[row.name] = ours;
            manifest["rows"].push_back({ { "name", row.name }, { "objective", row.objective }, { "params", resolved },
                { "batch", row.batch }, { "tunebench", ours } });
        }

        const auto configs = model_test::architectureConfigs();
        for (const SftRow& row : kSftRows) {
            const auto config = std::find_if(
                configs.begin(), configs.end(), [&](const auto& c) { return c.first == row.architecture; });
            QVERIFY(config != configs.end());
            const fs::path folder = fs::path(m_dir.path().toStdString()) / row.architecture;
            auto model = createRandomCausalLM(config->second, 5);
            if (!fs::exists(folder / "config.json"))
                saveModelFolder(*model, folder);
            json resolved;
            auto o = objective("sft", { { "label_smoothing", row.labelSmoothing } }, &resolved);
            const std::vector<EncodedExample> examples = sftExamples(11);
            std::vector<const EncodedExample*> pointers;
            for (const auto& e : examples)
                pointers.push_back(&e);
            ObjectiveBatch batch;
            batch.sequences = collate(pointers, 0);
            SingleModel models(*model);
            const LossOutput out = o->loss(batch, models);
            const std::string prefix = std::string(row.name) + ".";
            tensors.emplace_back(prefix + "input_ids", batch.sequences.inputIds);
            tensors.emplace_back(prefix + "attention_mask", batch.sequences.attentionMask);
            tensors.emplace_back(prefix + "labels", batch.sequences.labels);
            tensors.emplace_back(prefix + "logits", models.logits.to(at::kFloat).contiguous());
            const json ours = { { "loss", out.loss.item<double>() } };
            m_ours[row.name] = ours;
            manifest["sft"].push_back({ { "name", row.name }, { "model", folder.string() },
                { "input_ids", prefix + "input_ids" }, { "attention_mask", prefix + "attention_mask" },
                { "labels", prefix + "labels" }, { "logits", prefix + "logits" },
                { "label_smoothing", row.labelSmoothing }, { "tunebench", ours } });
        }

        const fs::path inputs = fs::path(m_dir.path().toStdString()) / "objectives.safetensors";
        writeSafetensors(inputs, tensors, { { "manifest", manifest.dump() } });
        QElapsedTimer timer;
        timer.start();
        const reference::Result r
            = reference::run("trl_objectives.py", { "--inputs", QString::fromStdString(inputs.string()) });
        qInfo().noquote() << "trl_objectives.py:" << timer.elapsed() << "ms, exit" << r.code << "\n" << r.err.trimmed();
        // 1 is a mismatch, reported row by row below.
        QVERIFY2(r.code == 0 || r.code == 1, qPrintable(r.err));
        const json theirs = json::parse(r.out.toStdString());
        for (const json& row : theirs.at("rows"))
            m_theirs[row.at("name").get<std::string>()] = row;
        for (const json& row : theirs.at("sft"))
            m_theirs[row.at("name").get<std::string>()] = row;
    }

    void preferenceMatchesTrl_data()
    {
        QTest::addColumn<QString>("name");
        for (const PreferenceRow& row : kPreferenceRows)
            QTest::newRow(row.name) << QString(row.name);
    }

    // The loss and every metric Tunebench logs equal TRL's, and TRL logs nothing (of those it shares names with)
    // that Tunebench leaves out.
    void preferenceMatchesTrl()
    {
        QFETCH(QString, name);
        const std::string key = name.toStdString();
        QVERIFY2(m_theirs.contains(key), "trl_objectives.py gave no result for this row");
        const json& ours = m_ours.at(key);
        const json& theirs = m_theirs.at(key);
        const double loss = ours.at("loss"), reference = theirs.at("loss");
        QVERIFY2(close(loss, reference),
            qPrintable(QString("loss: Tunebench %1, TRL %2").arg(loss, 0, 'g', 10).arg(reference, 0, 'g', 10)));
        QStringList problems;
        for (const auto& [metric, value] : ours.at("metrics").items()) {
            if (!theirs.at("metrics").contains(metric)) {
                problems << QString("%1: TRL does not log it").arg(QString::fromStdString(metric));
                continue;
            }
            const double trl = theirs.at("metrics").at(metric);
            if (!close(value.get<double>(), trl))
                problems << QString("%1: Tunebench %2, TRL %3")
                                .arg(QString::fromStdString(metric))
                                .arg(value.get<double>(), 0, 'g', 10)
                                .arg(trl, 0, 'g', 10);
        }
        for (const auto& [metric, value] : theirs.at("metrics").items()) {
            if (!ours.at("metrics").contains(metric))
                problems << QString("%1: TRL logs %2, Tunebench nothing")
                                .arg(QString::fromStdString(metric))
                                .arg(value.get<double>());
        }
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join("; ")));
        if (name.startsWith("kto") && name != "kto all desirable")
            QVERIFY2(ours.at("metrics").at("kl").get<double>() > 0,
                "the KL estimate is clamped to 0 here, so its pairs are not compared: choose other examples");
    }

    void sftMatchesTransformers_data()
    {
        QTest::addColumn<QString>("name");
        for (const SftRow& row : kSftRows)
            QTest::newRow(row.name) << QString(row.name);
    }

    void sftMatchesTransformers()
    {
        QFETCH(QString, name);
        const std::string key = name.toStdString();
        QVERIFY2(m_theirs.contains(key), "trl_objectives.py gave no result for this row");
        const double ours = m_ours.at(key).at("loss");
        const double model = m_theirs.at(key).at("model_loss");
        const double onOurLogits = m_theirs.at(key).at("loss_on_tunebench_logits");
        QVERIFY2(close(ours, onOurLogits),
            qPrintable(QString("on Tunebench's logits: Tunebench %1, transformers %2")
                           .arg(ours, 0, 'g', 10)
                           .arg(onOurLogits, 0, 'g', 10)));
        QVERIFY2(close(ours, model),
            qPrintable(QString("AutoModelForCausalLM(...).loss %1, Tunebench %2")
                           .arg(model, 0, 'g', 10)
                           .arg(ours, 0, 'g', 10)));
    }
};

QTEST_GUILESS_MAIN(TestObjectiveParity)
#include "test_objective_parity.moc"
