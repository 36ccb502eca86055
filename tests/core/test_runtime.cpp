// Process-wide runtime settings and version reporting.

#include "core/runtime.h"
#include "core/version.h"

#include <QtTest>

#include <thread>

using namespace tunebench;

class TestRuntime : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void threadsDefaultToTheCores()
    {
        // LibTorch from Debian starts with one thread; Tunebench uses every core.
        const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        QCOMPARE(configureThreads(), cores);
        QCOMPARE(configureThreads(1), 1);
        QCOMPARE(configureThreads(-3), cores);
    }

    void versions()
    {
        QCOMPARE(QString::fromStdString(tunebenchVersion()), QStringLiteral(TUNEBENCH_PROJECT_VERSION));
        QVERIFY(QRegularExpression(R"(^\d+\.\d+\.\d+)").match(QString::fromStdString(torchVersion())).hasMatch());
        QVERIFY(QString::fromStdString(sqliteVersion()).startsWith("3."));
        QCOMPARE(cudaAvailable(), QString::fromStdString(torchVersion()).endsWith("+cuda"));
    }
};

QTEST_GUILESS_MAIN(TestRuntime)
#include "test_runtime.moc"
