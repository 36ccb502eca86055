// Export and import through the product's real paths. Every adapter with a PEFT form is trained for a few steps
// with `tunebench-cli train`, exported with `export --format peft` (PEFT's key names, shapes and config fields),
// imported back with `import-adapter` as a new run, and the imported run computes the trained run's logits
// (within 1e-5). init_adapter starts a training from a PEFT folder or a run. GGUF: the merged model in F32, F16,
// BF16 and Q8_0 and LoRA adapters, checked with our reader and with llama.cpp's (the `gguf` package, through
// tests/reference/gguf_reference.py): the same metadata, names, shapes, types and values. Refusals: adapters
// without a PEFT form, overwriting without --force, pickled weights, configurations that cannot be represented.

#include "core/export/gguf.h"
#include "core/export/gguf_export.h"
#include "core/export/peft_adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/store/artifacts.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/run_adapter.h"
#include "export/gguf_reference_check.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <map>
#include <set>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The adapter sections trained here (model: Llama, hidden 32, 4 heads, 2 key/value heads, head_dim 8, MLP 64).
const std::vector<std::pair<std::string, std::string>> kAdapters = {
    { "lora", "  type: lora\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.1\n  target_modules: [q_proj, v_proj]\n" },
    { "rslora", "  type: rslora\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear\n" },
    { "dora", "  type: dora\n  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj, down_proj]\n" },
    { "pissa", "  type: pissa\n  r: 4\n  lora_alpha: 4\n  target_modules: [q_proj, k_proj, v_proj]\n" },
    // Links of 2 steps: links start at steps 2 and 4, so after 4 steps the chain holds 3 links.
    { "chain_of_lora",
        "  type: chain_of_lora\n  r: 4\n  lora_alpha: 8\n  chain_links: 3\n  chain_link_steps: 2\n  target_modules: "
        "[q_proj, o_proj, up_proj]\n" },
    { "ia3", "  type: ia3\n" },
    { "prompt_tuning",
        "  type: prompt_tuning\n  num_virtual_tokens: 4\n  prompt_tuning_init: text\n  prompt_tuning_init_text: say "
        "something\n" },
    { "prefix_tuning",
        "  type: prefix_tuning\n  num_virtual_tokens: 4\n  prefix_projection: true\n  encoder_hidden_size: 16\n" },
    { "full", "  type: full\n" },
};

json readJson(const fs::path& p)
{
    std::ifstream in(p);
    return json::parse(in);
}

json lastJsonLine(const QString& out)
{
    const QStringList lines = out.trimmed().split('\n');
    return json::parse(lines.last().toStdString());
}

} // namespace

class TestExportAdapters : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_root;
    fs::path m_model;
    fs::path m_data;
    QString m_ws;
    std::map<std::string, std::int64_t> m_runs;
    PluginRegistry m_plugins;
    at::Tensor m_ids = at::tensor({ 5, 17, 260, 3, 99, 42, 7, 250, 31, 12 }, at::kLong).unsqueeze(0);

    QString q(const fs::path& p) const { return QString::fromStdString(p.string()); }
    fs::path runAdapterDir(std::int64_t run) const { return m_root / "ws" / "runs" / std::to_string(run) / "adapter"; }

    QString writeConfig(const std::string& name, const std::string& section, const std::string& extra = {},
        const std::string& lr = "1.0e-2", int steps = 4)
    {
        const QString path = m_dir.path() + "/" + QString::fromStdString(name) + ".yaml";
        const std::string yaml = "name: " + name + "\nmodel: " + m_model.string() + "\ndataset: " + m_data.string()
            + "\nobjective: sft\n" + extra + "adapter:\n" + section + "training:\n  learning_rate: " + lr
            + "\n  max_steps: " + std::to_string(steps)
            + "\n  per_device_train_batch_size: 4\n  seed: 42\n  cutoff_len: 96\n  threads: 1\n";
        writeTextFile(path, QByteArray::fromStdString(yaml));
        return path;
    }

    std::int64_t runCount()
    {
        return static_cast<std::int64_t>(RunStore(Workspace::open(m_root / "ws").db()).list().size());
    }

    // Logits of the model with the run adapter in dir (a run's adapter folder) or a PEFT folder attached.
    at::Tensor logitsWith(const fs::path& dir)
    {
        std::unique_ptr<CausalLM> model = loadCausalLM(m_model);
        std::unique_ptr<Adapter> adapter = isPeftFolder(dir) ? importPeftAdapter(dir, *model, m_plugins).attached
                                                             : loadRunAdapter(dir, *model, m_plugins, m_model);
        return model_test::logitsOf(*model, m_ids);
    }

    at::Tensor baseLogits() { return model_test::logitsOf(*loadCausalLM(m_model), m_ids); }

    fs::path exportPeft(const std::string& adapter)
    {
        const fs::path out = m_root / ("peft-" + adapter);
        if (fs::exists(out))
            return out;
        const CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at(adapter)),
            "--format", "peft", "--out", q(out) });
        if (r.code != 0)
            qWarning() << r.err;
        return r.code == 0 ? out : fs::path();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        m_model = m_root / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        m_data = m_root / "data.jsonl";
        std::ofstream out(m_data);
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
            "the sun rose over the hill" };
        for (int i = 0; i < 8; ++i)
            out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        out.close();
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        m_ws = q(m_root / "ws");
        QCOMPARE(runCli({ "workspace", "init", m_ws }).code, 0);
        std::int64_t id = 0;
        for (const auto& [adapter, section] : kAdapters) {
            const CliResult r = runCli({ "train", writeConfig(adapter + "-run", section), "--workspace", m_ws });
            QVERIFY2(r.code == 0, qPrintable(QString::fromStdString(adapter) + ": " + r.err));
            m_runs[adapter] = ++id;
            QVERIFY(fs::exists(runAdapterDir(id) / "adapter.safetensors"));
        }
    }

    void peftRoundTrip_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("peftType");
        QTest::addColumn<QString>("importedAs");
        QTest::newRow("lora") << "lora"
                              << "LORA"
                              << "lora";
        QTest::newRow("rslora") << "rslora"
                                << "LORA"
                                << "lora";
        QTest::newRow("dora") << "dora"
                              << "LORA"
                              << "dora";
        QTest::newRow("pissa") << "pissa"
                               << "LORA"
                               << "lora";
        QTest::newRow("chain_of_lora") << "chain_of_lora"
                                       << "LORA"
                                       << "lora";
        QTest::newRow("ia3") << "ia3"
                             << "IA3"
                             << "ia3";
        QTest::newRow("prompt_tuning") << "prompt_tuning"
                                       << "PROMPT_TUNING"
                                       << "prompt_tuning";
        QTest::newRow("prefix_tuning") << "prefix_tuning"
                                       << "PREFIX_TUNING"
                                       << "prefix_tuning";
    }

    void peftRoundTrip()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, peftType);
        QFETCH(QString, importedAs);
        const std::string name = adapter.toStdString();
        const fs::path out = m_root / ("peft-" + name);
        CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at(name)), "--format",
            "peft", "--out", q(out) });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json printed = lastJsonLine(r.out);
        QCOMPARE(printed["format"].get<std::string>(), std::string("peft"));
        QVERIFY(printed["artifact"].get<std::int64_t>() > 0);

        // The config: every field PEFT needs to rebuild the adapter.
        const json config = readJson(out / "adapter_config.json");
        QCOMPARE(QString::fromStdString(config["peft_type"].get<std::string>()), peftType);
        QCOMPARE(config["task_type"].get<std::string>(), std::string("CAUSAL_LM"));
        QCOMPARE(
            config["base_model_name_or_path"].get<std::string>(), fs::absolute(m_model).lexically_normal().string());
        QVERIFY(config["inference_mode"].get<bool>());
        QVERIFY(config.contains("modules_to_save") && config["modules_to_save"].is_null());
        const SafetensorsFile st = SafetensorsFile::open(out / "adapter_model.safetensors");
        QCOMPARE(st.metadata().at("format"), std::string("pt"));
        for (const auto& key : st.names())
            QVERIFY2(key.find(".default") == std::string::npos, key.c_str()); // saved without the adapter name

        const std::string layer0 = "base_model.model.model.layers.0.";
        if (peftType == "LORA") {
            for (const char* field :
                { "r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "use_dora", "bias",
                    "fan_in_fan_out", "init_lora_weights", "rank_pattern", "alpha_pattern", "layers_to_transform" })
                QVERIFY2(config.contains(field), field);
            QCOMPARE(config["bias"].get<std::string>(), std::string("none"));
            QCOMPARE(config["fan_in_fan_out"].get<bool>(), false);
            QCOMPARE(config["use_dora"].get<bool>(), name == "dora");
            QCOMPARE(config["use_rslora"].get<bool>(), name == "rslora");
            QVERIFY(config["init_lora_weights"] == true); // never "pissa": loading must not re-run the SVD
            const std::int64_t rank = config["r"].get<std::int64_t>();
            const double alpha = config["lora_alpha"].get<double>();
            if (name == "lora" || name == "rslora" || name == "dora") {
                QCOMPARE(rank, std::int64_t { 4 });
                QCOMPARE(alpha, 8.0);
            } else if (name == "pissa") {
                QCOMPARE(rank, std::int64_t { 8 }); // [B, -B0] [A; A0]
                QCOMPARE(alpha, 8.0); // scale alpha / r stays 4 / 4 = 1
            } else {
                QCOMPARE(rank, std::int64_t { 12 }); // three links side by side
                QCOMPARE(alpha, 24.0); // scale stays 8 / 4 = 2
            }
            // Shapes: lora_A [r, in], lora_B [out, r]; v_proj's out is 2 key/value heads x 8.
            const std::string q = layer0 + "self_attn.q_proj.";
            const std::string mod
                = name == "chain_of_lora" ? layer0 + "self_attn.o_proj." : layer0 + "self_attn.v_proj.";
            QVERIFY(st.contains(q + "lora_A.weight"));
            QCOMPARE(st.tensor(q + "lora_A.weight").sizes().vec(), (std::vector<std::int64_t> { rank, 32 }));
            QCOMPARE(st.tensor(q + "lora_B.weight").sizes().vec(), (std::vector<std::int64_t> { 32, rank }));
            const std::int64_t modOut = name == "chain_of_lora" ? 32 : 16;
            QCOMPARE(st.tensor(mod + "lora_B.weight").sizes().vec(), (std::vector<std::int64_t> { modOut, rank }));
            if (name == "dora") {
                QCOMPARE(st.tensor(mod + "lora_magnitude_vector").sizes().vec(), (std::vector<std::int64_t> { 16 }));
                QVERIFY(!st.contains(mod + "lora_magnitude_vector.weight"));
            }
            for (const auto& key : st.names()) {
                QVERIFY2(key.rfind("base_model.model.model.layers.", 0) == 0, key.c_str());
                QVERIFY2(key.find("pissa_init") == std::string::npos && key.find(".chain.") == std::string::npos,
                    key.c_str());
            }
            if (name == "rslora") // all-linear: seven layers per block, two blocks, A and B
                QCOMPARE(st.names().size(), std::size_t { 28 });
        } else if (peftType == "IA3") {
            const auto targets = config["target_modules"].get<std::vector<std::string>>();
            const auto ff = config["feedforward_modules"].get<std::vector<std::string>>();
            QVERIFY(std::count(targets.begin(), targets.end(), "model.layers.1.self_attn.k_proj") == 1);
            QCOMPARE(ff, (std::vector<std::string> { "model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj" }));
            QCOMPARE(targets.size(), std::size_t { 6 });
            QCOMPARE(st.tensor(layer0 + "self_attn.k_proj.ia3_l").sizes().vec(), (std::vector<std::int64_t> { 16, 1 }));
            QCOMPARE(st.tensor(layer0 + "mlp.down_proj.ia3_l").sizes().vec(), (std::vector<std::int64_t> { 1, 64 }));
        } else if (peftType == "PROMPT_TUNING") {
            QCOMPARE(config["num_virtual_tokens"].get<int>(), 4);
            QCOMPARE(config["token_dim"].get<int>(), 32);
            QCOMPARE(config["num_transformer_submodules"].get<int>(), 1);
            QCOMPARE(config["num_layers"].get<int>(), 2);
            QCOMPARE(config["num_attention_heads"].get<int>(), 4);
            QCOMPARE(config["prompt_tuning_init"].get<std::string>(), std::string("RANDOM"));
            QCOMPARE(st.names(), (std::vector<std::string> { "prompt_embeddings" }));
            QCOMPARE(st.tensor("prompt_embeddings").sizes().vec(), (std::vector<std::int64_t> { 4, 32 }));
        } else {
            // Grouped-query attention: token_dim = head_dim 8 x 2 key/value heads; the heads PEFT views are 2.
            QCOMPARE(config["token_dim"].get<int>(), 16);
            QCOMPARE(config["num_attention_heads"].get<int>(), 2);
            QCOMPARE(config["num_layers"].get<int>(), 2);
            QCOMPARE(config["prefix_projection"].get<bool>(), false);
            QCOMPARE(st.names(), (std::vector<std::string> { "prompt_embeddings" })); // the MLP is not exported
            QCOMPARE(st.tensor("prompt_embeddings").sizes().vec(), (std::vector<std::int64_t> { 4, 2 * 2 * 16 }));
        }

        // Import: a new finished run whose adapter computes what the trained run's computes.
        const std::int64_t before = runCount();
        r = runCli({ "import-adapter", "--workspace", m_ws, "--model", q(m_model), "--adapter", q(out), "--name",
            "imported " + adapter });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json imported = lastJsonLine(r.out);
        QCOMPARE(QString::fromStdString(imported["adapter"].get<std::string>()), importedAs);
        const std::int64_t runId = imported["run"].get<std::int64_t>();
        QCOMPARE(runCount(), before + 1);
        Workspace ws = Workspace::open(m_root / "ws");
        const auto run = RunStore(ws.db()).find(runId);
        QVERIFY(run && run->status == RunStatus::Finished);
        QCOMPARE(
            json::parse(run->lineageJson)["source"].get<std::string>(), fs::absolute(out).lexically_normal().string());
        QCOMPARE(run->modelPath, fs::absolute(m_model).lexically_normal().string());

        const at::Tensor trained = logitsWith(runAdapterDir(m_runs.at(name)));
        const at::Tensor fromImport = logitsWith(runAdapterDir(runId));
        const at::Tensor fromPeft = logitsWith(out);
        const double diff = model_test::maxAbsDiff(trained, fromImport);
        QVERIFY2(diff <= 1e-5, qPrintable(QString("imported run differs by %1").arg(diff)));
        QVERIFY(model_test::maxAbsDiff(trained, fromPeft) <= 1e-5);
        QVERIFY2(model_test::maxAbsDiff(trained, baseLogits()) > 1e-3, "the trained adapter changes nothing");

        // The imported run exports again (its adapter is a normal run adapter).
        const fs::path again = m_root / ("peft-again-" + name);
        r = runCli(
            { "export", "--workspace", m_ws, "--run", QString::number(runId), "--format", "peft", "--out", q(again) });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(model_test::maxAbsDiff(trained, logitsWith(again)) <= 1e-5);
    }

    void exportsAreRecordedAsArtifacts()
    {
        const fs::path out = exportPeft("lora");
        QVERIFY(!out.empty());
        Workspace ws = Workspace::open(m_root / "ws");
        bool found = false;
        for (const auto& a : ArtifactStore(ws.db()).list(m_runs.at("lora"))) {
            if (a.kind == "peft_adapter") {
                found = true;
                QCOMPARE(a.path, fs::absolute(out).lexically_normal().string()); // outside the workspace: absolute
                QCOMPARE(json::parse(a.metaJson)["peft_type"].get<std::string>(), std::string("LORA"));
            }
        }
        QVERIFY(found);
        // Inside the workspace the path is relative to it.
        const CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("lora")),
            "--format", "merged", "--out", m_ws + "/exports/lora-merged" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto list = ArtifactStore(ws.db()).list(m_runs.at("lora"));
        QCOMPARE(list.back().kind, std::string("merged"));
        QCOMPARE(list.back().path, std::string("exports/lora-merged"));
    }

    void exportRefusals()
    {
        // No PEFT form: the message points to the merged export.
        CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("full")), "--format",
            "peft", "--out", q(m_root / "full-peft") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("--format merged"), qPrintable(r.err));
        QVERIFY(!fs::exists(m_root / "full-peft"));

        // A non-empty folder is kept unless --force; with --force it is replaced.
        const fs::path busy = m_root / "busy";
        fs::create_directories(busy);
        writeTextFile(q(busy / "keep.txt"), "mine");
        const QStringList args = { "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("lora")),
            "--format", "peft", "--out", q(busy) };
        r = runCli(args);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("not empty") && r.err.contains("--force"), qPrintable(r.err));
        QVERIFY(fs::exists(busy / "keep.txt"));
        QStringList forced = args;
        forced.last() += "/"; // a trailing slash names the same folder
        r = runCli(forced + QStringList { "--force" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(!fs::exists(busy / "keep.txt"));
        QVERIFY(!fs::exists(m_root / "busy.partial"));
        QVERIFY(fs::exists(busy / "adapter_config.json"));

        // An existing GGUF file likewise.
        const fs::path file = m_root / "existing.gguf";
        writeTextFile(q(file), "old");
        const QStringList gguf = { "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("lora")),
            "--format", "gguf", "--out", q(file) };
        r = runCli(gguf);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("exists"), qPrintable(r.err));
        QCOMPARE(fs::file_size(file), std::uintmax_t { 3 });
        QCOMPARE(runCli(gguf + QStringList { "--force" }).code, 0);
        QVERIFY(fs::file_size(file) > 1000);
        // ... and what replaced it reads back whole with llama.cpp's reader too.
        if (!reference::python().isEmpty() || reference::required()) {
            gguf_reference::Reading reading;
            gguf_reference::readAndCompare(file, m_root / "existing.values.st", &reading);
            if (QTest::currentTestFailed())
                return;
        }

        // A failed export leaves nothing behind, not even its staging folder.
        r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("prompt_tuning")), "--format",
            "gguf", "--out", q(m_root / "prompt.gguf") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("--format peft"), qPrintable(r.err));
        QVERIFY(!fs::exists(m_root / "prompt.gguf") && !fs::exists(m_root / "prompt.gguf.partial"));

        r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("ia3")), "--format", "gguf-lora",
            "--out", q(m_root / "ia3.gguf") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("LoRA"), qPrintable(r.err));
        r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("dora")), "--format",
            "gguf-lora", "--out", q(m_root / "dora.gguf") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("DoRA"), qPrintable(r.err));
        r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at("lora")), "--format", "gguf",
            "--gguf-type", "q4_0", "--out", q(m_root / "q4.gguf") });
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains("q8_0"), qPrintable(r.err));
        QCOMPARE(
            runCli({ "export", "--workspace", m_ws, "--run", "1", "--format", "onnx", "--out", q(m_root / "x") }).code,
            2);
    }

    void importRefusals()
    {
        const fs::path source = exportPeft("lora");
        QVERIFY(!source.empty());
        const std::int64_t before = runCount();
        auto importFrom = [&](const fs::path& dir) {
            return runCli({ "import-adapter", "--workspace", m_ws, "--model", q(m_model), "--adapter", q(dir) });
        };
        auto variant = [&](const std::string& name, const std::function<void(json&)>& edit) {
            const fs::path dir = m_root / name;
            fs::create_directories(dir);
            fs::copy_file(source / "adapter_model.safetensors", dir / "adapter_model.safetensors",
                fs::copy_options::overwrite_existing);
            json config = readJson(source / "adapter_config.json");
            edit(config);
            std::ofstream(dir / "adapter_config.json") << config.dump(2);
            return dir;
        };

        // Pickled weights are never loaded.
        const fs::path pickled = m_root / "pickled";
        fs::create_directories(pickled);
        fs::copy_file(source / "adapter_config.json", pickled / "adapter_config.json");
        writeTextFile(q(pickled / "adapter_model.bin"), "not read");
        CliResult r = importFrom(pickled);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("adapter_model.bin") && r.err.contains("pickled"), qPrintable(r.err));

        r = importFrom(variant("loha", [](json& c) { c["peft_type"] = "LOHA"; }));
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("peft_type") && r.err.contains("LOHA"), qPrintable(r.err));
        r = importFrom(variant("pattern", [](json& c) { c["rank_pattern"] = { { "q_proj", 2 } }; }));
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("rank_pattern") && r.err.contains("adapter_config.json"), qPrintable(r.err));
        r = importFrom(variant("saved", [](json& c) { c["modules_to_save"] = { "lm_head" }; }));
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("modules_to_save"), qPrintable(r.err));
        // r that does not fit the tensors: the message names the tensor file.
        r = importFrom(variant("rank", [](json& c) { c["r"] = 2; }));
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("adapter_model.safetensors") && r.err.contains("lora_A"), qPrintable(r.err));
        // Tensors for layers the config does not target.
        r = importFrom(variant("targets", [](json& c) { c["target_modules"] = { "q_proj" }; }));
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("v_proj") && r.err.contains("belongs to no layer"), qPrintable(r.err));
        // A regular expression as PEFT allows it selects the same layers.
        r = importFrom(variant("regex", [](json& c) { c["target_modules"] = ".*\\.(q_proj|v_proj)"; }));
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(runCount(), before + 1); // only the last import recorded a run
    }

    void initAdapterStartsTrainingFromAnAdapter()
    {
        const fs::path source = exportPeft("lora");
        QVERIFY(!source.empty());
        const auto& section = kAdapters[0].second;
        const std::int64_t lora = m_runs.at("lora");
        const AdapterState original = RunAdapterFiles::read(runAdapterDir(lora)).state;
        // Learning rate 0: the adapter ends as it started, i.e. as the source.
        for (const std::string& from : { source.string(), std::to_string(lora) }) {
            const CliResult r = runCli({ "train",
                writeConfig("init-" + std::to_string(runCount()), section, "init_adapter: " + from + "\n", "0.0", 1),
                "--workspace", m_ws });
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const AdapterState state = RunAdapterFiles::read(runAdapterDir(runCount())).state;
            QCOMPARE(state.size(), original.size());
            for (std::size_t i = 0; i < state.size(); ++i) {
                QCOMPARE(state[i].first, original[i].first);
                QVERIFY2(at::equal(state[i].second, original[i].second), state[i].first.c_str());
            }
        }
        // The adapter types must match.
        const CliResult r = runCli(
            { "train", writeConfig("init-mismatch", "  type: ia3\n", "init_adapter: " + source.string() + "\n"),
                "--workspace", m_ws });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("init_adapter") && r.err.contains("must match"), qPrintable(r.err));
    }

    void forwardWithAnAdapter()
    {
        const fs::path source = exportPeft("prefix_tuning");
        QVERIFY(!source.empty());
        const fs::path ids = m_root / "ids.jsonl";
        writeTextFile(q(ids), "[5, 17, 260, 3, 99, 42, 7, 250, 31, 12]\n");
        QVERIFY(runCli({ "forward", "--model", q(m_model), "--input", q(ids), "--out", q(m_root / "peft.st"),
                           "--adapter", q(source) })
                    .code
            == 0);
        QVERIFY(runCli({ "forward", "--model", q(m_model), "--input", q(ids), "--out", q(m_root / "run.st"),
                           "--adapter", q(runAdapterDir(m_runs.at("prefix_tuning"))) })
                    .code
            == 0);
        const at::Tensor a = SafetensorsFile::open(m_root / "peft.st").tensor("logits.0");
        const at::Tensor b = SafetensorsFile::open(m_root / "run.st").tensor("logits.0");
        QVERIFY(model_test::maxAbsDiff(a, b) <= 1e-5);
        QVERIFY(model_test::maxAbsDiff(a, logitsWith(runAdapterDir(m_runs.at("prefix_tuning")))[0]) <= 1e-5);
    }

    void ggufModel_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("ggmlType");
        QTest::addColumn<int>("fileType");
        QTest::newRow("f32") << "f32" << 0 << 0;
        QTest::newRow("f16") << "f16" << 1 << 1;
        QTest::newRow("bf16") << "bf16" << 30 << 32;
        QTest::newRow("q8_0") << "q8_0" << 8 << 7;
    }

    void ggufModel()
    {
        QFETCH(QString, type);
        QFETCH(int, ggmlType);
        QFETCH(int, fileType);
        const std::int64_t run = m_runs.at("dora"); // merged: the folded DoRA weights
        const fs::path file = m_root / ("model-" + type.toStdString() + ".gguf");
        CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(run), "--format", "gguf",
            "--gguf-type", type, "--out", q(file) });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path merged = m_root / "dora-merged";
        if (!fs::exists(merged))
            QCOMPARE(runCli({ "export", "--workspace", m_ws, "--run", QString::number(run), "--format", "merged",
                                "--out", q(merged) })
                         .code,
                0);
        const std::unique_ptr<CausalLM> reference = loadCausalLM(merged);

        const gguf::File f = gguf::File::read(file);
        QCOMPARE(f.find("general.architecture")->asString(), std::string("llama"));
        QCOMPARE(f.find("general.type")->asString(), std::string("model"));
        QCOMPARE(f.find("general.name")->asString(), std::string("dora-run"));
        QCOMPARE(f.find("general.alignment")->asInt(), std::int64_t { 32 });
        QCOMPARE(f.find("general.file_type")->asInt(), std::int64_t { fileType });
        QCOMPARE(f.find("llama.block_count")->asInt(), std::int64_t { 2 });
        QCOMPARE(f.find("llama.embedding_length")->asInt(), std::int64_t { 32 });
        QCOMPARE(f.find("llama.feed_forward_length")->asInt(), std::int64_t { 64 });
        QCOMPARE(f.find("llama.attention.head_count")->asInt(), std::int64_t { 4 });
        QCOMPARE(f.find("llama.attention.head_count_kv")->asInt(), std::int64_t { 2 });
        QCOMPARE(f.find("llama.rope.dimension_count")->asInt(), std::int64_t { 8 });
        QCOMPARE(f.find("llama.context_length")->asInt(), reference->config().maxPositionEmbeddings);
        QCOMPARE(static_cast<float>(f.find("llama.rope.freq_base")->asFloat()),
            static_cast<float>(reference->config().ropeTheta));
        QCOMPARE(static_cast<float>(f.find("llama.attention.layer_norm_rms_epsilon")->asFloat()),
            static_cast<float>(reference->config().normEps));
        QCOMPARE(f.find("tokenizer.ggml.model")->asString(), std::string("gpt2"));
        QCOMPARE(f.find("tokenizer.ggml.tokens")->items.size(), std::size_t { 264 });
        QCOMPARE(std::get<std::string>(f.find("tokenizer.ggml.tokens")->items[256]), std::string("\xC4\xA0t"));
        QCOMPARE(f.find("tokenizer.ggml.merges")->items.size(), std::size_t { 7 });
        QCOMPARE(std::get<std::string>(f.find("tokenizer.ggml.merges")->items[1]), std::string("h e"));
        QCOMPARE(std::get<std::int64_t>(f.find("tokenizer.ggml.token_type")->items[263]), std::int64_t { 3 });
        QCOMPARE(std::get<std::int64_t>(f.find("tokenizer.ggml.token_type")->items[10]), std::int64_t { 1 });
        QCOMPARE(f.find("tokenizer.ggml.eos_token_id")->asInt(), std::int64_t { 263 });

        std::set<std::string> expected = { "token_embd.weight", "output_norm.weight", "output.weight" };
        for (int b = 0; b < 2; ++b) {
            for (const char* t : { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
                     "attn_norm", "ffn_norm" })
                expected.insert("blk." + std::to_string(b) + "." + t + ".weight");
        }
        std::set<std::string> names;
        for (const auto& t : f.tensors) {
            names.insert(t.name);
            const bool norm = t.name.find("norm") != std::string::npos;
            QCOMPARE(static_cast<int>(t.type), norm ? 0 : ggmlType);
        }
        QCOMPARE(names, expected);
        QCOMPARE(f.tensor("token_embd.weight")->ggmlShape, (std::vector<std::int64_t> { 32, 264 }));
        QCOMPARE(f.tensor("blk.0.attn_k.weight")->ggmlShape, (std::vector<std::int64_t> { 32, 16 }));
        QCOMPARE(f.tensor("blk.1.ffn_down.weight")->ggmlShape, (std::vector<std::int64_t> { 64, 32 }));

        // Values: the merged model's, Q and K rows permuted as convert_hf_to_gguf does, within the type's rounding.
        for (const auto& [hf, w] : reference->namedParameters()) {
            const std::string g = ggufTensorName(hf);
            at::Tensor got = f.load(g);
            if (g.find("attn_q") != std::string::npos)
                got = unpermuteForRope(got, 4);
            if (g.find("attn_k") != std::string::npos)
                got = unpermuteForRope(got, 2);
            const double amax = w.abs().max().item<double>();
            double tolerance = 0;
            if (g.find("norm") == std::string::npos) {
                if (type == "f16")
                    tolerance = amax * 1e-3;
                else if (type == "bf16")
                    tolerance = amax * 8e-3;
                else if (type == "q8_0")
                    tolerance = amax / 127.0;
            }
            const double diff = model_test::maxAbsDiff(got, w);
            QVERIFY2(diff <= tolerance,
                qPrintable(QString::fromStdString(g) + QString(": %1 > %2").arg(diff).arg(tolerance)));
            if (type == "q8_0" && g == "blk.0.ffn_up.weight")
                QVERIFY(diff > 0);
        }

        // llama.cpp's reader: the same entries and tensors; the values the merged model's within the type's rounding.
        REQUIRE_REFERENCE_PYTHON(py);
        gguf_reference::Reading reading;
        gguf_reference::readAndCompare(file, m_root / ("model-" + type.toStdString() + ".values.st"), &reading);
        if (QTest::currentTestFailed())
            return;
        const json& j = reading.info;
        QCOMPARE(j["metadata"]["general.architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(j["metadata"]["llama.attention.head_count_kv"].get<int>(), 2);
        QCOMPARE(j["metadata"]["tokenizer.ggml.tokens"].size(), std::size_t { 264 });
        QCOMPARE(j["metadataTypes"]["llama.rope.freq_base"].get<int>(), 6); // FLOAT32
        QCOMPARE(j["metadataTypes"]["tokenizer.ggml.token_type[]"].get<int>(), 5); // INT32 items
        for (const auto& [hf, w] : reference->namedParameters()) {
            const std::string g = ggufTensorName(hf);
            at::Tensor want = w;
            if (g.find("attn_q") != std::string::npos)
                want = permuteForRope(w, 4);
            else if (g.find("attn_k") != std::string::npos)
                want = permuteForRope(w, 2);
            gguf_reference::compareValues(reading, g, want, f.tensor(g)->type);
        }
    }

    void ggufLora_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<double>("alpha"); // llama.cpp's scale alpha / r equals the adapter's
        QTest::addColumn<int>("rank");
        QTest::newRow("lora") << "lora" << 8.0 << 4; // 8 / 4
        QTest::newRow("rslora") << "rslora" << 16.0 << 4; // 8 / sqrt(4) = 4 = 16 / 4
        QTest::newRow("pissa") << "pissa" << 8.0 << 8; // 4 / 4 = 1 = 8 / 8
    }

    void ggufLora()
    {
        QFETCH(QString, adapter);
        QFETCH(double, alpha);
        QFETCH(int, rank);
        const std::string name = adapter.toStdString();
        const fs::path file = m_root / ("lora-" + name + ".gguf");
        const CliResult r = runCli({ "export", "--workspace", m_ws, "--run", QString::number(m_runs.at(name)),
            "--format", "gguf-lora", "--gguf-type", "f32", "--out", q(file) });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const gguf::File f = gguf::File::read(file);
        QCOMPARE(f.find("general.architecture")->asString(), std::string("llama"));
        QCOMPARE(f.find("general.type")->asString(), std::string("adapter"));
        QCOMPARE(f.find("adapter.type")->asString(), std::string("lora"));
        QCOMPARE(f.find("adapter.lora.alpha")->asFloat(), alpha);
        const LoraForm form = loraForm(
            RunAdapterFiles::read(runAdapterDir(m_runs.at(name))), readModelConfig(m_model / "config.json"), m_plugins);
        QCOMPARE(f.tensors.size(), form.layers.size() * 2);
        for (const auto& l : form.layers) {
            const std::string g = ggufTensorName(l.module + ".weight");
            const gguf::TensorInfo* a = f.tensor(g + ".lora_a");
            const gguf::TensorInfo* b = f.tensor(g + ".lora_b");
            QVERIFY2(a && b, g.c_str());
            // llama.cpp: lora_a ne = [in, r], lora_b ne = [r, out].
            QCOMPARE(a->ggmlShape, (std::vector<std::int64_t> { l.a.size(1), rank }));
            QCOMPARE(b->ggmlShape, (std::vector<std::int64_t> { rank, l.b.size(0) }));
            QVERIFY(at::equal(f.load(g + ".lora_a"), l.a));
            at::Tensor bb = f.load(g + ".lora_b");
            if (g.find("attn_q") != std::string::npos)
                bb = unpermuteForRope(bb, 4);
            else if (g.find("attn_k") != std::string::npos)
                bb = unpermuteForRope(bb, 2);
            else
                QVERIFY(at::equal(f.load(g + ".lora_b"), l.b)); // v_proj: no permutation
            QVERIFY(at::equal(bb, l.b));
        }
        // PiSSA's update s (B A - B0 A0) equals the exported rank-2r LoRA's.
        if (name == "pissa") {
            const AdapterState state = RunAdapterFiles::read(runAdapterDir(m_runs.at(name))).state;
            const std::string base = "base_model.model." + form.layers[0].module;
            auto get = [&](const std::string& k) {
                for (const auto& [n, t] : state) {
                    if (n == k)
                        return t;
                }
                return at::Tensor();
            };
            const at::Tensor delta = at::matmul(get(base + ".lora_B.weight"), get(base + ".lora_A.weight"))
                - at::matmul(get(base + ".pissa_init.lora_B.weight"), get(base + ".pissa_init.lora_A.weight"));
            QVERIFY(model_test::maxAbsDiff(at::matmul(form.layers[0].b, form.layers[0].a), delta) <= 1e-5);
        }
        REQUIRE_REFERENCE_PYTHON(py);
        gguf_reference::Reading reading;
        gguf_reference::readAndCompare(file, m_root / ("lora-" + name + ".values.st"), &reading);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(reading.info["metadata"]["general.type"].get<std::string>(), std::string("adapter"));
        QCOMPARE(reading.info["metadata"]["adapter.lora.alpha"].get<double>(), alpha);
        for (const auto& l : form.layers) {
            const std::string g = ggufTensorName(l.module + ".weight");
            at::Tensor b = l.b;
            if (g.find("attn_q") != std::string::npos)
                b = permuteForRope(b, 4);
            else if (g.find("attn_k") != std::string::npos)
                b = permuteForRope(b, 2);
            gguf_reference::compareValues(reading, g + ".lora_a", l.a, gguf::TensorType::F32);
            gguf_reference::compareValues(reading, g + ".lora_b", b, gguf::TensorType::F32);
        }
    }
};

QTEST_GUILESS_MAIN(TestExportAdapters)
#include "test_export_adapters.moc"
