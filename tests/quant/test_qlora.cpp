// QLoRA through the LoRA-family plugins (quantize_base: nf4 | int8): the
// frozen base held quantised (the float weight released), the model at
// initialisation is the base with its adapted weights dequantised, merging
// and exporting a run dequantise, and a few training steps on an nf4 or int8
// base end close to LoRA on the unquantised one.

#include "core/method/adapter.h"
#include "core/method/adapter_fold.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/quant/quantize.h"
#include "core/train/optimizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using model_test::logitsOf;
using model_test::tinyModel;
using nlohmann::json;

namespace {

at::Tensor sftLoss(const CausalLM& model, const at::Tensor& ids)
{
    ForwardInput in;
    in.inputIds = ids;
    const at::Tensor logits = model.forward(in).logits;
    return at::cross_entropy_loss(logits.narrow(1, 0, ids.size(1) - 1).reshape({ -1, logits.size(-1) }),
        ids.narrow(1, 1, ids.size(1) - 1).reshape({ -1 }));
}

at::Tensor someIds(std::uint64_t seed)
{
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::randint(0, 48, { 4, 12 }, gen, at::TensorOptions().dtype(at::kLong));
}

double maxDifference(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).abs().max().item<double>();
}

} // namespace

class TestQlora : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;

    std::unique_ptr<Adapter> attach(CausalLM& model, const std::string& name, json params)
    {
        auto adapter = m_plugins.createAdapter(name);
        const json resolved = m_plugins.require(PluginKind::Adapter, name).schema.resolve(params, "test");
        model.setRequiresGrad(false);
        adapter->attach({ model, resolved, 5 });
        return adapter;
    }

    static json paramsOf(Architecture arch, const QString& scheme)
    {
        const json targets = arch == Architecture::Gpt2 ? json { "c_attn", "c_fc", "c_proj" } : json("all-linear");
        return { { "r", 4 }, { "lora_alpha", 8 }, { "target_modules", targets },
            { "quantize_base", scheme.toStdString() } };
    }

    static void rows(bool allPlugins)
    {
        QTest::addColumn<QString>("plugin");
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<int>("architecture");
        const QStringList plugins = allPlugins ? QStringList { "lora", "rslora", "dora", "pissa", "chain_of_lora" }
                                               : QStringList { "lora", "dora" };
        for (const QString& plugin : plugins) {
            for (const char* scheme : { "nf4", "int8" }) {
                QTest::addRow("%s %s llama", qPrintable(plugin), scheme)
                    << plugin << QString(scheme) << static_cast<int>(Architecture::Llama);
                QTest::addRow("%s %s gpt2", qPrintable(plugin), scheme)
                    << plugin << QString(scheme) << static_cast<int>(Architecture::Gpt2);
            }
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ std::filesystem::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        for (const auto& b : m_plugins.broken())
            qWarning("%s", (b.path.string() + ": " + b.reason).c_str());
        for (const char* name : { "lora", "rslora", "dora", "pissa", "chain_of_lora" })
            QVERIFY2(m_plugins.find(PluginKind::Adapter, name), name);
    }

    void initialModelIsTheDequantisedBase_data() { rows(true); }
    void initialModelIsTheDequantisedBase()
    {
        QFETCH(QString, plugin);
        QFETCH(QString, scheme);
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        const at::Tensor ids = someIds(1);
        auto reference = tinyModel(arch);
        auto model = tinyModel(arch);
        const auto adapter = attach(*model, plugin.toStdString(), paramsOf(arch, scheme));
        const quant::Scheme s = quant::schemeFromString(scheme.toStdString(), "test");
        std::int64_t quantised = 0;
        for (Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            ++quantised;
            // The float weight is released: one NaN element stands in for it.
            QVERIFY(at::isnan(layer->weight()).all().item<bool>());
            QCOMPARE(layer->weight().sizes(), reference->linear(layer->name())->weight().sizes());
            QCOMPARE(static_cast<std::int64_t>(layer->weight().storage().nbytes()), layer->weight().element_size());
            // The reference gets the same weight through a quantise / dequantise round trip.
            Linear& r = *reference->linear(layer->name());
            const at::Tensor w = quant::dequantize(quant::quantize(r.weightOutIn(), s));
            r.weightOutIn().copy_(w);
        }
        QVERIFY(quantised >= 2);
        const double d = maxDifference(logitsOf(*model, ids), logitsOf(*reference, ids));
        QVERIFY2(d < 1e-4, qPrintable(QString::number(d)));
        // Switched off (the reference model of preference objectives), it is still the quantised base.
        adapter->setEnabled(false);
        QVERIFY(maxDifference(logitsOf(*model, ids), logitsOf(*reference, ids)) < 1e-4);
    }

    void mergeAndExportDequantise_data() { rows(false); }
    void mergeAndExportDequantise()
    {
        QFETCH(QString, plugin);
        QFETCH(QString, scheme);
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        const at::Tensor ids = someIds(2);
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        // A base model folder, a few steps of QLoRA, and the run's adapter folder as a run writes it.
        saveModelFolder(*tinyModel(arch), root / "base");
        std::ofstream(root / "base" / "tokenizer.json") << "{}"; // an export copies the tokenizer files
        auto model = loadCausalLM(root / "base");
        const json params = paramsOf(arch, scheme);
        auto adapter = attach(*model, plugin.toStdString(), params);
        auto optimizer = makeAdamW(adapter->parameterGroups(0.0));
        for (int step = 0; step < 3; ++step) {
            optimizer->zeroGrad();
            sftLoss(*model, ids).backward();
            optimizer->step(1e-2);
        }
        const at::Tensor trained = logitsOf(*model, ids);
        RunAdapterFiles files;
        files.adapter = plugin.toStdString();
        files.params = params;
        files.seed = 5;
        files.state = adapter->state();
        files.write(root / "adapter");

        // Merge: the update folds into the dequantised weights, so the bare model computes what the QLoRA model did.
        foldAdapterIntoWeights(*adapter, *model, "test");
        for (const Linear* layer : model->linears())
            QVERIFY(at::isfinite(layer->weight()).all().item<bool>());
        QVERIFY(maxDifference(logitsOf(*model, ids), trained) < 1e-4);

        // Export (tunebench-cli export --merged): loads the base, attaches with quantize_base, merges, writes.
        exportMergedModel(root / "base", root / "adapter", root / "merged", m_plugins);
        const auto exported = loadCausalLM(root / "merged");
        for (const auto& [name, t] : exported->namedParameters())
            QVERIFY2(at::isfinite(t).all().item<bool>(), name.c_str());
        const double d = maxDifference(logitsOf(*exported, ids), trained);
        QVERIFY2(d < 1e-4, qPrintable(QString::number(d)));
    }

    // Training on a quantised base against LoRA on the float base, same seed and data. The quantised base is a
    // perturbed model (NF4: up to 0.152 of each block's absmax per weight), so the losses differ from the start;
    // what must hold is that training on it works as well: the loss falls by as much, and the final losses stay
    // within 6% (nf4) or 1% (int8) of each other. Measured here: 4.1% and 0.1% (1.2135 and 1.1668 against 1.1658);
    // the margin is for other BLAS builds and thread counts, a broken base (a lost scale, a wrong code) is far off.
    void trainingLossCloseToLora_data()
    {
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<double>("tolerance");
        QTest::addRow("nf4") << "nf4" << 0.06;
        QTest::addRow("int8") << "int8" << 0.01;
    }
    void trainingLossCloseToLora()
    {
        QFETCH(QString, scheme);
        QFETCH(double, tolerance);
        const at::Tensor ids = someIds(3);
        auto run = [&](const QString& s) {
            auto model = tinyModel(Architecture::Llama);
            auto adapter = attach(*model, "lora", paramsOf(Architecture::Llama, s));
            auto optimizer = makeAdamW(adapter->parameterGroups(0.0));
            std::vector<double> losses;
            for (int step = 0; step < 40; ++step) {
                optimizer->zeroGrad();
                at::Tensor loss = sftLoss(*model, ids);
                losses.push_back(loss.item<double>());
                loss.backward();
                optimizer->step(2e-2);
            }
            return losses;
        };
        const std::vector<double> lora = run("none");
        const std::vector<double> qlora = run(scheme);
        qInfo("loss LoRA %.4f -> %.4f, %s %.4f -> %.4f", lora.front(), lora.back(), qPrintable(scheme), qlora.front(),
            qlora.back());
        QVERIFY(lora.back() < lora.front() * 0.8); // the comparison means something only if training moved
        QVERIFY2(std::abs(qlora.back() - lora.back()) <= tolerance * lora.back(), "final losses differ");
        const double fallLora = lora.front() - lora.back(), fallQlora = qlora.front() - qlora.back();
        QVERIFY2(std::abs(fallQlora - fallLora) <= tolerance * lora.front(), "the loss fell by different amounts");
    }

    void unknownSchemeNamesTheKey()
    {
        json params = { { "quantize_base", "fp4" } };
        try {
            m_plugins.require(PluginKind::Adapter, "lora").schema.resolve(params, "adapter");
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("quantize_base"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestQlora)
#include "test_qlora.moc"
