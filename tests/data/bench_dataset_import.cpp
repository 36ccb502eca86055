// Import throughput (MB/s) and peak memory while importing a large generated
// JSON Lines file: the import streams, so the peak resident set stays far
// below the file's size. TUNEBENCH_BENCH_IMPORT_MB sets the size (default 200).
//
// Run: ctest -L bench -R bench_dataset_import --output-on-failure, or
// build/tests/bench_dataset_import directly.

#include "core/data/dataset_import.h"
#include "core/store/workspace.h"

#include <nlohmann/json.hpp>

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace tunebench;

namespace {

// A field of /proc/self/status in kB ("VmHWM", "VmRSS").
std::int64_t statusKb(const std::string& field)
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::stoll(line.substr(field.size() + 1));
    }
    return -1;
}

// Resets VmHWM to the current resident set (Linux 4.0+).
bool resetPeak()
{
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace

class BenchDatasetImport : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void importLargeJsonl()
    {
        const qint64 megabytes = qEnvironmentVariableIsSet("TUNEBENCH_BENCH_IMPORT_MB")
            ? qEnvironmentVariableIntValue("TUNEBENCH_BENCH_IMPORT_MB")
            : 200;
        QTemporaryDir tmp;
        const std::filesystem::path file = tmp.path().toStdString() + "/large.jsonl";
        std::uint64_t bytes = 0;
        std::int64_t records = 0;
        {
            std::ofstream out(file, std::ios::binary);
            const std::string filler = "Write a short, friendly and accurate answer about the topic given. ";
            while (bytes < static_cast<std::uint64_t>(megabytes) << 20) {
                const std::string line
                    = nlohmann::json({ { "instruction", filler + std::to_string(records) },
                                         { "input", records % 3 ? "" : "some context " + filler },
                                         { "output", filler + filler + std::to_string(records * 7) } })
                          .dump()
                    + "\n";
                out << line;
                bytes += line.size();
                ++records;
            }
        }
        Workspace ws = Workspace::create(tmp.path().toStdString() + "/ws");
        const bool peakResets = resetPeak();
        const std::int64_t rssBefore = statusKb("VmRSS");
        std::uint64_t progressCalls = 0;
        ImportOptions options;
        options.progress = [&](std::uint64_t, std::uint64_t) {
            ++progressCalls;
            return true;
        };
        QElapsedTimer t;
        t.start();
        const ImportResult r = importDataset(ws, file, options);
        const double seconds = static_cast<double>(t.nsecsElapsed()) / 1e9;
        const std::int64_t peak = statusKb("VmHWM");
        QVERIFY(r.imported);
        QCOMPARE(r.records, records);
        const double mb = static_cast<double>(bytes) / (1 << 20);
        qInfo("import: %.1f MB, %lld records in %.2f s: %.1f MB/s, %.0f records/s; %llu progress reports", mb,
            static_cast<long long>(records), seconds, mb / seconds, static_cast<double>(records) / seconds,
            static_cast<unsigned long long>(progressCalls));
        if (peakResets) {
            const double growthMb = static_cast<double>(peak - rssBefore) / 1024.0;
            qInfo("peak resident set while importing: %.1f MB (%.1f MB above the %.1f MB before)", peak / 1024.0,
                growthMb, rssBefore / 1024.0);
            // Streaming: the peak grows by far less than the file.
            QVERIFY2(growthMb < std::max(64.0, mb / 4), qPrintable(QString::number(growthMb)));
        }
        QVERIFY(progressCalls >= static_cast<std::uint64_t>(megabytes)); // about one report a MiB
    }
};

QTEST_GUILESS_MAIN(BenchDatasetImport)
#include "bench_dataset_import.moc"
