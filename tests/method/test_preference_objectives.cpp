// The preference objectives (dpo with cDPO smoothing, ipo, orpo, simpo, kto)
// against their formulas computed by hand, in double precision, from a toy
// "model" whose logits at a position depend only on the token there
// (logits = W[id], W fixed): every sequence log-probability is a plain sum
// the test evaluates itself. Then real runs through `tunebench-cli train` on a
// synthetic preference set: DPO (full fine-tuning, frozen-copy reference),
// ORPO and SimPO (LoRA) reach a reward accuracy above 0.9 with a growing
// margin; KTO (LoRA, reference = adapter off) lowers its loss.

#include "core/method/adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/train/batching.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <ATen/ATen.h>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <stdexcept>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kVocab = 11;

// logits[b, t] = W[ids[b, t]]: the policy's W has gradients, the reference has its own.
class TableModels final : public ModelAccess {
public:
    TableModels(at::Tensor policy, at::Tensor reference)
        : m_policy(std::move(policy))
        , m_reference(std::move(reference))
    { }
    ForwardOutput policy(const ForwardInput& in) override
    {
        return { m_policy.index_select(0, in.inputIds.reshape({ -1 }))
                     .reshape({ in.inputIds.size(0), in.inputIds.size(1), kVocab }),
            {} };
    }
    ForwardOutput reference(const ForwardInput& in) override
    {
        ++referenceCalls;
        return { m_reference.index_select(0, in.inputIds.reshape({ -1 }))
                     .reshape({ in.inputIds.size(0), in.inputIds.size(1), kVocab }),
            {} };
    }
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>&, const GenerationOptions&) override
    {
        throw std::logic_error("these tests do not sample");
    }
    int referenceCalls = 0;

private:
    at::Tensor m_policy;
    at::Tensor m_reference;
};

// log p(next | token) under table W, in double.
double logProb(const at::Tensor& w, std::int32_t token, std::int32_t next)
{
    const at::Tensor row = w[token].to(at::kDouble);
    return (row[next] - row.logsumexp(0)).item<double>();
}

// Summed log-prob of the response given the prompt, and its length.
std::pair<double, double> sequence(
    const at::Tensor& w, const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& response)
{
    std::vector<std::int32_t> all = prompt;
    all.insert(all.end(), response.begin(), response.end());
    double sum = 0;
    for (std::size_t t = prompt.size(); t < all.size(); ++t)
        sum += logProb(w, all[t - 1], all[t]);
    return { sum, static_cast<double>(response.size()) };
}

double logSigmoid(double x)
{
    return -std::log1p(std::exp(-x));
}
double sigmoid(double x)
{
    return 1.0 / (1.0 + std::exp(-x));
}

const std::vector<EncodedPreference> kPairs = {
    { { 1, 2 }, { 3, 4, 5 }, { 6, 7 }, true, false },
    { { 2, 8, 9 }, { 10 }, { 4, 4, 4, 2 }, true, false },
    { { 5 }, { 1, 9, 3 }, { 7, 7, 1 }, true, false },
};

} // namespace

class TestPreferenceObjectives : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    at::Tensor m_wPolicy;
    at::Tensor m_wReference;
    QTemporaryDir m_dir;

    std::unique_ptr<Objective> objective(const std::string& name, json params)
    {
        auto o = m_plugins.createObjective(name);
        o->configure(m_plugins.require(PluginKind::Objective, name).schema.resolve(params, "test"));
        return o;
    }

    ObjectiveBatch pairs() const
    {
        std::vector<const EncodedPreference*> ex;
        for (const auto& p : kPairs)
            ex.push_back(&p);
        return collatePreferences(ex, 0, true);
    }

    // Per pair: policy and reference sums and lengths of chosen and rejected; the policy's sum over the prompt
    // tokens after the first, and their number.
    struct PairNumbers {
        double pc, pr, rc, rr, lc, lr, prompt, lp;
    };
    std::vector<PairNumbers> numbers() const
    {
        std::vector<PairNumbers> out;
        for (const auto& p : kPairs) {
            auto [pc, lc] = sequence(m_wPolicy, p.prompt, p.chosen);
            auto [pr, lr] = sequence(m_wPolicy, p.prompt, p.rejected);
            auto [prompt, lp] = sequence(m_wPolicy, { p.prompt.front() }, { p.prompt.begin() + 1, p.prompt.end() });
            out.push_back({ pc, pr, sequence(m_wReference, p.prompt, p.chosen).first,
                sequence(m_wReference, p.prompt, p.rejected).first, lc, lr, prompt, lp });
        }
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        at::manual_seed(3);
        m_wPolicy = at::randn({ kVocab, kVocab }).mul_(2.0).requires_grad_(true);
        m_wReference = at::randn({ kVocab, kVocab }).mul_(2.0);
    }

    void lossesMatchTheirFormulas_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("params");
        QTest::newRow("dpo") << "dpo"
                             << "{\"beta\": 0.3}";
        QTest::newRow("cdpo") << "dpo"
                              << "{\"beta\": 0.3, \"label_smoothing\": 0.2}";
        QTest::newRow("ipo") << "ipo"
                             << "{\"beta\": 0.5}";
        QTest::newRow("ipo averaged") << "ipo"
                                      << "{\"beta\": 0.5, \"average_log_prob\": true}";
        QTest::newRow("orpo") << "orpo"
                              << "{\"lambda\": 0.7}";
        QTest::newRow("orpo without prompt loss") << "orpo"
                                                  << "{\"lambda\": 0.7, \"prompt_loss\": false}";
        QTest::newRow("simpo") << "simpo"
                               << "{\"beta\": 2.5, \"gamma\": 0.4}";
    }

    void lossesMatchTheirFormulas()
    {
        QFETCH(QString, name);
        QFETCH(QString, params);
        const json p = json::parse(params.toStdString());
        auto o = objective(name.toStdString(), p);
        TableModels models(m_wPolicy, m_wReference);
        const LossOutput out = o->loss(pairs(), models);
        QCOMPARE(out.tokens, 3);

        double expected = 0, sumChosenTokens = 0, sumChosenLogp = 0;
        std::vector<double> rewardsChosen, rewardsRejected;
        for (const PairNumbers& n : numbers()) {
            const double beta = p.value("beta", 0.0);
            const double h = (n.pc - n.rc) - (n.pr - n.rr);
            if (name == "dpo") {
                const double eps = p.value("label_smoothing", 0.0);
                expected += -(1 - eps) * logSigmoid(beta * h) - eps * logSigmoid(-beta * h);
                rewardsChosen.push_back(beta * (n.pc - n.rc));
                rewardsRejected.push_back(beta * (n.pr - n.rr));
            } else if (name == "ipo") {
                const bool avg = p.value("average_log_prob", false);
                const double hh = avg ? (n.pc - n.rc) / n.lc - (n.pr - n.rr) / n.lr : h;
                expected += std::pow(hh - 1 / (2 * beta), 2);
                // The rewards are DPO's (summed log-ratios) either way, as TRL logs them for ipo.
                rewardsChosen.push_back(beta * (n.pc - n.rc));
                rewardsRejected.push_back(beta * (n.pr - n.rr));
            } else if (name == "orpo") {
                const double lambda = p.at("lambda");
                auto logOdds = [](double meanLogp) { return meanLogp - std::log1p(-std::exp(meanLogp)); };
                expected += -lambda * logSigmoid(logOdds(n.pc / n.lc) - logOdds(n.pr / n.lr));
                sumChosenLogp += n.pc;
                sumChosenTokens += n.lc;
                if (p.value("prompt_loss", true)) {
                    sumChosenLogp += n.prompt;
                    sumChosenTokens += n.lp;
                }
                rewardsChosen.push_back(lambda * n.pc / n.lc);
                rewardsRejected.push_back(lambda * n.pr / n.lr);
            } else if (name == "simpo") {
                const double gamma = p.at("gamma");
                expected += -logSigmoid(beta * n.pc / n.lc - beta * n.pr / n.lr - gamma);
                rewardsChosen.push_back(beta * n.pc / n.lc);
                rewardsRejected.push_back(beta * n.pr / n.lr);
            }
        }
        expected /= 3.0;
        if (name == "orpo")
            expected += -sumChosenLogp / sumChosenTokens; // the SFT term over every trained chosen token
        const double got = out.loss.item<double>();
        QVERIFY2(std::abs(got - expected) < 1e-5 * std::max(1.0, std::abs(expected)),
            qPrintable(QString("%1: loss %2, formula %3").arg(name).arg(got, 0, 'g', 10).arg(expected, 0, 'g', 10)));
        QCOMPARE(models.referenceCalls, name == "dpo" || name == "ipo" ? 1 : 0);

        double meanC = 0, meanR = 0, accuracy = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            meanC += rewardsChosen[i] / 3;
            meanR += rewardsRejected[i] / 3;
            accuracy += rewardsChosen[i] > rewardsRejected[i] ? 1.0 / 3 : 0.0;
        }
        QVERIFY(std::abs(out.metrics.at("rewards_chosen") - meanC) < 1e-4);
        QVERIFY(std::abs(out.metrics.at("rewards_rejected") - meanR) < 1e-4);
        QVERIFY(std::abs(out.metrics.at("reward_margin") - (meanC - meanR)) < 1e-4);
        QVERIFY(std::abs(out.metrics.at("reward_accuracy") - accuracy) < 1e-6);

        // The loss is differentiable in the policy only.
        out.loss.backward();
        QVERIFY(m_wPolicy.grad().defined() && m_wPolicy.grad().abs().sum().item<double>() > 0);
        m_wPolicy.mutable_grad().zero_();
    }

    // Prefix sharing: the same losses and gradients as the two-sequence form, on real models (the attention
    // mask keeps the responses apart, positions continue the prompt's), with LoRA so the reference is the
    // adapter switched off. Prompts of different lengths, responses of different lengths, right padding.
    void prefixSharingMatchesTwoSequences_data()
    {
        QTest::addColumn<int>("architecture");
        QTest::addColumn<QString>("name");
        QTest::newRow("llama dpo") << int(Architecture::Llama) << "dpo";
        QTest::newRow("gpt2 dpo") << int(Architecture::Gpt2) << "dpo";
        QTest::newRow("qwen3 simpo") << int(Architecture::Qwen3) << "simpo";
        QTest::newRow("llama orpo") << int(Architecture::Llama) << "orpo";
    }

    void prefixSharingMatchesTwoSequences()
    {
        QFETCH(int, architecture);
        QFETCH(QString, name);
        RandomModelSpec spec;
        spec.architecture = static_cast<Architecture>(architecture);
        spec.vocabSize = kVocab;
        spec.hiddenSize = 16;
        spec.numLayers = 2;
        spec.numHeads = 4;
        if (spec.architecture != Architecture::Gpt2)
            spec.numKvHeads = 2;
        spec.intermediateSize = 32;
        auto model = createRandomCausalLM(randomModelConfig(spec), 5);
        model->setRequiresGrad(false);
        auto lora = m_plugins.createAdapter("lora");
        json lp = { { "r", 4 }, { "target_modules", "all-linear" } };
        lora->attach({ *model, m_plugins.require(PluginKind::Adapter, "lora").schema.resolve(lp, "test"), 3 });
        // Train B a little first, so the adapter is not the identity and the reference differs from the policy.
        at::NoGradGuard outer;
        for (auto& g : lora->parameterGroups(0.0)) {
            for (auto& p : g.parameters)
                p.tensor.add_(at::randn_like(p.tensor) * 0.2);
        }
        class Models final : public ModelAccess {
        public:
            Models(CausalLM& m, Adapter& a)
                : model(m)
                , adapter(a)
            { }
            ForwardOutput policy(const ForwardInput& in) override { return model.forward(in); }
            ForwardOutput reference(const ForwardInput& in) override
            {
                at::NoGradGuard noGrad;
                adapter.setEnabled(false);
                ForwardOutput out = model.forward(in);
                adapter.setEnabled(true);
                return out;
            }
            std::vector<GeneratedSequence> generate(
                const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options) override
            {
                return tunebench::generate(model, prompts, options);
            }
            CausalLM& model;
            Adapter& adapter;
        } models(*model, *lora);

        std::vector<const EncodedPreference*> ex;
        for (const auto& p : kPairs)
            ex.push_back(&p);
        const ObjectiveBatch batch = collatePreferences(ex, 0, true);
        std::vector<at::Tensor> grads[2];
        double losses[2];
        for (int share = 0; share < 2; ++share) {
            at::AutoGradMode enable(true);
            auto o = objective(name.toStdString(), { { "prefix_sharing", share == 1 } });
            const LossOutput out = o->loss(batch, models);
            losses[share] = out.loss.item<double>();
            for (auto& g : lora->parameterGroups(0.0)) {
                for (auto& p : g.parameters)
                    p.tensor.mutable_grad() = at::Tensor();
            }
            out.loss.backward();
            for (auto& g : lora->parameterGroups(0.0)) {
                for (auto& p : g.parameters)
                    grads[share].push_back(p.tensor.grad().clone());
            }
        }
        QVERIFY2(std::abs(losses[0] - losses[1]) < 1e-5,
            qPrintable(QString("two sequences %1, shared %2").arg(losses[0], 0, 'g', 10).arg(losses[1], 0, 'g', 10)));
        double worst = 0, largest = 0;
        for (std::size_t i = 0; i < grads[0].size(); ++i) {
            worst = std::max(worst, (grads[0][i] - grads[1][i]).abs().max().item<double>());
            largest = std::max(largest, grads[0][i].abs().max().item<double>());
        }
        // Float rounding differs between the two layouts; relative to the largest gradient (qwen3 simpo's reach 7).
        QVERIFY2(worst < 1e-5 * std::max(1.0, largest),
            qPrintable(QString("gradients differ by %1 (largest %2)").arg(worst).arg(largest)));
    }

    void ktoMatchesItsFormula()
    {
        const double beta = 0.4, lambdaD = 1.5, lambdaU = 0.7;
        auto o = objective(
            "kto", { { "beta", beta }, { "desirable_weight", lambdaD }, { "undesirable_weight", lambdaU } });
        std::vector<EncodedPreference> data = { { { 1, 2 }, { 3, 4, 5 }, {}, true, false },
            { { 2, 8, 9 }, { 10 }, {}, false, false }, { { 5 }, { 1, 9, 3 }, {}, true, false } };
        std::vector<const EncodedPreference*> ex;
        for (const auto& d : data)
            ex.push_back(&d);
        TableModels models(m_wPolicy, m_wReference);
        const LossOutput out = o->loss(collatePreferences(ex, 0, false), models);

        // z0 from mismatched pairs: prompt i with completion i-1.
        double kl = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& prompt = data[i].prompt;
            const auto& completion = data[(i + 2) % 3].chosen; // the previous example's, as TRL pairs them
            kl += (sequence(m_wPolicy, prompt, completion).first - sequence(m_wReference, prompt, completion).first)
                / 3;
        }
        const double z0 = std::max(0.0, kl);
        double expected = 0;
        for (const auto& d : data) {
            const double r
                = sequence(m_wPolicy, d.prompt, d.chosen).first - sequence(m_wReference, d.prompt, d.chosen).first;
            expected
                += (d.desirable ? lambdaD * (1 - sigmoid(beta * (r - z0))) : lambdaU * (1 - sigmoid(beta * (z0 - r))))
                / 3;
        }
        QVERIFY2(std::abs(out.loss.item<double>() - expected) < 1e-6,
            qPrintable(QString("loss %1, formula %2").arg(out.loss.item<double>()).arg(expected)));
        QVERIFY(std::abs(out.metrics.at("kl") - z0) < 1e-5);
    }

    void cliRuns_data()
    {
        QTest::addColumn<QString>("objective");
        QTest::addColumn<QString>("adapter");
        QTest::newRow("dpo full (frozen copy as reference)") << "dpo"
                                                             << "full";
        QTest::newRow("orpo lora") << "orpo"
                                   << "lora";
        QTest::newRow("simpo lora") << "simpo"
                                    << "lora";
        QTest::newRow("kto lora (adapter off as reference)") << "kto"
                                                             << "lora";
        QTest::newRow("ipo lora") << "ipo"
                                  << "lora";
    }

    void cliRuns()
    {
        QFETCH(QString, objective);
        QFETCH(QString, adapter);
        const fs::path root = m_dir.path().toStdString();
        const fs::path model = root / "model";
        if (!fs::exists(model / "config.json")) {
            model_test::writeTinyModelFolder(model, 3);
            // Preferences a tiny model can learn: answer a colour question with a colour, not a number.
            const char* colours[] = { "red", "blue", "green", "white" };
            const char* numbers[] = { "seven", "ten", "two", "nine" };
            std::ofstream pairs(root / "pairs.jsonl");
            std::ofstream unpaired(root / "unpaired.jsonl");
            for (int i = 0; i < 16; ++i) {
                const std::string prompt = std::string("name a colour like ") + colours[(i + 1) % 4];
                pairs << json({ { "prompt", prompt }, { "chosen", colours[i % 4] }, { "rejected", numbers[i % 4] } })
                             .dump()
                      << "\n";
                unpaired << json({ { "prompt", prompt }, { "completion", i % 2 ? colours[i % 4] : numbers[i % 4] },
                                     { "label", i % 2 == 1 } })
                                .dump()
                         << "\n";
            }
        }
        const bool kto = objective == "kto";
        const QString ws = m_dir.path() + "/ws-" + objective;
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const QString cfg = m_dir.path() + "/" + objective + ".yaml";
        std::string yaml = "model: " + model.string()
            + "\ndataset: " + (root / (kto ? "unpaired.jsonl" : "pairs.jsonl")).string()
            + "\nobjective: " + objective.toStdString() + "\nadapter:\n  type: " + adapter.toStdString() + "\n"
            + (adapter == "lora" ? "  r: 8\n  lora_alpha: 16\n  target_modules: all-linear\n" : "")
            + "training:\n  learning_rate: " + (adapter == "lora" ? "1.0e-2" : "2.0e-3")
            + "\n  max_steps: 24\n  per_device_train_batch_size: 8\n  seed: 1\n  threads: 1\n";
        QVERIFY(writeTextFile(cfg, QByteArray::fromStdString(yaml)));
        const CliResult r = runCli({ "train", cfg, "--workspace", ws });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out.right(500)));
        std::vector<json> steps;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const json e = json::parse(line.toStdString());
            if (e["event"] == "step")
                steps.push_back(e);
        }
        QCOMPARE(steps.size(), 24u);
        if (kto) {
            QVERIFY2(steps.back()["loss"].get<double>() < steps.front()["loss"].get<double>(),
                qPrintable(QString::fromStdString(steps.front().dump() + " -> " + steps.back().dump())));
            QVERIFY(steps.back().contains("kl") && steps.back().contains("rewards_chosen"));
            return;
        }
        double lastAccuracy = 0, lastMargin = 0;
        for (std::size_t i = steps.size() - 4; i < steps.size(); ++i) {
            lastAccuracy += steps[i]["reward_accuracy"].get<double>() / 4;
            lastMargin += steps[i]["reward_margin"].get<double>() / 4;
        }
        const double firstMargin = steps.front()["reward_margin"].get<double>();
        QVERIFY2(lastAccuracy > 0.9, qPrintable(QString("reward accuracy over the last steps %1").arg(lastAccuracy)));
        QVERIFY2(lastMargin > firstMargin, qPrintable(QString("margin %1 -> %2").arg(firstMargin).arg(lastMargin)));
        // The store has the reward metrics too.
        const CliResult show = runCli({ "runs", "show", "1", "--workspace", ws });
        QVERIFY2(show.out.contains("\"reward_accuracy\"") && show.out.contains("\"logps_chosen\""),
            qPrintable(show.out.left(800)));
    }

    // precompute_ref_log_probs: the same losses (the reference numbers come from the same base model), the cache
    // in the run folder, and a clear error for an objective that cannot use it. Needs cliRuns' files.
    void cachedReferenceLogProbs()
    {
        const fs::path root = m_dir.path().toStdString();
        QVERIFY(fs::exists(root / "pairs.jsonl"));
        const QString ws = m_dir.path() + "/ws-cache";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        auto run = [&](const std::string& objective, bool cached, CliResult& r) {
            const QString cfg = m_dir.path() + "/cache.yaml";
            writeTextFile(cfg,
                QByteArray::fromStdString("model: " + (root / "model").string() + "\ndataset: "
                    + (root / (objective == "kto" ? "unpaired.jsonl" : "pairs.jsonl")).string() + "\nobjective: "
                    + objective + "\nadapter: full\ntraining:\n  learning_rate: 2.0e-3\n  max_steps: 6\n"
                    + "  per_device_train_batch_size: 4\n  seed: 1\n  threads: 1\n  precompute_ref_log_probs: "
                    + (cached ? "true" : "false") + "\n"));
            r = runCli({ "train", cfg, "--workspace", ws });
            std::vector<double> losses;
            for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
                const json e = json::parse(line.toStdString());
                if (e["event"] == "step")
                    losses.push_back(e["loss"]);
            }
            return losses;
        };
        CliResult plain, cached;
        const std::vector<double> a = run("dpo", false, plain);
        const std::vector<double> b = run("dpo", true, cached);
        QCOMPARE(plain.code, 0);
        QVERIFY2(cached.code == 0, qPrintable(cached.err));
        QVERIFY(cached.out.contains("\"event\":\"reference_cached\""));
        QVERIFY(fs::exists(fs::path(ws.toStdString()) / "runs" / "2" / "reference_logps.safetensors"));
        QCOMPARE(a.size(), 6u);
        QCOMPARE(b.size(), a.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            QVERIFY2(std::abs(a[i] - b[i]) < 1e-5 * std::max(1.0, std::abs(a[i])),
                qPrintable(QString("step %1: %2 vs %3").arg(i + 1).arg(a[i]).arg(b[i])));
        CliResult kto;
        run("kto", true, kto);
        QCOMPARE(kto.code, 1);
        QVERIFY2(kto.err.contains("precompute_ref_log_probs: objective 'kto' cannot precompute"), qPrintable(kto.err));
    }
};

QTEST_GUILESS_MAIN(TestPreferenceObjectives)
#include "test_preference_objectives.moc"
