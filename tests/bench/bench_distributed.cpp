// Data-parallel overhead and speed-up on the CPU: the same global batch (4 micro-batches of 4 x 64 tokens
// a step) on 1 process (accumulation 4) and on 2 processes (accumulation 2 each, Gloo on loopback), one
// thread per process, for full fine-tuning and LoRA (r 8, q_proj and v_proj). Prints the median step
// time after two warm-up steps, the bytes all-reduced per step, each rank's communication wait per step
// (what the gradient hooks did not hide) and the share of buckets started while backward ran. Asserts
// only that every run finished. TUNEBENCH_BENCH_SHORT=1 (ctest sets it) takes a smaller model and fewer steps.
//
// Run: ctest -L bench -R bench_distributed -V (short), or build/tests/bench_distributed directly (full).

#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

class BenchDistributed : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    bool m_short = false;
    int m_steps = 8;

private Q_SLOTS:
    void initTestCase()
    {
        m_short = std::getenv("TUNEBENCH_BENCH_SHORT") != nullptr;
        m_steps = m_short ? 4 : 8;
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyTokenizer(m_model);
        RandomModelSpec spec = model_test::tinyFolderSpec(m_short ? 2 : 4);
        spec.hiddenSize = m_short ? 64 : 256;
        spec.intermediateSize = m_short ? 128 : 688;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), m_model);
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        std::mt19937 gen(7);
        for (int i = 0; i < 128; ++i) {
            std::string text;
            while (text.size() < 400)
                text += std::string(1 + gen() % 7, static_cast<char>('a' + gen() % 26)) + " ";
            out << json({ { "text", text } }).dump() << "\n";
        }
        std::printf("model: llama hidden %lld, %lld layers, vocabulary %lld; global batch 4 x (4 x 64 tokens); "
                    "1 thread per process; %d steps%s\n",
            static_cast<long long>(spec.hiddenSize), static_cast<long long>(spec.numLayers),
            static_cast<long long>(spec.vocabSize), m_steps, m_short ? " (short mode)" : "");
        std::printf("%-6s %5s %12s %16s %22s %9s\n", "method", "ranks", "step_s", "allreduce_bytes",
            "comm_wait_s (per rank)", "overlap");
    }

    void oneVersusTwo_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<int>("ranks");
        for (const char* adapter : { "full", "lora" }) {
            for (int ranks : { 1, 2 })
                QTest::addRow("%s, %d", adapter, ranks) << adapter << ranks;
        }
    }

    void oneVersusTwo()
    {
        QFETCH(QString, adapter);
        QFETCH(int, ranks);
        json config = { { "model", m_model.string() }, { "dataset", m_data.string() }, { "objective", "sft" },
            { "adapter", adapter.toStdString() }, { "learning_rate", 1e-4 }, { "max_steps", m_steps },
            { "per_device_train_batch_size", 4 }, { "gradient_accumulation_steps", 4 / ranks }, { "cutoff_len", 64 },
            { "threads", 1 }, { "seed", 1 } };
        if (adapter == "lora") {
            config["r"] = 8;
            config["target_modules"] = { "q_proj", "v_proj" };
        }
        const QString name = QString("%1-%2").arg(adapter).arg(ranks);
        const QString ws = m_dir.path() + "/ws-" + name;
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const QString file = m_dir.path() + "/" + name + ".json";
        QVERIFY(writeTextFile(file, QByteArray::fromStdString(config.dump())));
        QStringList args { "train", file, "--workspace", ws };
        if (ranks > 1)
            args << "--nproc-per-node" << QString::number(ranks) << "--master-port" << QString::number(29600 + ranks);
        const CliResult r = runCli(args);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        std::vector<double> seconds;
        std::vector<std::vector<double>> comm(static_cast<std::size_t>(ranks));
        double bytes = 0, buckets = 0, overlapped = 0;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const json e = json::parse(line.toStdString(), nullptr, false);
            if (!e.is_object() || e.value("event", "") != "step" || e["step"].get<int>() <= 2)
                continue;
            seconds.push_back(e["step_seconds"].get<double>());
            if (e.contains("allreduce_bytes")) {
                bytes = e["allreduce_bytes"].get<double>();
                buckets += e["allreduce_buckets"].get<double>();
                overlapped += e["buckets_overlapped"].get<double>();
                for (int k = 0; k < ranks; ++k)
                    comm[static_cast<std::size_t>(k)].push_back(e["rank_comm_seconds"][k].get<double>());
            }
        }
        QVERIFY(!seconds.empty());
        QStringList waitList;
        for (const auto& c : comm)
            waitList << QString::number(median(c), 'f', 4);
        const QByteArray waits = waitList.join(' ').toUtf8();
        std::printf("%-6s %5d %12.4f %16.0f %22s %8.0f%%\n", qPrintable(adapter), ranks, median(seconds), bytes,
            ranks > 1 ? waits.constData() : "-", buckets > 0 ? 100.0 * overlapped / buckets : 0.0);
    }
};

QTEST_GUILESS_MAIN(BenchDistributed)
#include "bench_distributed.moc"
