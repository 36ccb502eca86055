// Full disks and read-only folders, through tunebench-cli as a user meets them. "Out of space"
// is a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) set in the worker process only: a write
// past it fails with EFBIG as one past a full disk fails with ENOSPC. A checkpoint, an export and
// a dataset import that hit it fail with a message naming the path, leave every earlier file as it
// was (nothing half-written is left either), and the run resumes once the limit is gone with the
// uninterrupted run's losses. A workspace this user cannot write opens for reading, and train says
// why it cannot start a run.

#include "core/store/workspace.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr rlim_t kNoLimit = RLIM_INFINITY;

// tunebench-cli with a file-size limit of `limit` bytes, or as the unprivileged user `uid`.
CliResult runLimited(const QStringList& args, rlim_t limit, uid_t uid = 0)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("TUNEBENCH_WORKSPACE");
    p.setProcessEnvironment(env);
    p.setChildProcessModifier([limit, uid] {
        std::signal(SIGXFSZ, SIG_IGN); // a write past the limit fails with EFBIG instead of killing the worker
        const rlimit l { limit, limit };
        ::setrlimit(RLIMIT_FSIZE, &l);
        if (uid != 0 && (::setgid(uid) != 0 || ::setuid(uid) != 0))
            ::_exit(126);
    });
    p.start(TUNEBENCH_CLI, args);
    if (!p.waitForFinished(300000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

// Every file under a folder with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir)
{
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file())
            continue;
        std::ifstream in(e.path(), std::ios::binary);
        files[fs::relative(e.path(), dir).string()]
            = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return files;
}

std::map<int, double> stepLosses(const QString& out)
{
    std::map<int, double> losses;
    for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
        const json e = json::parse(line.toStdString(), nullptr, false);
        if (e.is_object() && e.value("event", "") == "step")
            losses[e["step"].get<int>()] = e["loss"].get<double>();
    }
    return losses;
}

// Temporary and staging files left under a folder, one a line; empty when there are none.
std::string leftovers(const fs::path& dir)
{
    std::string found;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.find(".tmp") != std::string::npos || name.find(".partial") != std::string::npos
            || name.rfind(".import-", 0) == 0 || name.find(".old") != std::string::npos)
            found += e.path().string() + "\n";
    }
    return found;
}

} // namespace

class TestCliDiskLimits : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_config;
    QString m_data;
    std::map<int, double> m_straight;
    std::uintmax_t m_checkpointFile = 0; // the size of a checkpoint's optimizer.safetensors

private Q_SLOTS:
    void initTestCase()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        m_data = m_dir.path() + "/data.jsonl";
        {
            std::ofstream out(m_data.toStdString());
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        }
        // Full fine-tuning: its checkpoints are the largest files a run writes.
        const json config
            = { { "name", "limits" }, { "model", (root / "model").string() }, { "dataset", m_data.toStdString() },
                  { "objective", "sft" }, { "adapter", "full" }, { "learning_rate", 1e-3 }, { "max_steps", 8 },
                  { "per_device_train_batch_size", 4 }, { "lr_scheduler_type", "cosine" }, { "seed", 42 },
                  { "cutoff_len", 64 }, { "save_steps", 2 }, { "save_total_limit", 10 }, { "threads", 1 } };
        m_config = m_dir.path() + "/run.json";
        QVERIFY(writeTextFile(m_config, QByteArray::fromStdString(config.dump(2))));
        const QString ws = m_dir.path() + "/straight";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const CliResult r = runCli({ "train", m_config, "--workspace", ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        m_straight = stepLosses(r.out);
        QCOMPARE(m_straight.size(), std::size_t(8));
        m_checkpointFile
            = fs::file_size(fs::path(ws.toStdString()) / "runs/1/checkpoints/step-8/optimizer.safetensors");
        qInfo("a checkpoint's optimizer.safetensors: %llu bytes; the database: %llu bytes",
            static_cast<unsigned long long>(m_checkpointFile),
            static_cast<unsigned long long>(fs::file_size(fs::path(ws.toStdString()) / "tunebench.db")));
    }

    // The checkpoint after step 2 is written, then the disk "fills": the next checkpoint fails naming
    // its path, the run is marked failed, the step-2 checkpoint is untouched; with the space back
    // the run resumes from it and ends with the uninterrupted run's losses.
    void checkpointOutOfSpaceThenResume()
    {
        const QString ws = m_dir.path() + "/checkpoint";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const fs::path checkpoints = fs::path(ws.toStdString()) / "runs/1/checkpoints";
        // Half the optimizer file: the store's small writes still fit, a checkpoint does not.
        const rlim_t limit = m_checkpointFile / 2;

        const CliResult first = runLimited({ "train", m_config, "--workspace", ws }, limit);
        QCOMPARE(first.code, 1);
        qInfo("%s", qPrintable(first.err.trimmed()));
        QVERIFY2(
            first.err.contains("cannot write checkpoint " + QString::fromStdString((checkpoints / "step-2").string())),
            qPrintable(first.err));
        QVERIFY2(first.err.contains("File too large"), qPrintable(first.err));
        QVERIFY(!fs::exists(checkpoints / "step-2"));
        QCOMPARE(leftovers(fs::path(ws.toStdString())), std::string());

        // Space back, it trains from the start. Its checkpoints after step 4 are removed, as if the disk had
        // filled right after step 4 (a worker cannot be stopped at an exact step from outside).
        const CliResult second = runCli({ "train", "--run", "1", "--workspace", ws });
        QVERIFY2(second.code == 0, qPrintable(second.err));
        QVERIFY(fs::exists(checkpoints / "step-8"));
        fs::remove_all(checkpoints / "step-8");
        fs::remove_all(checkpoints / "step-6");
        const auto before = snapshot(checkpoints);
        QVERIFY(before.count("step-4/optimizer.safetensors"));

        const CliResult full = runLimited({ "train", "--resume", "1", "--workspace", ws }, limit);
        QCOMPARE(full.code, 1);
        qInfo("%s", qPrintable(full.err.trimmed()));
        QVERIFY2(
            full.err.contains("cannot write checkpoint " + QString::fromStdString((checkpoints / "step-6").string())),
            qPrintable(full.err));
        QVERIFY2(full.err.contains("the previous checkpoints are intact"), qPrintable(full.err));
        QVERIFY(snapshot(checkpoints) == before);
        QCOMPARE(leftovers(fs::path(ws.toStdString())), std::string());
        {
            tunebench::Workspace w = tunebench::Workspace::open(ws.toStdString());
            tunebench::Statement st = w.db().prepare("SELECT status, error FROM runs WHERE id = 1");
            QVERIFY(st.step());
            QCOMPARE(QString::fromStdString(st.text(0)), QStringLiteral("failed"));
            QVERIFY2(QString::fromStdString(st.text(1)).contains("step-6"), st.text(1).c_str());
        }

        const CliResult resumed = runCli({ "train", "--resume", "1", "--workspace", ws });
        QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
        std::map<int, double> losses = stepLosses(second.out);
        for (const auto& [step, loss] : stepLosses(resumed.out)) {
            QVERIFY2(step > 4, "resumed before the step-4 checkpoint");
            QVERIFY2(losses[step] == loss,
                qPrintable(QString("step %1: resumed %2, before %3").arg(step).arg(loss).arg(losses[step])));
        }
        for (const auto& [step, loss] : m_straight)
            QVERIFY2(losses[step] == loss, qPrintable(QString("step %1 differs from the uninterrupted run").arg(step)));
    }

    // An export over an earlier one and a dataset import that run out of space leave what was there.
    void exportAndImportOutOfSpace()
    {
        const QString ws = m_dir.path() + "/straight"; // trained in initTestCase
        const QString out = m_dir.path() + "/merged";
        const CliResult exported
            = runCli({ "export", "--workspace", ws, "--run", "1", "--format", "merged", "--out", out });
        QVERIFY2(exported.code == 0, qPrintable(exported.err));
        const auto before = snapshot(out.toStdString());
        const auto wsBefore = snapshot(fs::path(ws.toStdString()) / "datasets");
        // Less than the merged weights (about half a checkpoint's optimizer state, in float32).
        const rlim_t limit = m_checkpointFile / 8;

        const CliResult again = runLimited(
            { "export", "--workspace", ws, "--run", "1", "--format", "merged", "--out", out, "--force" }, limit);
        QCOMPARE(again.code, 1);
        qInfo("%s", qPrintable(again.err.trimmed()));
        QVERIFY2(again.err.contains("cannot write " + out + ".partial/"), qPrintable(again.err));
        QVERIFY2(again.err.contains("File too large"), qPrintable(again.err));
        QVERIFY(snapshot(out.toStdString()) == before);
        QCOMPARE(leftovers(m_dir.path().toStdString()), std::string());

        // A dataset larger than the limit.
        const QString big = m_dir.path() + "/big.jsonl";
        {
            std::ofstream f(big.toStdString());
            const std::string text(200, 'x');
            for (std::uintmax_t written = 0; written < m_checkpointFile; written += text.size() + 40)
                f << json({ { "instruction", "say" }, { "output", text } }).dump() << "\n";
        }
        const CliResult imported = runLimited({ "dataset", "import", big, "--workspace", ws }, limit);
        QCOMPARE(imported.code, 1);
        qInfo("%s", qPrintable(imported.err.trimmed()));
        QVERIFY2(
            imported.err.contains("data.jsonl") && imported.err.contains("File too large"), qPrintable(imported.err));
        QVERIFY(snapshot(fs::path(ws.toStdString()) / "datasets") == wsBefore);
        const CliResult listed = runCli({ "dataset", "list", "--workspace", ws });
        QVERIFY2(!listed.out.contains("big"), qPrintable(listed.out));
        QCOMPARE(leftovers(fs::path(ws.toStdString())), std::string());
    }

    // A workspace this user cannot write: read commands work, train says why it cannot start.
    void readOnlyWorkspace()
    {
        // Root writes anything: the commands run as an unprivileged user then.
        const uid_t uid = ::geteuid() == 0 ? 65534 : 0;
        QTemporaryDir dir;
        ::chmod(dir.path().toLocal8Bit().constData(), 0755);
        ::chmod(m_dir.path().toLocal8Bit().constData(), 0755); // the model, read by the export
        const QString ws = dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        QCOMPARE(runCli({ "runs", "create", "--workspace", ws, "--config", m_config }).code, 0);
        const CliResult trained = runCli({ "train", "--run", "1", "--workspace", ws });
        QVERIFY2(trained.code == 0, qPrintable(trained.err));
        const QString outDir = dir.path() + "/out"; // the folder the user names, writable by them
        QVERIFY(QDir().mkpath(outDir));
        ::chmod(outDir.toLocal8Bit().constData(), 0777);
        for (const auto& e : fs::recursive_directory_iterator(ws.toStdString()))
            fs::permissions(e.path(), fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                fs::perm_options::remove);
        fs::permissions(ws.toStdString(), fs::perms::owner_write, fs::perm_options::remove);

        const CliResult list = runLimited({ "runs", "list", "--workspace", ws }, kNoLimit, uid);
        QVERIFY2(list.code == 0, qPrintable(list.err));
        QVERIFY2(list.out.contains("limits"), qPrintable(list.out));
        const CliResult train = runLimited({ "train", "--run", "1", "--workspace", ws }, kNoLimit, uid);
        QCOMPARE(train.code, 1);
        QVERIFY2(train.err.contains("cannot start a run: the workspace folder " + ws + " is read-only"),
            qPrintable(train.err));
        const CliResult import = runLimited({ "dataset", "import", m_data, "--workspace", ws }, kNoLimit, uid);
        QCOMPARE(import.code, 1);
        QVERIFY2(import.err.contains("cannot import a dataset: the workspace folder"), qPrintable(import.err));
        // Exporting reads the workspace: it writes the folder asked for and says it is not recorded.
        const CliResult exported = runLimited(
            { "export", "--workspace", ws, "--run", "1", "--format", "merged", "--out", outDir + "/merged" }, kNoLimit,
            uid);
        QVERIFY2(exported.code == 0, qPrintable(exported.err));
        QVERIFY2(
            exported.err.contains("not recorded among run 1's artifacts: the workspace folder " + ws + " is read-only"),
            qPrintable(exported.err));
        QVERIFY(QFileInfo::exists(outDir + "/merged/model.safetensors"));
        QCOMPARE(QJsonDocument::fromJson(exported.out.toUtf8()).object().value("artifact").type(), QJsonValue::Null);
        fs::permissions(ws.toStdString(), fs::perms::owner_write, fs::perm_options::add);
        for (const auto& e : fs::recursive_directory_iterator(ws.toStdString()))
            fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    }
};

QTEST_GUILESS_MAIN(TestCliDiskLimits)
#include "test_cli_disk_limits.moc"
