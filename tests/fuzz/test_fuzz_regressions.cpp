// Every input libFuzzer found a bug with (tests/fuzz/regressions/<target>/, fixed since) and every seed
// (tests/fuzz/corpus/<target>/) through the fuzz targets' own entry points, in the normal build: each entry
// point aborts on a crash-worthy outcome (an exception other than InputError, an error that names no file, a
// broken invariant), so a row that comes back has passed. The run configuration and PEFT targets check
// against the plugins of this build (the fuzz binaries carry copies of a few schemas instead).

#include "chat_template_target.h"
#include "gguf_target.h"
#include "peft_config_target.h"
#include "pipeline_file_target.h"
#include "record_reader_target.h"
#include "run_config_target.h"
#include "safetensors_header_target.h"
#include "sweep_file_target.h"
#include "tokenizer_target.h"

#include "core/method/plugin_registry.h"

#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTargets = { "safetensors_header", "jsonl_reader", "csv_reader", "tokenizer_json",
    "vocab_merges", "chat_template", "run_config", "gguf", "peft_adapter_config", "sweep_file", "pipeline_file" };

std::vector<std::uint8_t> readBytes(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

} // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void inputs_data()
    {
        QTest::addColumn<QString>("target");
        QTest::addColumn<QString>("file");
        const fs::path root = fs::path(TUNEBENCH_SOURCE_DIR) / "tests/fuzz";
        int regressions = 0;
        for (const char* kind : { "regressions", "corpus" }) {
            for (const std::string& target : kTargets) {
                const fs::path dir = root / kind / target;
                if (!fs::is_directory(dir))
                    continue;
                std::vector<fs::path> files;
                for (const auto& entry : fs::directory_iterator(dir))
                    files.push_back(entry.path());
                std::sort(files.begin(), files.end());
                for (const fs::path& f : files) {
                    const std::string row = std::string(kind) + "/" + target + "/" + f.filename().string();
                    QTest::newRow(row.c_str()) << QString::fromStdString(target) << QString::fromStdString(f.string());
                    regressions += std::string(kind) == "regressions";
                }
            }
        }
        // The fixed bugs' inputs are part of the repository: a wrong path must not pass with no rows.
        QVERIFY(regressions > 0);
    }

    void inputs()
    {
        QFETCH(QString, target);
        QFETCH(QString, file);
        const std::vector<std::uint8_t> bytes = readBytes(file.toStdString());
        const std::uint8_t* data = bytes.data();
        const std::size_t size = bytes.size();
        const std::string t = target.toStdString();
        if (t == "safetensors_header")
            fuzz::checkSafetensorsHeader(data, size);
        else if (t == "jsonl_reader")
            fuzz::checkRecordReader(data, size, FileType::Jsonl);
        else if (t == "csv_reader")
            fuzz::checkRecordReader(data, size, FileType::Csv);
        else if (t == "tokenizer_json")
            fuzz::checkTokenizerFolder(data, size, "tokenizer.json");
        else if (t == "vocab_merges")
            fuzz::checkTokenizerFolder(data, size, "vocab.json");
        else if (t == "chat_template")
            fuzz::checkChatTemplate(data, size);
        else if (t == "run_config")
            fuzz::checkRunConfig(data, size, defaultPluginRegistry());
        else if (t == "gguf")
            fuzz::checkGguf(data, size);
        else if (t == "sweep_file")
            fuzz::checkSweepFile(data, size, defaultPluginRegistry());
        else if (t == "pipeline_file")
            fuzz::checkPipelineFile(data, size, defaultPluginRegistry());
        else if (t == "peft_adapter_config")
            fuzz::checkPeftConfig(data, size, defaultPluginRegistry());
        else
            QFAIL(qPrintable("no entry point for " + target));
    }

    // The seeds that stand for valid files are accepted, so the targets reach past the first check.
    void validSeedsAccepted()
    {
        const fs::path corpus = fs::path(TUNEBENCH_SOURCE_DIR) / "tests/fuzz/corpus";
        const auto bytes = [&](const char* rel) { return readBytes(corpus / rel); };
        auto b = bytes("tokenizer_json/byte_level_config.json");
        QCOMPARE(fuzz::checkTokenizerFolder(b.data(), b.size(), "tokenizer.json"), fuzz::TokenizerVerdict::Loaded);
        b = bytes("vocab_merges/tiny_config.txt");
        QCOMPARE(fuzz::checkTokenizerFolder(b.data(), b.size(), "vocab.json"), fuzz::TokenizerVerdict::Loaded);
        b = bytes("chat_template/roles.jinja");
        QCOMPARE(fuzz::checkChatTemplate(b.data(), b.size()), fuzz::TemplateVerdict::Rendered);
        b = bytes("run_config/sections.yaml");
        QCOMPARE(fuzz::checkRunConfig(b.data(), b.size(), defaultPluginRegistry()), fuzz::ConfigVerdict::Accepted);
        b = bytes("run_config/config.json");
        QCOMPARE(fuzz::checkRunConfig(b.data(), b.size(), defaultPluginRegistry()), fuzz::ConfigVerdict::Accepted);
        for (const char* f : { "sweep_file/grid_seeds.yaml", "sweep_file/random.yaml", "sweep_file/sweep.json" }) {
            b = bytes(f);
            QCOMPARE(fuzz::checkSweepFile(b.data(), b.size(), defaultPluginRegistry()), fuzz::SweepVerdict::Accepted);
        }
        for (const char* f : { "pipeline_file/three_stages.yaml", "pipeline_file/pipeline.json" }) {
            b = bytes(f);
            QCOMPARE(
                fuzz::checkPipelineFile(b.data(), b.size(), defaultPluginRegistry()), fuzz::PipelineVerdict::Accepted);
        }
        b = bytes("gguf/tiny.gguf");
        QCOMPARE(fuzz::checkGguf(b.data(), b.size()), fuzz::GgufVerdict::Accepted);
        for (const char* f :
            { "lora.json", "lora_regex.json", "ia3.json", "prompt_tuning.json", "prefix_tuning.json" }) {
            b = bytes((std::string("peft_adapter_config/") + f).c_str());
            QCOMPARE(fuzz::checkPeftConfig(b.data(), b.size(), defaultPluginRegistry()), fuzz::PeftVerdict::Accepted);
        }
        b = bytes("peft_adapter_config/refused.json");
        QCOMPARE(fuzz::checkPeftConfig(b.data(), b.size(), defaultPluginRegistry()), fuzz::PeftVerdict::Rejected);
    }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
