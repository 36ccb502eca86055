// The `distributed:` section and the torchrun-style environment: values read, defaults kept, and a
// wrong key, type or range named in the message.

#include "core/distributed/distributed_config.h"
#include "core/util/error.h"

#include <QtTest>

#include <cstdlib>

using namespace tunebench;
using nlohmann::json;

class TestDistributedConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void readsSection()
    {
        const DistributedConfig d = DistributedConfig::fromJson(json::parse(R"({"backend": "gloo",
            "nproc_per_node": 2, "nnodes": 3, "node_rank": 1, "master_addr": "10.0.0.1", "master_port": 29411,
            "timeout_s": 12.5})"),
            "run.yaml");
        QCOMPARE(d.nprocPerNode, std::int64_t(2));
        QCOMPARE(d.worldSize(), std::int64_t(6));
        QCOMPARE(d.nodeRank, std::int64_t(1));
        QCOMPARE(QString::fromStdString(d.masterAddr), QString("10.0.0.1"));
        QCOMPARE(d.masterPort, std::int64_t(29411));
        QCOMPARE(d.timeoutS, 12.5);
        QCOMPARE(DistributedConfig::fromJson(d.toJson(), "again"), d);
        QCOMPARE(DistributedConfig::fromJson(json::object(), "empty"), DistributedConfig {});
    }

    void rejectsBadSections_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown key") << R"({"procs": 2})"
                                     << "unknown key 'distributed.procs'";
        QTest::newRow("backend") << R"({"backend": "mpi"})"
                                 << "'distributed.backend' must be gloo or nccl";
        QTest::newRow("port range") << R"({"master_port": 70000})"
                                    << "'distributed.master_port' must be between";
        QTest::newRow("node rank") << R"({"nnodes": 2, "node_rank": 2})"
                                   << "must be below 'distributed.nnodes'";
        QTest::newRow("timeout") << R"({"timeout_s": 0})"
                                 << "'distributed.timeout_s' must be a number of seconds";
        QTest::newRow("not a mapping") << R"(4)"
                                       << "section 'distributed' must be a mapping";
    }

    void rejectsBadSections()
    {
        QFETCH(QString, section);
        QFETCH(QString, message);
        try {
            DistributedConfig::fromJson(json::parse(section.toStdString()), "run.yaml");
            QFAIL("accepted");
        } catch (const InputError& e) {
            const QString what = e.what();
            QVERIFY2(what.startsWith("run.yaml: ") && what.contains(message), qPrintable(what));
        }
    }

    void readsEnvironment()
    {
        DistributedConfig fallback;
        fallback.timeoutS = 7;
        ::unsetenv("RANK");
        ::unsetenv("WORLD_SIZE");
        QVERIFY(!RankEnvironment::fromEnvironment(fallback));
        ::setenv("RANK", "2", 1);
        ::setenv("WORLD_SIZE", "4", 1);
        ::setenv("LOCAL_RANK", "0", 1);
        ::setenv("MASTER_ADDR", "node7", 1);
        ::setenv("MASTER_PORT", "29999", 1);
        const auto e = RankEnvironment::fromEnvironment(fallback);
        QVERIFY(e);
        QCOMPARE(e->rank, std::int64_t(2));
        QCOMPARE(e->worldSize, std::int64_t(4));
        QCOMPARE(QString::fromStdString(e->masterAddr), QString("node7"));
        QCOMPARE(e->masterPort, std::int64_t(29999));
        QCOMPARE(e->timeoutS, 7.0);
        ::setenv("RANK", "4", 1);
        try {
            RankEnvironment::fromEnvironment(fallback);
            QFAIL("accepted RANK=4 of 4");
        } catch (const InputError& err) {
            QVERIFY2(QString(err.what()).contains("RANK='4'"), err.what());
        }
        for (const char* v : { "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT" })
            ::unsetenv(v);
    }
};

QTEST_GUILESS_MAIN(TestDistributedConfig)
#include "test_distributed_config.moc"
