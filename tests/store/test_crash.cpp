// kill -9 of a process in the middle of writing: the database stays sound and
// every batch it reported committed is there, whole.

#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;

namespace {
constexpr int kRowsPerBatch = 3000;
}

class TestStoreCrash : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void killMidWrite_data()
    {
        QTest::addColumn<int>("committedBeforeKill");
        QTest::addColumn<int>("delayMs");
        QTest::newRow("early, right after a batch began") << 2 << 0;
        QTest::newRow("later, 1 ms into a batch") << 8 << 1;
        QTest::newRow("later, 5 ms into a batch") << 15 << 5;
    }

    void killMidWrite()
    {
        QFETCH(int, committedBeforeKill);
        QFETCH(int, delayMs);
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        std::int64_t run = 0;
        {
            Workspace ws = Workspace::create(dir);
            run = RunStore(ws.db()).create({ .name = "victim" });
        }

        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(STORE_WRITER_CHILD, { tmp.path(), QString::number(run), QString::number(kRowsPerBatch) });
        QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));

        int lastCommitted = -1;
        int inFlight = -1;
        bool killed = false;
        QByteArray buffer;
        QElapsedTimer clock;
        clock.start();
        while (!killed && clock.elapsed() < 120000) {
            if (!child.waitForReadyRead(10000))
                break;
            buffer += child.readAllStandardOutput();
            int nl;
            while ((nl = buffer.indexOf('\n')) >= 0) {
                const QByteArray line = buffer.left(nl);
                buffer.remove(0, nl + 1);
                if (line.startsWith("committed "))
                    lastCommitted = line.mid(10).toInt();
                else if (line.startsWith("begin "))
                    inFlight = line.mid(6).toInt();
                if (!killed && lastCommitted >= committedBeforeKill && inFlight == lastCommitted + 1) {
                    if (delayMs > 0)
                        QThread::msleep(static_cast<unsigned long>(delayMs));
                    child.kill(); // SIGKILL
                    killed = true;
                    break;
                }
            }
        }
        QVERIFY2(killed, "the child never reached the point to kill it");
        QVERIFY(child.waitForFinished(10000));
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);
        // Lines written before the kill may still sit in the pipe: a batch it
        // reported committed before dying counts too.
        for (const QByteArray& line : child.readAllStandardOutput().split('\n')) {
            if (line.startsWith("committed "))
                lastCommitted = std::max(lastCommitted, line.mid(10).toInt());
        }

        // Recovery happens on the next open (the WAL is replayed or discarded).
        Database db = Database::open(std::filesystem::path(dir) / Workspace::kDatabaseName);
        Statement check = db.prepare("PRAGMA integrity_check");
        QVERIFY(check.step());
        QCOMPARE(QString::fromStdString(check.text(0)), QStringLiteral("ok"));

        Statement perBatch
            = db.prepare("SELECT step, COUNT(*) FROM metrics WHERE run_id = ? GROUP BY step ORDER BY step");
        perBatch.bind(1, run);
        int batches = 0;
        int expected = 0;
        while (perBatch.step()) {
            QCOMPARE(perBatch.int64(0), expected); // no gap: batch order is commit order
            QCOMPARE(perBatch.int64(1), kRowsPerBatch); // whole, never partial
            ++expected;
            ++batches;
        }
        // Every batch reported committed is present; at most the one in flight more.
        QVERIFY2(batches >= lastCommitted + 1,
            qPrintable(QString("%1 batches stored, %2 reported").arg(batches).arg(lastCommitted + 1)));
        QVERIFY(batches <= lastCommitted + 2);
        qInfo("killed during batch %d: %d committed batches reported, %d stored", inFlight, lastCommitted + 1, batches);

        // The workspace is usable afterwards.
        Workspace again = Workspace::open(dir);
        QCOMPARE(RunStore(again.db()).list().size(), 1u);
    }
};

QTEST_GUILESS_MAIN(TestStoreCrash)
#include "test_crash.moc"
