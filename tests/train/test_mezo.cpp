// Optimiser mezo (core/train/mezo.h): one step against SPSA computed by hand on a tiny parameter set (the
// perturbation drawn again from the step's seed, the two losses, the projected gradient, the update with
// decoupled weight decay); the parameters put back after the estimate; no gradient anywhere; a tiny model's
// loss falling over a short run for full fine-tuning and LoRA; and a run stopped and resumed from its
// checkpoint giving the straight run's losses exactly.

#include "core/method/plugin_registry.h"
#include "core/train/mezo.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// f(theta) = sum_i w_i (theta_i - c_i)^2 over every element, in double.
double quadratic(const std::vector<std::vector<double>>& theta)
{
    double f = 0;
    for (std::size_t t = 0; t < theta.size(); ++t) {
        for (std::size_t i = 0; i < theta[t].size(); ++i) {
            const double c = 0.1 * static_cast<double>(i) - 0.3 * static_cast<double>(t);
            f += (1.0 + static_cast<double>(i + t)) * (theta[t][i] - c) * (theta[t][i] - c);
        }
    }
    return f;
}

std::vector<double> values(const at::Tensor& t)
{
    const at::Tensor d = t.detach().to(at::kDouble).contiguous().reshape({ -1 });
    return { d.data_ptr<double>(), d.data_ptr<double>() + d.numel() };
}

} // namespace

class TestMezo : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    struct Run {
        TrainResult result;
        std::vector<double> losses;
    };

    Run train(const json& config, const fs::path& runDir, bool resume = false, int cancelAfterStep = 0)
    {
        Run run;
        std::atomic<bool> cancel { false };
        TrainerOptions o;
        o.runDir = runDir;
        o.resume = resume;
        o.cancel = &cancel;
        o.events = [&](const json& e) {
            if (e["event"] == "step") {
                run.losses.push_back(e["loss"].get<double>());
                if (!e.contains("mezo_projected_grad") || !e.contains("mezo_loss_plus"))
                    throw std::runtime_error("a MeZO step without its estimate: " + e.dump());
                if (cancelAfterStep > 0 && e["step"].get<int>() == cancelAfterStep)
                    cancel = true;
            }
        };
        run.result = runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
        return run;
    }

    json config(const std::string& adapter) const
    {
        json c = { { "model", m_model.string() }, { "dataset", m_data.string() }, { "optim", "mezo" },
            { "adapter", adapter }, { "per_device_train_batch_size", 8 }, { "max_steps", 40 },
            { "lr_scheduler_type", "constant" }, { "seed", 7 }, { "threads", 1 }, { "mezo_eps", 1e-3 } };
        if (adapter == "lora") {
            c["target_modules"] = "all-linear";
            c["r"] = 8;
            c["lora_alpha"] = 16;
            c["learning_rate"] = 3e-3; // SPSA over 8k LoRA parameters: larger rates wander
        } else {
            c["learning_rate"] = 5e-3;
        }
        return c;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park" };
        for (int i = 0; i < 16; ++i)
            out << json({ { "text", lines[i % 2] } }).dump() << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
    }

    void stepEqualsSpsaByHand_data()
    {
        QTest::addColumn<double>("weightDecay");
        QTest::addColumn<double>("lrScale");
        QTest::newRow("plain") << 0.0 << 1.0;
        QTest::newRow("weight decay and a scaled group") << 0.1 << 0.5;
    }

    void stepEqualsSpsaByHand()
    {
        QFETCH(double, weightDecay);
        QFETCH(double, lrScale);
        const double eps = 1e-2, lr = 0.05;
        const std::uint64_t seed = 11;
        at::manual_seed(1);
        std::vector<at::Tensor> tensors
            = { at::randn({ 3 }).requires_grad_(true), at::randn({ 2, 2 }).requires_grad_(true) };
        ParameterGroup first, second;
        first.parameters = { { "a", tensors[0] } };
        second.parameters = { { "b", tensors[1] } };
        second.weightDecay = weightDecay;
        second.lrScale = lrScale;
        MezoOptimizer mezo({ first, second }, { eps, seed });
        auto loss = [&]() { return quadratic({ values(tensors[0]), values(tensors[1]) }); };

        for (int step = 0; step < 2; ++step) {
            const std::vector<std::vector<double>> theta = { values(tensors[0]), values(tensors[1]) };
            // z: float32 standard normals from one generator seeded with the step's seed, parameter after parameter.
            at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(MezoOptimizer::stepSeed(seed, step));
            const std::vector<std::vector<double>> z
                = { values(at::randn({ 3 }, gen, at::kFloat)), values(at::randn({ 2, 2 }, gen, at::kFloat)) };
            std::vector<std::vector<double>> plus = theta, minus = theta;
            for (std::size_t t = 0; t < 2; ++t) {
                for (std::size_t i = 0; i < theta[t].size(); ++i) {
                    plus[t][i] += eps * z[t][i];
                    minus[t][i] -= eps * z[t][i];
                }
            }
            const double g = (quadratic(plus) - quadratic(minus)) / (2 * eps);
            const MezoEstimate e = mezo.estimate(loss);
            QVERIFY2(std::abs(e.lossPlus - quadratic(plus)) < 1e-5 && std::abs(e.lossMinus - quadratic(minus)) < 1e-5,
                qPrintable(QString("losses %1 %2, by hand %3 %4")
                               .arg(e.lossPlus)
                               .arg(e.lossMinus)
                               .arg(quadratic(plus))
                               .arg(quadratic(minus))));
            QVERIFY2(std::abs(e.projectedGrad - g) < 1e-3 * std::max(1.0, std::abs(g)),
                qPrintable(QString("projected gradient %1, by hand %2").arg(e.projectedGrad).arg(g)));
            // The estimate puts theta back (up to float rounding) and leaves no gradient.
            for (std::size_t t = 0; t < 2; ++t) {
                QVERIFY(!tensors[t].grad().defined());
                const std::vector<double> now = values(tensors[t]);
                for (std::size_t i = 0; i < now.size(); ++i)
                    QVERIFY(std::abs(now[i] - theta[t][i]) < 1e-6);
            }
            mezo.step(lr);
            QCOMPARE(mezo.stepCount(), step + 1);
            for (std::size_t t = 0; t < 2; ++t) {
                const double groupLr = lr * (t == 1 ? lrScale : 1.0);
                const double decay = t == 1 ? weightDecay : 0.0;
                const std::vector<double> now = values(tensors[t]);
                for (std::size_t i = 0; i < now.size(); ++i) {
                    const double expected = theta[t][i] * (1 - groupLr * decay) - groupLr * e.projectedGrad * z[t][i];
                    QVERIFY2(std::abs(now[i] - expected) < 1e-5,
                        qPrintable(QString("step %1, tensor %2[%3]: %4, by hand %5")
                                       .arg(step)
                                       .arg(t)
                                       .arg(i)
                                       .arg(now[i], 0, 'g', 10)
                                       .arg(expected, 0, 'g', 10)));
                }
            }
        }
        // The state is the step count; restoring it draws the same z again.
        const auto state = mezo.state();
        QCOMPARE(state.size(), 1u);
        MezoOptimizer restored({ first, second }, { eps, seed });
        restored.restoreState(state);
        QCOMPARE(restored.stepCount(), 2);
        QVERIFY(MezoOptimizer::stepSeed(seed, 0) != MezoOptimizer::stepSeed(seed, 1));
        QVERIFY(MezoOptimizer::stepSeed(seed, 0) != MezoOptimizer::stepSeed(seed + 1, 0));
    }

    void lossFalls_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::newRow("full") << "full";
        QTest::newRow("lora") << "lora";
    }

    void lossFalls()
    {
        QFETCH(QString, adapter);
        const Run run
            = train(config(adapter.toStdString()), fs::path(m_dir.path().toStdString()) / adapter.toStdString());
        QCOMPARE(run.result.status, TrainResult::Status::Finished);
        QCOMPARE(run.losses.size(), 40u);
        double first = 0, last = 0;
        for (std::size_t i = 0; i < 5; ++i) {
            first += run.losses[i] / 5;
            last += run.losses[run.losses.size() - 1 - i] / 5;
        }
        QVERIFY2(last < first - 0.2, qPrintable(QString("loss %1 -> %2").arg(first).arg(last)));
    }

    void resumesExactly()
    {
        json c = config("lora");
        c["lora_dropout"] = 0.1; // both losses of a step see the same dropout; resume restores the generator
        c["max_steps"] = 8;
        c["save_steps"] = 4;
        const fs::path root = m_dir.path().toStdString();
        const Run straight = train(c, root / "straight");
        const Run first = train(c, root / "resumed", false, 4);
        QCOMPARE(first.result.status, TrainResult::Status::Cancelled);
        const Run second = train(c, root / "resumed", true);
        std::vector<double> combined = first.losses;
        combined.insert(combined.end(), second.losses.begin(), second.losses.end());
        QCOMPARE(combined.size(), straight.losses.size());
        for (std::size_t i = 0; i < combined.size(); ++i)
            QVERIFY2(combined[i] == straight.losses[i],
                qPrintable(QString("step %1: %2 vs %3")
                               .arg(i + 1)
                               .arg(combined[i], 0, 'g', 17)
                               .arg(straight.losses[i], 0, 'g', 17)));
    }
};

QTEST_GUILESS_MAIN(TestMezo)
#include "test_mezo.moc"
