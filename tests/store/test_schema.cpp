// Schema creation, upgrades by a newer binary, refusal by an older one.

#include "core/store/database.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/schema.h"
#include "core/store/workspace.h"

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <vector>

using namespace tunebench;
namespace fs = std::filesystem;

class TestSchema : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void createsEveryTableAndFolder()
    {
        QTemporaryDir tmp;
        const fs::path dir = fs::path(tmp.path().toStdString()) / "ws";
        Workspace ws = Workspace::create(dir);
        QCOMPARE(ws.db().userVersion(), currentSchemaVersion());
        for (const char* sub : { "datasets", "runs", "exports" })
            QVERIFY2(fs::is_directory(dir / sub), sub);
        for (const char* table : { "datasets", "runs", "metrics", "samples", "events", "artifacts" }) {
            Statement st = ws.db().prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
            st.bind(1, table);
            QVERIFY(st.step());
            QVERIFY2(st.int64(0) == 1, table);
        }
        Statement st = ws.db().prepare("PRAGMA journal_mode");
        QVERIFY(st.step());
        QCOMPARE(QString::fromStdString(st.text(0)), QStringLiteral("wal"));
    }

    void metricsQueriesUseTheIndex_data()
    {
        QTest::addColumn<QString>("query");
        QTest::newRow("one metric of one run") << "SELECT step, value FROM metrics WHERE run_id = 1 AND name = 'loss'";
        QTest::newRow("every metric of one run") << "SELECT name, value FROM metrics WHERE run_id = 1";
        QTest::newRow("one metric across runs") << "SELECT run_id FROM metrics WHERE name = 'loss'";
    }

    void metricsQueriesUseTheIndex()
    {
        QFETCH(QString, query);
        QTemporaryDir tmp;
        Workspace ws = Workspace::create(tmp.path().toStdString());
        Statement st = ws.db().prepare("EXPLAIN QUERY PLAN " + query.toStdString());
        QString plan;
        while (st.step())
            plan += QString::fromStdString(st.text(3)) + "\n";
        QVERIFY2(plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"), qPrintable(plan));
        QVERIFY2(!plan.contains("SCAN metrics\n") && !plan.startsWith("SCAN metrics"), qPrintable(plan));
    }

    void reopeningKeepsData()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        {
            Workspace ws = Workspace::create(dir);
            ws.db().exec("INSERT INTO runs (name, config_json, created_at) VALUES ('a', '{}', 1)");
        }
        Workspace again = Workspace::create(dir); // init on an existing workspace opens it
        Statement st = again.db().prepare("SELECT name FROM runs");
        QVERIFY(st.step());
        QCOMPARE(QString::fromStdString(st.text(0)), QStringLiteral("a"));
        QVERIFY(!st.step());
    }

    void newerBinaryUpgradesOlderDatabase()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        {
            Workspace ws = Workspace::create(dir);
            ws.db().exec("INSERT INTO runs (name, config_json, created_at) VALUES ('kept', '{}', 1)");
        }
        // A future binary: the released steps plus one more.
        std::vector<Migration> future(builtinMigrations().begin(), builtinMigrations().end());
        const int next = currentSchemaVersion() + 1;
        future.push_back({ next, "runs get a tag", "ALTER TABLE runs ADD COLUMN tag TEXT NOT NULL DEFAULT 'x';" });
        Database db = Database::open(dir / Workspace::kDatabaseName);
        QCOMPARE(migrate(db, future), currentSchemaVersion());
        QCOMPARE(db.userVersion(), next);
        Statement st = db.prepare("SELECT name, tag FROM runs");
        QVERIFY(st.step());
        QCOMPARE(QString::fromStdString(st.text(0)), QStringLiteral("kept"));
        QCOMPARE(QString::fromStdString(st.text(1)), QStringLiteral("x"));
        // Applying the same steps again is a no-op.
        QCOMPARE(migrate(db, future), next);
    }

    // A version-1 workspace (before runs kept their worker's host) left with a running run:
    // upgraded on open, the run keeps its pid and has no host, so it is judged on this host.
    void version1RunsGainWorkerColumns()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        fs::create_directories(dir);
        {
            Database db = Database::open(dir / Workspace::kDatabaseName, Database::Mode::ReadWriteCreate);
            migrate(db, builtinMigrations().first(1));
            QCOMPARE(db.userVersion(), 1);
            db.exec("INSERT INTO runs (name, config_json, created_at, status, worker_pid) "
                    "VALUES ('old', '{}', 1, 'running', 4242)");
        }
        Workspace ws = Workspace::open(dir);
        QCOMPARE(ws.db().userVersion(), currentSchemaVersion());
        const auto run = RunStore(ws.db()).find(1);
        QVERIFY(run);
        QCOMPARE(run->workerPid.value_or(0), 4242);
        QVERIFY(run->workerHost.empty() && run->workerBootId.empty() && !run->workerStart);
        RunStore(ws.db()).setStatus(1, RunStatus::Running, {}, 4243);
        QCOMPARE(RunStore(ws.db()).find(1)->workerHost, thisHostName());
        QCOMPARE(RunStore(ws.db()).find(1)->workerBootId, thisBootId());
    }

    void failedMigrationLeavesOldVersion()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        {
            Workspace::create(dir);
        }
        std::vector<Migration> broken(builtinMigrations().begin(), builtinMigrations().end());
        broken.push_back({ currentSchemaVersion() + 1, "broken", "CREATE TABLE extra (x INTEGER); THIS IS NOT SQL;" });
        Database db = Database::open(dir / Workspace::kDatabaseName);
        QVERIFY_THROWS_EXCEPTION(StoreError, migrate(db, broken));
        QCOMPARE(db.userVersion(), currentSchemaVersion());
        Statement st = db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra'");
        QVERIFY(st.step());
        QCOMPARE(st.int64(0), 0); // the half-applied step was rolled back
    }

    void olderBinaryRefusesNewerDatabase()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        {
            Workspace ws = Workspace::create(dir);
            ws.db().exec("PRAGMA user_version = 99");
        }
        try {
            Workspace::open(dir);
            QFAIL("a newer database was opened");
        } catch (const StoreError& e) {
            const QString message = e.what();
            QVERIFY2(message.contains("schema version 99"), qPrintable(message));
            QVERIFY2(message.contains(QString::number(currentSchemaVersion())), qPrintable(message));
            QVERIFY2(message.contains("tunebench.db"), qPrintable(message));
            QVERIFY2(message.contains("newer Tunebench"), qPrintable(message));
        }
        Database db = Database::open(dir / Workspace::kDatabaseName);
        QCOMPARE(db.userVersion(), 99); // untouched
    }

    void misnumberedMigrationsAreRejected()
    {
        QTemporaryDir tmp;
        Database db = Database::open(fs::path(tmp.path().toStdString()) / "x.db", Database::Mode::ReadWriteCreate);
        const Migration gap[] = { { 1, "a", "CREATE TABLE a (x);" }, { 3, "c", "CREATE TABLE c (x);" } };
        QVERIFY_THROWS_EXCEPTION(StoreError, migrate(db, gap));
        QCOMPARE(db.userVersion(), 0);
    }

    void notAWorkspace()
    {
        QTemporaryDir tmp;
        try {
            Workspace::open(tmp.path().toStdString());
            QFAIL("opened a folder without a database");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("is not a Tunebench workspace"), e.what());
            QVERIFY2(QString(e.what()).contains(tmp.path()), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, Workspace::open(tmp.path().toStdString() + "/missing"));
    }

    void corruptDatabaseIsAnErrorNotACrash()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        fs::create_directories(dir);
        std::ofstream(dir / Workspace::kDatabaseName) << std::string(4096, 'z');
        try {
            Workspace::open(dir);
            QFAIL("opened a corrupt database");
        } catch (const StoreError& e) {
            QVERIFY2(QString(e.what()).contains("tunebench.db"), e.what());
            QVERIFY2(QString(e.what()).contains("not a database"), e.what());
        }
    }

    void createOnAFileIsRefused()
    {
        QTemporaryDir tmp;
        const fs::path file = fs::path(tmp.path().toStdString()) / "file";
        std::ofstream(file) << "x";
        QVERIFY_THROWS_EXCEPTION(Error, Workspace::create(file));
    }
};

QTEST_GUILESS_MAIN(TestSchema)
#include "test_schema.moc"
