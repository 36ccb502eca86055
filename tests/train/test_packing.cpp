// Packing: short examples share rows, kept apart by segment attention and
// restarting positions. The model's logits for a packed example equal its
// logits alone; the SFT loss over packed rows equals the loss over the same
// examples unpacked; a packed run trains on fewer, fuller rows.

#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/train/batching.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <stdexcept>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using model_test::tinyModel;

std::vector<EncodedExample> examples()
{
    std::vector<EncodedExample> out;
    const std::vector<std::vector<std::int32_t>> ids
        = { { 3, 9, 4, 17, 5 }, { 8, 1, 2 }, { 30, 31, 32, 33, 34, 35, 36 }, { 40, 2 }, { 6, 6, 6, 7 } };
    for (const auto& row : ids) {
        EncodedExample e;
        e.ids = row;
        e.labels = row;
        e.labels[0] = -100;
        e.labels[1] = -100; // a masked prompt token
        out.push_back(e);
    }
    return out;
}

} // namespace

class TestPacking : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    QTemporaryDir m_dir;

    class Policy final : public ModelAccess {
    public:
        explicit Policy(const CausalLM& m)
            : model(m)
        { }
        ForwardOutput policy(const ForwardInput& in) override { return model.forward(in); }
        ForwardOutput reference(const ForwardInput& in) override { return model.forward(in); }
        std::vector<GeneratedSequence> generate(
            const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options) override
        {
            return tunebench::generate(model, prompts, options);
        }
        const CausalLM& model;
    };

private Q_SLOTS:
    void initTestCase() { m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" }); }

    void rowsHoldWholeExamples()
    {
        const auto ex = examples();
        std::vector<const EncodedExample*> ptrs;
        for (const auto& e : ex)
            ptrs.push_back(&e);
        const auto rows = packExamples(ptrs, 10);
        QCOMPARE(rows.size(), 3u); // 5+3 | 7+2 | 4
        QCOMPARE(rows[0].segments, (std::vector<std::int32_t> { 1, 1, 1, 1, 1, 2, 2, 2 }));
        QCOMPARE(rows[0].positions, (std::vector<std::int32_t> { 0, 1, 2, 3, 4, 0, 1, 2 }));
        QCOMPARE(rows[1].ids.size(), 9u);
        QCOMPARE(rows[2].ids.size(), 4u);
        for (const auto& r : rows) {
            for (std::size_t t = 0; t < r.ids.size(); ++t) {
                if (r.positions[t] == 0)
                    QCOMPARE(r.labels[t], -100);
            }
        }
    }

    void packedLogitsEqualSeparateOnes_data()
    {
        QTest::addColumn<int>("architecture");
        QTest::newRow("llama") << int(Architecture::Llama);
        QTest::newRow("gpt2") << int(Architecture::Gpt2);
        QTest::newRow("qwen3") << int(Architecture::Qwen3);
    }

    void packedLogitsEqualSeparateOnes()
    {
        QFETCH(int, architecture);
        auto model = tinyModel(static_cast<Architecture>(architecture));
        const auto ex = examples();
        std::vector<const EncodedExample*> ptrs;
        for (const auto& e : ex)
            ptrs.push_back(&e);
        const auto rows = packExamples(ptrs, 10);
        std::vector<const EncodedExample*> rowPtrs;
        for (const auto& r : rows)
            rowPtrs.push_back(&r);
        const TokenBatch packed = collate(rowPtrs, 0);
        QVERIFY(packed.segmentIds.defined() && packed.positionIds.defined());
        at::NoGradGuard noGrad;
        ForwardInput in;
        in.inputIds = packed.inputIds;
        in.attentionMask = packed.attentionMask;
        in.segmentIds = packed.segmentIds;
        in.positionIds = packed.positionIds;
        const at::Tensor logits = model->forward(in).logits;
        double worst = 0;
        std::size_t e = 0;
        for (std::size_t r = 0; r < rows.size(); ++r) {
            std::int64_t start = 0;
            while (start < static_cast<std::int64_t>(rows[r].ids.size())) {
                const auto len = static_cast<std::int64_t>(ex[e].ids.size());
                ForwardInput alone;
                alone.inputIds = at::tensor(std::vector<std::int64_t>(ex[e].ids.begin(), ex[e].ids.end())).unsqueeze(0);
                const at::Tensor expected = model->forward(alone).logits[0];
                worst = std::max(worst,
                    (logits[static_cast<std::int64_t>(r)].narrow(0, start, len) - expected).abs().max().item<double>());
                start += len;
                ++e;
            }
        }
        QCOMPARE(e, ex.size());
        QVERIFY2(worst < 1e-5, qPrintable(QString("packed logits differ by %1").arg(worst)));
    }

    void packedLossEqualsUnpackedLoss()
    {
        auto model = tinyModel(Architecture::Llama);
        auto sft = m_plugins.createObjective("sft");
        sft->configure({ { "label_smoothing", 0.0 } });
        const auto ex = examples();
        std::vector<const EncodedExample*> ptrs;
        for (const auto& e : ex)
            ptrs.push_back(&e);
        const auto rows = packExamples(ptrs, 12);
        std::vector<const EncodedExample*> rowPtrs;
        for (const auto& r : rows)
            rowPtrs.push_back(&r);
        Policy policy(*model);
        ObjectiveBatch a, b;
        a.sequences = collate(ptrs, 0);
        b.sequences = collate(rowPtrs, 0);
        const LossOutput unpacked = sft->loss(a, policy);
        const LossOutput packed = sft->loss(b, policy);
        QCOMPARE(packed.tokens, unpacked.tokens);
        QVERIFY2(std::abs(packed.loss.item<double>() - unpacked.loss.item<double>()) < 1e-5,
            qPrintable(QString("%1 vs %2").arg(packed.loss.item<double>()).arg(unpacked.loss.item<double>())));
    }

    void packedRunTrains()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        std::ofstream out(root / "data.jsonl");
        for (int i = 0; i < 32; ++i)
            out << json({ { "text", i % 2 ? "a cat" : "the dog ran" } }).dump() << "\n";
        out.close();
        json config = { { "model", (root / "model").string() }, { "dataset", (root / "data.jsonl").string() },
            { "packing", true }, { "cutoff_len", 64 }, { "per_device_train_batch_size", 2 }, { "num_train_epochs", 3 },
            { "learning_rate", 1e-2 }, { "threads", 1 } };
        std::vector<json> events;
        TrainerOptions o;
        o.runDir = root / "run";
        o.events = [&](const json& e) { events.push_back(e); };
        const TrainResult r = runTraining(TrainConfig::fromJson(config, m_plugins, "packed"), m_plugins, o);
        const std::int64_t rows = events.front()["packed_rows"];
        QVERIFY2(rows > 0 && rows < 32 / 3, qPrintable(QString::number(rows)));
        QCOMPARE(r.steps, 3 * ((rows + 1) / 2));
        std::vector<double> losses;
        for (const auto& e : events) {
            if (e["event"] == "step")
                losses.push_back(e["loss"]);
        }
        QVERIFY(losses.back() < losses.front());
    }
};

QTEST_GUILESS_MAIN(TestPacking)
#include "test_packing.moc"
