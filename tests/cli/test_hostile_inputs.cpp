// Hostile inputs through tunebench-cli as a user would meet them:
// - names with terminal escape sequences, a lone carriage return, tabs and a
//   right-to-left override print as visible escapes in listings and errors
//   (--json output keeps them exactly, JSON-escaped);
// - names from files never become paths outside the folder the user named:
//   a sharded index naming "../x", "/abs/x" or "sub/x" is refused naming
//   weight_map; a tokenizer file that is a symlink in the source model folder
//   is exported as a regular file inside the export; a stale "<out>.partial"
//   that is a symlink to another folder is replaced, never written through;
// - plugins load only from the search path: a plugin library in the current
//   folder, the workspace or its plugins/ folder is never loaded, the same
//   library named by TUNEBENCH_PLUGIN_PATH is.

#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "report/tiny_run.h"
#include "support/cli_runner.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace tunebench;

namespace {

const std::string kHostile = "<b>x</b>\x1b[31mred\x1b]0;title\x07\rCR\ttab\u202Eevil\nline2";
const QString kEscaped = QStringLiteral("<b>x</b>\\x1b[31mred\\x1b]0;title\\x07\\x0dCR\\ttab\\u202eevil\\nline2");

bool hasRawControls(const QString& s)
{
    for (QChar c : s) {
        if ((c.unicode() < 0x20 && c != QLatin1Char('\n') && c != QLatin1Char('\t')) || c.unicode() == 0x202E)
            return true;
    }
    return false;
}

CliResult runCliIn(const QString& cwd, const QStringList& args, const QProcessEnvironment& extra = {})
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("TUNEBENCH_WORKSPACE");
    env.remove("TUNEBENCH_PLUGIN_PATH");
    for (const QString& key : extra.keys())
        env.insert(key, extra.value(key));
    p.setProcessEnvironment(env);
    p.setWorkingDirectory(cwd);
    p.start(TUNEBENCH_CLI, args);
    if (!p.waitForFinished(120000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

QStringList listedFiles(const QString& dir)
{
    QStringList out;
    for (const auto& e : fs::recursive_directory_iterator(dir.toStdString()))
        out << QString::fromStdString(e.path().lexically_relative(dir.toStdString()).string());
    out.sort();
    return out;
}

} // namespace

class TestHostileInputs : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    report_test::TinyWorkspace m_tiny;
    qint64 m_run = -1;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_tiny = report_test::makeTinyWorkspace(m_dir.path());
        QVERIFY2(m_tiny.error.isEmpty(), qPrintable(m_tiny.error));
    }

    void listingsEscapeNames()
    {
        const QString ws = m_dir.path() + "/names";
        {
            Workspace w = Workspace::create(ws.toStdString());
            DatasetRecord d;
            d.name = kHostile;
            d.format = "text";
            DatasetStore(w.db()).add(d);
            NewRun run;
            run.name = kHostile;
            run.adapter = "lora";
            run.objective = "sft";
            run.configJson = "{}";
            RunStore(w.db()).create(run);
        }
        CliResult r = runCli({ "runs", "list", "--workspace", ws });
        QCOMPARE(r.code, 0);
        QVERIFY2(!hasRawControls(r.out), qPrintable(r.out));
        QVERIFY2(r.out.contains("\tqueued\t" + kEscaped + "\tlora\tsft\t"), qPrintable(r.out));
        QCOMPARE(r.out.count('\n'), 1); // the name's newline does not start a row

        r = runCli({ "dataset", "list", "--workspace", ws });
        QCOMPARE(r.code, 0);
        QVERIFY2(!hasRawControls(r.out), qPrintable(r.out));
        QVERIFY2(r.out.contains("\ttext\t0\t" + kEscaped + "\t"), qPrintable(r.out));
        QCOMPARE(r.out.count('\n'), 1);

        // --json keeps the name exactly (JSON escapes the controls itself).
        r = runCli({ "runs", "list", "--json", "--workspace", ws });
        QCOMPARE(r.code, 0);
        for (QChar c : r.out.trimmed()) // U+202E is a valid JSON character: JSON consumers get the exact name
            QVERIFY(c.unicode() >= 0x20);
        const QJsonObject run = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(run.value("name").toString(), QString::fromStdString(kHostile));
    }

    void errorsEscapeWhatTheyQuote()
    {
        // An unknown command, a missing tokenizer folder and a record with a bad field, each quoting the text.
        CliResult r = runCli({ QString::fromStdString("\x1b]0;pwned\x07"), "x" });
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("\\x1b]0;pwned\\x07"), qPrintable(r.err));
        QVERIFY(!hasRawControls(r.err));

        const QString badDir = m_dir.path() + QString::fromStdString("/no\x1b[2Jsuch\u202E");
        r = runCli({ "tokenize", "--tokenizer", badDir, "--input", m_dir.path() + "/none.txt" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no\\x1b[2Jsuch\\u202e"), qPrintable(r.err));
        QVERIFY(!hasRawControls(r.err));

        const QString data = m_dir.path() + "/bad-records.jsonl";
        QVERIFY(writeTextFile(data, QByteArray("{\"instruction\": 5, \"output\": \"a\\u001b[31mb\"}\n")));
        r = runCli({ "dataset", "import", data, "--format", "instruction", "--workspace", m_tiny.workspace });
        QCOMPARE(r.code, 1);
        QVERIFY(!hasRawControls(r.err));
    }

    void shardIndexMustNameFilesInTheFolder_data()
    {
        QTest::addColumn<QString>("shard");
        QTest::newRow("parent") << "../model-00001-of-00002.safetensors";
        QTest::newRow("absolute") << "/etc/passwd";
        QTest::newRow("subfolder") << "sub/model-00001-of-00002.safetensors";
        QTest::newRow("dot dot") << "..";
    }

    void shardIndexMustNameFilesInTheFolder()
    {
        QFETCH(QString, shard);
        const QString model
            = m_dir.path() + "/sharded-" + QString::fromLatin1(QTest::currentDataTag()).replace(' ', '-');
        const fs::path dir = model.toStdString();
        fs::create_directories(dir);
        model_test::writeTinyModelFolder(dir, 3);
        // The tiny model is one file: an index naming a shard elsewhere takes precedence once present.
        nlohmann::json index = { { "metadata", nlohmann::json::object() },
            { "weight_map", { { "model.embed_tokens.weight", shard.toStdString() } } } };
        std::ofstream(dir / "model.safetensors.index.json") << index.dump();
        fs::remove(dir / "model.safetensors");
        const CliResult r = runCli({ "generate", "--model", model, "--prompt", "the cat", "--max-new-tokens", "1" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("weight_map['model.embed_tokens.weight']"), qPrintable(r.err));
        QVERIFY2(r.err.contains("not a plain file name"), qPrintable(r.err));
    }

    void exportStaysInsideTheNamedFolder()
    {
        // A model folder whose tokenizer.json is a symlink to a file elsewhere (as in the Hugging Face cache).
        const QString model = m_dir.path() + "/linked-model";
        QVERIFY(QDir().mkpath(model));
        for (const QString& f : QDir(m_tiny.model).entryList(QDir::Files))
            QVERIFY(QFile::copy(m_tiny.model + "/" + f, model + "/" + f));
        const QString elsewhere = m_dir.path() + "/elsewhere";
        QVERIFY(QDir().mkpath(elsewhere));
        QVERIFY(QFile::rename(model + "/tokenizer.json", elsewhere + "/tokenizer.json"));
        QVERIFY(QFile::link(elsewhere + "/tokenizer.json", model + "/tokenizer.json"));
        report_test::TinyWorkspace linked = m_tiny;
        linked.model = model;
        QString error;
        m_run = report_test::trainTinyRun(linked, "paths", "1e-3", &error);
        QVERIFY2(m_run > 0, qPrintable(error));

        // A stale staging folder that is a symlink to another folder with a file in it.
        const QString victim = m_dir.path() + "/victim";
        QVERIFY(QDir().mkpath(victim));
        QVERIFY(writeTextFile(victim + "/keep.txt", "keep"));
        const QString out = m_dir.path() + "/exports/merged";
        QVERIFY(QDir().mkpath(m_dir.path() + "/exports"));
        QVERIFY(QFile::link(victim, out + ".partial"));

        const CliResult r = runCli({ "export", "--workspace", m_tiny.workspace, "--run", QString::number(m_run),
            "--format", "merged", "--out", out });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(listedFiles(victim), QStringList { "keep.txt" });
        QCOMPARE(QString::fromUtf8([&] {
            QFile f(victim + "/keep.txt");
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        }()),
            QStringLiteral("keep"));
        QCOMPARE(listedFiles(elsewhere), QStringList { "tokenizer.json" });
        const QFileInfo tokenizer(out + "/tokenizer.json");
        QVERIFY(tokenizer.exists());
        QVERIFY2(!tokenizer.isSymLink(), "the export must hold the file, not a link out of it");
        QVERIFY(!QFileInfo::exists(out + ".partial"));
        for (const QString& f : listedFiles(out))
            QVERIFY2(!QFileInfo(out + "/" + f).isSymLink(), qPrintable(f));
    }

    void pluginsOnlyFromTheSearchPath()
    {
        // A copy of a real plugin under a name no search-path folder has: were it loaded, `plugins list` would
        // show its path (as a duplicate of the plugin it copies).
        const QString original = QStringLiteral(TUNEBENCH_BINARY_DIR "/plugins/tunebench_bitfit.so");
        QVERIFY(QFileInfo::exists(original));
        const QString cwd = m_dir.path() + "/cwd";
        QVERIFY(QDir().mkpath(cwd));
        QVERIFY(QFile::copy(original, cwd + "/planted_cwd.so"));
        QVERIFY(QDir().mkpath(m_tiny.workspace + "/plugins"));
        QVERIFY(QFile::copy(original, m_tiny.workspace + "/planted_ws.so"));
        QVERIFY(QFile::copy(original, m_tiny.workspace + "/plugins/planted_wsplugins.so"));
        const QString home = m_dir.path() + "/home";
        QVERIFY(QDir().mkpath(home));

        QProcessEnvironment env;
        env.insert("HOME", home);
        env.insert("TUNEBENCH_WORKSPACE", m_tiny.workspace);
        CliResult r = runCliIn(cwd, { "plugins", "list" }, env);
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("adapter\tbitfit\t"), qPrintable(r.out));
        QVERIFY2(!r.out.contains("planted"), qPrintable(r.out));
        // Nor from inside the workspace folder.
        r = runCliIn(m_tiny.workspace, { "plugins", "list" }, env);
        QVERIFY2(!r.out.contains("planted"), qPrintable(r.out));

        // The same library named by TUNEBENCH_PLUGIN_PATH is looked at (and refused as a duplicate name).
        env.insert("TUNEBENCH_PLUGIN_PATH", cwd);
        r = runCliIn(cwd, { "plugins", "list" }, env);
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains(cwd + "/planted_cwd.so"), qPrintable(r.out));
    }
};

QTEST_GUILESS_MAIN(TestHostileInputs)
#include "test_hostile_inputs.moc"
