// Objective distill: the loss on small fixed logits against the formulas evaluated by hand in double
// (forward KL, reverse KL, generalised JSD, temperature, the mix with SFT), against TRL's
// GKDTrainer.generalized_jsd_loss on the same logits (tests/reference/trl_gkd_jsd.py, one Python process for
// every case), a tiny student distilled from a tiny teacher whose divergence falls (off-policy with full
// fine-tuning, on-policy with LoRA), an on-policy run resumed exactly, and teachers that do not fit refused
// with a message naming `teacher`.

#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_writer.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"
#include "support/reference.h"

#include <ATen/ATen.h>

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kBatch = 2, kLength = 4, kVocab = 5;

// Fixed logits [B, T, V] whatever the input: the student's with gradients.
class FixedModels final : public ModelAccess {
public:
    FixedModels(at::Tensor student, at::Tensor teacher)
        : m_student(std::move(student))
        , m_teacher(std::move(teacher))
    { }
    ForwardOutput policy(const ForwardInput&) override { return { m_student, {} }; }
    ForwardOutput reference(const ForwardInput&) override { throw std::logic_error("distill has no reference"); }
    ForwardOutput teacher(const ForwardInput&) override { return { m_teacher, {} }; }
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>&, const GenerationOptions&) override
    {
        throw std::logic_error("off-policy cases do not sample");
    }

private:
    at::Tensor m_student;
    at::Tensor m_teacher;
};

// The teacher's logits a fixed row per input id (so one example alone or in any batch gets the same numbers),
// counting its calls; the student's fixed [B, T, V] with gradients.
class TableModels final : public ModelAccess {
public:
    TableModels(at::Tensor student, at::Tensor table)
        : m_student(std::move(student))
        , m_table(std::move(table))
    { }
    ForwardOutput policy(const ForwardInput&) override { return { m_student, {} }; }
    ForwardOutput reference(const ForwardInput&) override { throw std::logic_error("distill has no reference"); }
    ForwardOutput teacher(const ForwardInput& input) override
    {
        ++calls;
        const at::Tensor ids = input.inputIds;
        return { m_table.index_select(0, ids.reshape({ -1 })).view({ ids.size(0), ids.size(1), -1 }), {} };
    }
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>&, const GenerationOptions&) override
    {
        throw std::logic_error("off-policy cases do not sample");
    }
    int calls = 0;

private:
    at::Tensor m_student;
    at::Tensor m_table;
};

// Row 0 trains its last two tokens, row 1 its second and third (the fourth is padding).
at::Tensor labels()
{
    return at::tensor({ -100, -100, 3, 1, -100, 2, 4, -100 }, at::kLong).view({ kBatch, kLength });
}

std::vector<double> softmax(const at::Tensor& logits, std::int64_t b, std::int64_t t, double temperature)
{
    std::vector<double> p(kVocab);
    double total = 0;
    for (std::int64_t v = 0; v < kVocab; ++v) {
        p[v] = std::exp(logits[b][t][v].item<double>() / temperature);
        total += p[v];
    }
    for (double& x : p)
        x /= total;
    return p;
}

double kl(const std::vector<double>& a, const std::vector<double>& b)
{
    double sum = 0;
    for (std::size_t v = 0; v < a.size(); ++v)
        sum += a[v] * std::log(a[v] / b[v]);
    return sum;
}

struct Expected {
    double divergence = 0, studentCe = 0, teacherCe = 0;
};

// The definitions, position by position: position t predicts label t + 1.
Expected byHand(const at::Tensor& student, const at::Tensor& teacher, double beta, double temperature)
{
    Expected e;
    int positions = 0;
    const at::Tensor l = labels();
    for (std::int64_t b = 0; b < kBatch; ++b) {
        for (std::int64_t t = 0; t + 1 < kLength; ++t) {
            const std::int64_t label = l[b][t + 1].item<std::int64_t>();
            if (label == -100)
                continue;
            ++positions;
            const std::vector<double> ps = softmax(student, b, t, temperature),
                                      pt = softmax(teacher, b, t, temperature);
            std::vector<double> m(kVocab);
            for (std::int64_t v = 0; v < kVocab; ++v)
                m[v] = beta * pt[v] + (1 - beta) * ps[v];
            e.divergence += beta == 0 ? kl(pt, ps) : beta == 1 ? kl(ps, pt) : beta * kl(pt, m) + (1 - beta) * kl(ps, m);
            e.studentCe -= std::log(softmax(student, b, t, 1.0)[label]);
            e.teacherCe -= std::log(softmax(teacher, b, t, 1.0)[label]);
        }
    }
    e.divergence /= positions;
    e.studentCe /= positions;
    e.teacherCe /= positions;
    return e;
}

struct Case {
    const char* name;
    const char* params;
    double beta; // as the divergence uses it
    double temperature;
    double alpha;
};

const std::vector<Case> kCases = {
    { "forward_kl", R"({"loss": "forward_kl"})", 0.0, 1.0, 1.0 },
    { "reverse_kl", R"({"loss": "reverse_kl"})", 1.0, 1.0, 1.0 },
    { "jsd beta 0.5", R"({"loss": "jsd", "beta": 0.5})", 0.5, 1.0, 1.0 },
    { "jsd beta 0.1 temperature 2", R"({"loss": "jsd", "beta": 0.1, "temperature": 2.0})", 0.1, 2.0, 1.0 },
    { "reverse_kl temperature 0.5", R"({"loss": "reverse_kl", "temperature": 0.5})", 1.0, 0.5, 1.0 },
    { "forward_kl alpha 0.3", R"({"loss": "forward_kl", "alpha": 0.3})", 0.0, 1.0, 0.3 },
    { "jsd beta 0.9 alpha 0.6", R"({"loss": "jsd", "beta": 0.9, "alpha": 0.6})", 0.9, 1.0, 0.6 },
};

} // namespace

class TestDistill : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    QTemporaryDir m_dir;
    at::Tensor m_student;
    at::Tensor m_teacher;
    fs::path m_root;

    std::unique_ptr<Objective> objective(json params)
    {
        params["teacher"] = "unused: the fixed logits are the teacher";
        auto o = m_plugins.createObjective("distill");
        o->configure(m_plugins.require(PluginKind::Objective, "distill").schema.resolve(params, "test"));
        return o;
    }

    LossOutput lossOf(const Case& c)
    {
        auto o = objective(json::parse(c.params));
        FixedModels models(m_student, m_teacher);
        ObjectiveBatch batch;
        batch.sequences.inputIds = at::zeros({ kBatch, kLength }, at::kLong);
        batch.sequences.attentionMask = at::ones({ kBatch, kLength }, at::kLong);
        batch.sequences.labels = labels();
        return o->loss(batch, models);
    }

    TrainResult train(const json& config, const fs::path& runDir, std::vector<json>* steps = nullptr,
        bool resume = false, int cancelAfterStep = 0)
    {
        std::atomic<bool> cancel { false };
        TrainerOptions o;
        o.runDir = runDir;
        o.resume = resume;
        o.cancel = &cancel;
        o.events = [steps, cancelAfterStep, &cancel](const json& e) {
            if (steps && e["event"] == "step")
                steps->push_back(e);
            if (cancelAfterStep > 0 && e["event"] == "step" && e["step"].get<int>() == cancelAfterStep)
                cancel = true;
        };
        return runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
    }

    json runConfig(const std::string& teacher) const
    {
        return { { "model", (m_root / "student").string() }, { "dataset", (m_root / "data.jsonl").string() },
            { "objective", { { "type", "distill" }, { "teacher", teacher } } }, { "learning_rate", 1e-2 },
            { "per_device_train_batch_size", 4 }, { "max_steps", 16 }, { "seed", 5 }, { "threads", 1 } };
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        at::manual_seed(17);
        m_student = (at::randn({ kBatch, kLength, kVocab }) * 2.0).requires_grad_(true);
        m_teacher = at::randn({ kBatch, kLength, kVocab }) * 2.0;
        m_root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(m_root / "student", 7);
        model_test::writeTinyModelFolder(m_root / "teacher", 3);
        std::ofstream data(m_root / "data.jsonl");
        const char* animals[] = { "cat", "dog", "bird", "fox" };
        for (int i = 0; i < 16; ++i)
            data << json({ { "instruction", std::string("the ") + animals[i % 4] + " sat on the" },
                             { "output", std::string(" mat near the ") + animals[(i + 1) % 4] } })
                        .dump()
                 << "\n";
    }

    void lossMatchesTheDefinitions_data()
    {
        QTest::addColumn<int>("index");
        for (std::size_t i = 0; i < kCases.size(); ++i)
            QTest::newRow(kCases[i].name) << static_cast<int>(i);
    }

    void lossMatchesTheDefinitions()
    {
        QFETCH(int, index);
        const Case& c = kCases[static_cast<std::size_t>(index)];
        const LossOutput out = lossOf(c);
        const Expected e = byHand(m_student.detach(), m_teacher, c.beta, c.temperature);
        const double expected = c.alpha * e.divergence + (1 - c.alpha) * e.studentCe;
        QCOMPARE(out.tokens, 4);
        QVERIFY2(std::abs(out.loss.item<double>() - expected) < 1e-5,
            qPrintable(
                QString("loss %1, by hand %2").arg(out.loss.item<double>(), 0, 'g', 10).arg(expected, 0, 'g', 10)));
        QVERIFY(std::abs(out.metrics.at("divergence") - e.divergence) < 1e-5);
        QVERIFY(std::abs(out.metrics.at("student_loss") - e.studentCe) < 1e-5);
        QVERIFY(std::abs(out.metrics.at("teacher_loss") - e.teacherCe) < 1e-5);
        QVERIFY(std::abs(out.metrics.at("teacher_student_gap") - (e.studentCe - e.teacherCe)) < 1e-5);
        // Only the student has gradients, and it gets some.
        out.loss.backward();
        QVERIFY(m_student.grad().defined() && m_student.grad().abs().sum().item<double>() > 0);
        m_student.mutable_grad().zero_();
    }

    // Input ids whose labels are those of labels() (trained positions carry the next id), row 1 padded at the end.
    static ObjectiveBatch tableBatch(std::int64_t extraPadding = 0)
    {
        ObjectiveBatch batch;
        const std::int64_t width = kLength + extraPadding;
        at::Tensor ids = at::zeros({ kBatch, width }, at::kLong);
        at::Tensor mask = at::zeros({ kBatch, width }, at::kLong);
        at::Tensor l = at::full({ kBatch, width }, -100, at::kLong);
        const std::int64_t row0[] = { 2, 0, 3, 1 }, row1[] = { 4, 2, 4 };
        for (std::int64_t t = 0; t < 4; ++t) {
            ids[0][t] = row0[t];
            mask[0][t] = 1;
        }
        for (std::int64_t t = 0; t < 3; ++t) {
            ids[1][t] = row1[t];
            mask[1][t] = 1;
        }
        l[0][2] = 3;
        l[0][3] = 1;
        l[1][1] = 2;
        l[1][2] = 4;
        batch.sequences.inputIds = ids;
        batch.sequences.attentionMask = mask;
        batch.sequences.labels = l;
        return batch;
    }

    // teacher_top_k at least the vocabulary is the full loss, for every loss, temperature and mix.
    void topKOfTheWholeVocabularyIsTheFullLoss_data() { lossMatchesTheDefinitions_data(); }

    void topKOfTheWholeVocabularyIsTheFullLoss()
    {
        QFETCH(int, index);
        const Case& c = kCases[static_cast<std::size_t>(index)];
        at::manual_seed(23);
        const at::Tensor table = at::randn({ kVocab, kVocab }) * 2.0;
        json topParams = json::parse(c.params);
        topParams["teacher_top_k"] = kVocab + 3;
        TableModels full(m_student, table), top(m_student, table);
        const LossOutput a = objective(json::parse(c.params))->loss(tableBatch(), full);
        const LossOutput b = objective(topParams)->loss(tableBatch(), top);
        QVERIFY2(std::abs(a.loss.item<double>() - b.loss.item<double>()) < 1e-6,
            qPrintable(QString("full %1, top-k %2").arg(a.loss.item<double>()).arg(b.loss.item<double>())));
        QVERIFY(std::abs(a.metrics.at("teacher_loss") - b.metrics.at("teacher_loss")) < 1e-6);
        QCOMPARE(b.metrics.at("teacher_cached"), 0.0);
        QCOMPARE(top.calls, 2); // one forward per example
    }

    // k = 2: both distributions over the teacher's two most likely tokens, renormalised there, by hand; the
    // examples' teacher comes from the cache the second time, and padding the batch wider changes nothing.
    void topKByHandAndCached()
    {
        at::manual_seed(29);
        const at::Tensor table = at::randn({ kVocab, kVocab }) * 2.0;
        const double temperature = 1.5, beta = 0.3;
        auto o = objective(
            { { "loss", "jsd" }, { "beta", beta }, { "temperature", temperature }, { "teacher_top_k", 2 } });
        TableModels models(m_student, table);
        const LossOutput first = o->loss(tableBatch(), models);
        const ObjectiveBatch batch = tableBatch();
        double expected = 0, teacherCe = 0;
        int positions = 0;
        for (std::int64_t b = 0; b < kBatch; ++b) {
            for (std::int64_t t = 0; t + 1 < kLength; ++t) {
                const std::int64_t label = batch.sequences.labels[b][t + 1].item<std::int64_t>();
                if (label == -100)
                    continue;
                ++positions;
                const at::Tensor row = table[batch.sequences.inputIds[b][t].item<std::int64_t>()].to(at::kDouble);
                const at::Tensor ids = std::get<1>(row.topk(2));
                auto restricted = [&](const at::Tensor& logits) {
                    std::vector<double> p(2);
                    const double z = std::exp(logits[ids[0]].item<double>() / temperature)
                        + std::exp(logits[ids[1]].item<double>() / temperature);
                    for (int i = 0; i < 2; ++i)
                        p[i] = std::exp(logits[ids[i]].item<double>() / temperature) / z;
                    return p;
                };
                const std::vector<double> pt = restricted(row);
                const std::vector<double> ps = restricted(m_student.detach()[b][t].to(at::kDouble));
                const std::vector<double> m = { beta * pt[0] + (1 - beta) * ps[0], beta * pt[1] + (1 - beta) * ps[1] };
                expected += beta * kl(pt, m) + (1 - beta) * kl(ps, m);
                teacherCe -= at::log_softmax(row, 0)[label].item<double>();
            }
        }
        expected /= positions;
        teacherCe /= positions;
        QVERIFY2(std::abs(first.metrics.at("divergence") - expected) < 1e-5,
            qPrintable(QString("%1 vs by hand %2").arg(first.metrics.at("divergence")).arg(expected)));
        QVERIFY(std::abs(first.metrics.at("teacher_loss") - teacherCe) < 1e-5);
        QCOMPARE(models.calls, 2);
        const LossOutput again = o->loss(tableBatch(), models);
        QCOMPARE(models.calls, 2); // both examples from the cache
        QCOMPARE(again.metrics.at("teacher_cached"), 1.0);
        QCOMPARE(again.loss.item<double>(), first.loss.item<double>());
        ObjectiveBatch wider = tableBatch(3);
        const at::Tensor widerStudent = at::cat({ m_student.detach(), at::zeros({ kBatch, 3, kVocab }) }, 1);
        TableModels widerModels(widerStudent, table);
        const LossOutput padded = o->loss(wider, widerModels);
        QCOMPARE(widerModels.calls, 0);
        QCOMPARE(padded.loss.item<double>(), first.loss.item<double>());
    }

    // jsd's ends are the KL directions: beta near 0 and 1 approach forward_kl and reverse_kl.
    void jsdApproachesItsLimits()
    {
        const double forward = lossOf({ "", R"({"loss": "forward_kl"})", 0, 1, 1 }).loss.item<double>();
        const double reverse = lossOf({ "", R"({"loss": "reverse_kl"})", 1, 1, 1 }).loss.item<double>();
        const double nearForward = lossOf({ "", R"({"loss": "jsd", "beta": 0.0001})", 0, 1, 1 }).loss.item<double>();
        const double nearReverse = lossOf({ "", R"({"loss": "jsd", "beta": 0.9999})", 0, 1, 1 }).loss.item<double>();
        // The generalised JSD is (1 - beta) * beta * ... near the ends: divide by the scale before comparing.
        QVERIFY2(std::abs(nearForward / (0.0001 * 0.9999) - forward) < 1e-2 * forward,
            qPrintable(QString("%1 vs %2").arg(nearForward / (0.0001 * 0.9999)).arg(forward)));
        QVERIFY2(std::abs(nearReverse / (0.0001 * 0.9999) - reverse) < 1e-2 * reverse,
            qPrintable(QString("%1 vs %2").arg(nearReverse / (0.0001 * 0.9999)).arg(reverse)));
    }

    // TRL's generalized_jsd_loss on the same logits, aligned as it expects them (position t against label t + 1).
    void divergenceMatchesTrl()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        json cases = json::array();
        auto nested = [](const at::Tensor& t) {
            const at::Tensor d = t.detach().narrow(1, 0, kLength - 1).to(at::kDouble).contiguous();
            json rows = json::array();
            for (std::int64_t b = 0; b < d.size(0); ++b) {
                json positions = json::array();
                for (std::int64_t p = 0; p < d.size(1); ++p) {
                    std::vector<double> v(d[b][p].data_ptr<double>(), d[b][p].data_ptr<double>() + kVocab);
                    positions.push_back(v);
                }
                rows.push_back(positions);
            }
            return rows;
        };
        const at::Tensor shifted = labels().narrow(1, 1, kLength - 1).contiguous();
        json shiftedLabels = json::array();
        for (std::int64_t b = 0; b < kBatch; ++b)
            shiftedLabels.push_back(std::vector<std::int64_t>(
                shifted[b].data_ptr<std::int64_t>(), shifted[b].data_ptr<std::int64_t>() + kLength - 1));
        for (const Case& c : kCases) {
            if (c.alpha != 1.0)
                continue; // TRL's function is the divergence alone
            cases.push_back({ { "name", c.name }, { "student", nested(m_student) }, { "teacher", nested(m_teacher) },
                { "labels", shiftedLabels }, { "beta", c.beta }, { "temperature", c.temperature },
                { "tunebench", lossOf(c).loss.item<double>() } });
        }
        const reference::Result r = reference::run("trl_gkd_jsd.py", {}, QByteArray::fromStdString(cases.dump()));
        qInfo().noquote() << r.err.trimmed();
        QVERIFY2(r.code == 0, qPrintable(QString("exit %1: %2\n%3").arg(r.code).arg(r.err).arg(QString(r.out))));
        QCOMPARE(r.out.count('\n'), static_cast<int>(cases.size()));
    }

    void distilledStudentApproachesItsTeacher_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<double>("onPolicyRatio");
        QTest::addColumn<double>("factor"); // the divergence falls below this share of its start
        // On-policy batches change with the student, and JSD is bounded: a smaller fall over 16 steps.
        QTest::newRow("full, off-policy, forward KL") << "full" << 0.0 << 0.5;
        QTest::newRow("lora, half on-policy, jsd") << "lora" << 0.5 << 0.85;
    }

    void distilledStudentApproachesItsTeacher()
    {
        QFETCH(QString, adapter);
        QFETCH(double, onPolicyRatio);
        QFETCH(double, factor);
        json config = runConfig((m_root / "teacher").string());
        config["adapter"] = adapter.toStdString();
        if (adapter == "lora") {
            config["target_modules"] = "all-linear";
            config["learning_rate"] = 3e-2;
            config["objective"]["loss"] = "jsd";
            config["objective"]["on_policy_ratio"] = onPolicyRatio;
            config["objective"]["max_new_tokens"] = 8;
        }
        std::vector<json> steps;
        const TrainResult result = train(config, m_root / ("run-" + adapter.toStdString()), &steps);
        QCOMPARE(result.status, TrainResult::Status::Finished);
        QCOMPARE(steps.size(), 16u);
        double first = 0, last = 0, onPolicy = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            first += steps[i]["divergence"].get<double>() / 4;
            last += steps[steps.size() - 1 - i]["divergence"].get<double>() / 4;
        }
        for (const json& s : steps) {
            onPolicy += s["on_policy"].get<double>();
            QVERIFY(s.contains("teacher_loss") && s.contains("student_loss") && s.contains("teacher_student_gap"));
        }
        QVERIFY2(last < factor * first, qPrintable(QString("divergence %1 -> %2").arg(first).arg(last)));
        if (onPolicyRatio > 0)
            QVERIFY2(onPolicy > 0 && onPolicy < 16, qPrintable(QString("%1 on-policy steps of 16").arg(onPolicy)));
        else
            QCOMPARE(onPolicy, 0.0);
    }

    // The on-policy coin and the sampler's seed come from the run's CPU generator, which checkpoints restore: a run
    // stopped after step 4 and resumed samples the same completions and logs the straight run's losses.
    void onPolicyRunResumesExactly()
    {
        json config = runConfig((m_root / "teacher").string());
        config["adapter"] = "lora";
        config["target_modules"] = "all-linear";
        config["objective"]["on_policy_ratio"] = 0.5;
        config["objective"]["max_new_tokens"] = 6;
        config["max_steps"] = 8;
        config["save_steps"] = 4;
        std::vector<json> straight, resumed;
        train(config, m_root / "straight", &straight);
        QCOMPARE(train(config, m_root / "resumed", &resumed, false, 4).status, TrainResult::Status::Cancelled);
        train(config, m_root / "resumed", &resumed, true);
        QCOMPARE(resumed.size(), straight.size());
        double onPolicy = 0;
        for (const json& s : straight)
            onPolicy += s["on_policy"].get<double>();
        QVERIFY2(onPolicy > 0 && onPolicy < 8, "both kinds of batch are in the 8 steps");
        for (std::size_t i = 0; i < straight.size(); ++i) {
            QVERIFY2(resumed[i]["loss"] == straight[i]["loss"] && resumed[i]["on_policy"] == straight[i]["on_policy"],
                qPrintable(QString::fromStdString(straight[i].dump() + " vs " + resumed[i].dump())));
        }
    }

    // teacher_top_k over two epochs (the second served from the cache) on a real teacher: the divergence falls, and
    // a run stopped after step 6 and resumed (its cache empty) logs the straight run's losses exactly.
    void topKRunFallsAndResumesExactly()
    {
        json config = runConfig((m_root / "teacher").string());
        config["objective"]["teacher_top_k"] = 8;
        config["max_steps"] = 10;
        config["save_steps"] = 6;
        std::vector<json> straight, resumed;
        QCOMPARE(train(config, m_root / "topk-straight", &straight).status, TrainResult::Status::Finished);
        QCOMPARE(train(config, m_root / "topk-resumed", &resumed, false, 6).status, TrainResult::Status::Cancelled);
        train(config, m_root / "topk-resumed", &resumed, true);
        QCOMPARE(straight.size(), std::size_t(10));
        QCOMPARE(resumed.size(), straight.size());
        for (std::size_t i = 0; i < straight.size(); ++i)
            QVERIFY2(resumed[i]["loss"] == straight[i]["loss"],
                qPrintable(QString::fromStdString(straight[i].dump() + " vs " + resumed[i].dump())));
        // 16 examples (4 distinct, so the first batch may repeat one) in batches of 4: steps 5 on are the second
        // epoch, every example already seen.
        QVERIFY(straight[0]["teacher_cached"].get<double>() < 1.0);
        QCOMPARE(straight[4]["teacher_cached"].get<double>(), 1.0);
        QVERIFY2(straight.back()["divergence"].get<double>() < straight.front()["divergence"].get<double>(),
            qPrintable(QString::fromStdString(straight.front().dump() + " -> " + straight.back().dump())));
    }

    void teachersThatDoNotFitAreRefused_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("message");
        QTest::newRow("no teacher") << "none"
                                    << "teacher: objective 'distill' needs the teacher's model folder";
        QTest::newRow("another vocabulary size") << "vocab"
                                                 << "vocab_size 300 in its config.json, the student's is 264";
        QTest::newRow("another tokenizer") << "tokenizer"
                                           << "the tokenizer differs from the student's: id 256 is 'he' in the "
                                              "teacher, '\xC4\xA0t' in the student";
        QTest::newRow("no model") << "missing"
                                  << "its tokenizer does not load";
    }

    void teachersThatDoNotFitAreRefused()
    {
        QFETCH(QString, kind);
        QFETCH(QString, message);
        const fs::path folder = m_root / ("bad-" + kind.toStdString());
        if (kind == "vocab") {
            model_test::writeTinyTokenizer(folder);
            RandomModelSpec spec = model_test::tinyFolderSpec();
            spec.vocabSize = 300;
            saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 3), folder);
        } else if (kind == "tokenizer") {
            model_test::writeTinyModelFolder(folder, 3);
            // Two merged tokens trade ids: same size, other ids.
            json doc = json::parse(std::ifstream(folder / "tokenizer.json"));
            json& vocab = doc["model"]["vocab"];
            const std::string a = "\xC4\xA0t", b = "he";
            std::swap(vocab[a], vocab[b]);
            std::ofstream(folder / "tokenizer.json") << doc.dump();
        }
        const std::string teacher = kind == "none" ? "" : folder.string();
        try {
            train(runConfig(teacher), m_root / ("refused-" + kind.toStdString()));
            QFAIL("the run started");
        } catch (const InputError& e) {
            const QString what = QString::fromUtf8(e.what());
            QVERIFY2(what.contains(message), qPrintable(what));
            if (kind != "none")
                QVERIFY2(
                    what.startsWith("teacher (" + QString::fromStdString(folder.string()) + ")"), qPrintable(what));
        }
    }
};

QTEST_GUILESS_MAIN(TestDistill)
#include "test_distill.moc"
