// Learning-rate schedules: values computed by hand from the HF definitions.

#include "core/train/lr_schedule.h"
#include "core/util/error.h"

#include <QtTest>

using namespace tunebench;

class TestLrSchedule : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void multipliers_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("warmup");
        QTest::addColumn<int>("total");
        QTest::addColumn<int>("step");
        QTest::addColumn<double>("expected");
        QTest::newRow("linear warmup start") << "linear" << 10 << 110 << 0 << 0.0;
        QTest::newRow("linear warmup middle") << "linear" << 10 << 110 << 5 << 0.5;
        QTest::newRow("linear peak") << "linear" << 10 << 110 << 10 << 1.0;
        QTest::newRow("linear decay quarter") << "linear" << 10 << 110 << 35 << 0.75;
        QTest::newRow("linear end") << "linear" << 10 << 110 << 110 << 0.0;
        QTest::newRow("linear past end") << "linear" << 10 << 110 << 200 << 0.0;
        QTest::newRow("linear no warmup") << "linear" << 0 << 4 << 1 << 0.75;
        QTest::newRow("cosine peak") << "cosine" << 10 << 110 << 10 << 1.0;
        QTest::newRow("cosine half") << "cosine" << 10 << 110 << 60 << 0.5;
        QTest::newRow("cosine quarter") << "cosine" << 0 << 100 << 25 << 0.5 * (1 + std::sqrt(0.5));
        QTest::newRow("cosine end") << "cosine" << 0 << 100 << 100 << 0.0;
        QTest::newRow("constant") << "constant" << 0 << 100 << 77 << 1.0;
        QTest::newRow("constant with warmup") << "constant_with_warmup" << 4 << 100 << 1 << 0.25;
    }

    void multipliers()
    {
        QFETCH(QString, type);
        QFETCH(int, warmup);
        QFETCH(int, total);
        QFETCH(int, step);
        QFETCH(double, expected);
        LrSchedule s { scheduleTypeFromString(type.toStdString()), 2e-4, warmup, total, 0.0 };
        QVERIFY2(std::abs(s.multiplier(step) - expected) < 1e-12, qPrintable(QString::number(s.multiplier(step))));
        QVERIFY(std::abs(s.lr(step) - 2e-4 * expected) < 1e-16);
    }

    void cosineFloor()
    {
        LrSchedule s { ScheduleType::Cosine, 1.0, 0, 100, 0.1 };
        QVERIFY(std::abs(s.multiplier(100) - 0.1) < 1e-12);
        QVERIFY(std::abs(s.multiplier(50) - 0.55) < 1e-12);
    }

    void warmupRatio()
    {
        QCOMPARE(warmupStepsFromRatio(0.1, 95), 10); // rounded up
        QCOMPARE(warmupStepsFromRatio(0.0, 95), 0);
        QVERIFY_THROWS_EXCEPTION(InputError, warmupStepsFromRatio(1.5, 10));
    }

    void unknownNameIsExplained()
    {
        try {
            scheduleTypeFromString("polynomial");
            QFAIL("accepted an unknown schedule");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("'polynomial'") && QString(e.what()).contains("cosine"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestLrSchedule)
#include "test_lr_schedule.moc"
