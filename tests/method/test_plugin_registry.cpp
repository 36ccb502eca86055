// The plugin loader against libraries that misbehave (tests/method/bad_plugins): refused ones (no entry point,
// another API version, an objective with a PEFT form) are listed as broken with the reason; with a probe
// program, one that crashes, ends the process or hangs while loading is found in a child process and never
// loaded here, so this process, like the GUI, carries on with the good plugins. `tunebench-cli plugins list`
// lists them the same way and exits 0.

#include "core/method/plugin_registry.h"
#include "support/cli_runner.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

const fs::path kBad = fs::path(TUNEBENCH_BINARY_DIR) / "tests" / "bad_plugins";
const fs::path kHang = fs::path(TUNEBENCH_BINARY_DIR) / "tests" / "bad_plugins_hang";
const fs::path kGood = fs::path(TUNEBENCH_BINARY_DIR) / "plugins";

std::string reasonFor(const PluginRegistry& r, const std::string& library)
{
    for (const BrokenPlugin& b : r.broken()) {
        if (b.path.filename() == library)
            return b.reason;
    }
    return {};
}

} // namespace

class TestPluginRegistry : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void refusedLibrariesSayWhy_data()
    {
        QTest::addColumn<QString>("library");
        QTest::addColumn<QString>("reason");
        QTest::newRow("no entry point") << "tunebench_noentry.so"
                                        << "is not a Tunebench plugin: it exports no tunebench_plugin_descriptor()";
        QTest::newRow("old API") << "tunebench_oldapi.so"
                                 << "was built for plugin API version 2, this Tunebench has 6";
        QTest::newRow("objective with a PEFT form") << "tunebench_peftobjective.so"
                                                    << "'peftobjective': an objective has no PEFT form";
    }

    void refusedLibrariesSayWhy()
    {
        QFETCH(QString, library);
        QFETCH(QString, reason);
        PluginRegistry r;
        QVERIFY(!r.loadLibrary(kBad / library.toStdString()));
        QVERIFY2(QString::fromStdString(reasonFor(r, library.toStdString())).contains(reason),
            reasonFor(r, library.toStdString()).c_str());
        QVERIFY(r.plugins().empty());
    }

    void crashingLibrariesStayOutOfTheProcess()
    {
        PluginRegistry r;
        r.setProbe(TUNEBENCH_CLI, 3.0);
        const auto started = std::chrono::steady_clock::now();
        r.load({ kBad, kHang, kGood });
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        qInfo("probed and loaded %zu libraries in %.1f s", r.plugins().size() + r.broken().size(), seconds);
        QVERIFY2(reasonFor(r, "tunebench_crash.so").starts_with("crashed while loading (signal 11"),
            reasonFor(r, "tunebench_crash.so").c_str());
        QVERIFY2(reasonFor(r, "tunebench_exit.so").starts_with("ended the process while loading (exit status 3)"),
            reasonFor(r, "tunebench_exit.so").c_str());
        QVERIFY2(reasonFor(r, "tunebench_hang.so").starts_with("did not finish loading within 3 s"),
            reasonFor(r, "tunebench_hang.so").c_str());
        QVERIFY(reasonFor(r, "tunebench_crash.so").ends_with("not loaded, so it cannot take Tunebench down"));
        // The refused ones were probed without harm, then refused here as before.
        QVERIFY(reasonFor(r, "tunebench_oldapi.so").find("API version 2") != std::string::npos);
        QCOMPARE(r.broken().size(), 6u);
        // Every good plugin loaded.
        for (const char* name : { "lora", "full", "ia3", "prefix_tuning" })
            QVERIFY(r.find(PluginKind::Adapter, name));
        QVERIFY(r.find(PluginKind::Objective, "dpo"));
    }

    void aProbeProgramThatIsNoneLoadsDirectly()
    {
        PluginRegistry r;
        r.setProbe("/bin/true");
        r.load({ kGood });
        QVERIFY(r.broken().empty());
        QVERIFY(r.find(PluginKind::Adapter, "lora"));
    }

    void pluginsListSurvivesThem()
    {
        QProcessEnvironment env;
        env.insert("TUNEBENCH_PLUGIN_PATH", QString::fromStdString(kBad.string()));
        const CliResult r = runCli({ "plugins", "list" }, env);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("broken\t" + QString::fromStdString((kBad / "tunebench_crash.so").string())
                     + "\tcrashed while loading (signal 11"),
            qPrintable(r.out));
        QVERIFY(r.out.contains("adapter\tlora\t"));
        // A relative entry is not searched (it would mean the current directory of each process) and says so.
        QTemporaryDir cwd;
        QVERIFY(QDir(cwd.path()).mkpath("plugins"));
        QVERIFY(QFile::copy(
            QString::fromStdString((kGood / "tunebench_lora.so").string()), cwd.path() + "/plugins/tunebench_lora.so"));
        QProcessEnvironment relative;
        relative.insert("TUNEBENCH_PLUGIN_PATH", "plugins");
        const CliResult listed = runCli({ "plugins", "list" }, relative, cwd.path());
        QVERIFY2(listed.code == 0, qPrintable(listed.err));
        QVERIFY2(listed.out.contains("broken\tplugins\tis a relative plugin folder and is not searched"),
            qPrintable(listed.out));
        QVERIFY2(!listed.out.contains(cwd.path()), qPrintable(listed.out));
        const CliResult probe
            = runCli({ "plugins", "probe", QString::fromStdString((kGood / "tunebench_lora.so").string()) });
        QCOMPARE(probe.code, 0);
        QCOMPARE(probe.out.count("loaded "), 1);
    }
};

QTEST_GUILESS_MAIN(TestPluginRegistry)
#include "test_plugin_registry.moc"
