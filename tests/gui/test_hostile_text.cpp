// Names and texts with markup and terminal escapes (a run name, a dataset's
// name and records, a run's error, a configuration value, generated samples)
// are shown literally on every page: no label, table cell or tooltip renders
// them as HTML, and control characters and bidirectional overrides appear as
// visible escapes.

#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/main_window.h"
#include "ui/pages/compare_page.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/runs_page.h"
#include "ui/widgets/user_text.h"

#include <QAbstractItemView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextDocument>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

// Every kind of hostile text at once: markup, a Markdown link, a colour and a
// window-title escape sequence, a lone carriage return, a bell and a
// right-to-left override.
const std::string kHostile = "<b>x</b><img src=x onerror=alert(1)>[link](javascript:alert(1))"
                             "\x1b[31mred\x1b]0;title\x07\rCR\u202Eevil";
// What must be visible wherever the text is shown.
const QStringList kVisible = { QStringLiteral("<b>x</b>"), QStringLiteral("<img src=x onerror=alert(1)>"),
    QStringLiteral("[link](javascript:alert(1))"), QStringLiteral("\\x1b[31mred"), QStringLiteral("\\x1b]0;title\\x07"),
    QStringLiteral("\\x0dCR"), QStringLiteral("\\u202eevil") };
// What must never reach the screen raw.
const QList<QChar> kRaw = { QChar(0x1b), QChar(0x07), QChar('\r'), QChar(0x202E) };

QString rendered(const QString& text, Qt::TextFormat format)
{
    const bool rich = format == Qt::RichText || (format == Qt::AutoText && Qt::mightBeRichText(text));
    if (!rich)
        return text;
    QTextDocument doc;
    doc.setHtml(text);
    return doc.toPlainText();
}

struct Checked {
    int places = 0; // where the hostile text was found, shown correctly
    QStringList failures;
};

// A place that shows the hostile text (or part of it) must show it literally.
void check(const QString& where, const QString& text, Qt::TextFormat format, Checked& out)
{
    const QString shown = rendered(text, format);
    for (QChar c : kRaw) {
        if (shown.contains(c))
            out.failures << QStringLiteral("%1: a raw U+%2 in %3").arg(where).arg(c.unicode(), 4, 16).arg(shown);
    }
    if (!text.contains(QStringLiteral("onerror")) && !shown.contains(QStringLiteral("onerror")))
        return;
    // Table cells may be cut short; what is shown must be a literal prefix.
    bool all = true;
    // JSON (the configuration view) escapes controls its own way.
    QString normal = shown;
    normal.replace(QStringLiteral("\\u001b"), QStringLiteral("\\x1b"))
        .replace(QStringLiteral("\\u0007"), QStringLiteral("\\x07"))
        .replace(QStringLiteral("\\r"), QStringLiteral("\\x0d"));
    for (const QString& part : kVisible.mid(1)) // "<b>x</b>" is checked where the whole text is shown
        all = all && normal.contains(part);
    // (A model column shows the path's file name: what follows the "/" of "</b>".)
    if (!shown.contains(QStringLiteral("<img src=x onerror=alert(1)>")))
        out.failures << QStringLiteral("%1: the markup is not shown literally: %2").arg(where, shown);
    else if (!all && !shown.endsWith(QStringLiteral("\u2026")))
        out.failures << QStringLiteral("%1: escapes missing in %2").arg(where, shown);
    else
        ++out.places;
}

void checkWindow(QWidget* window, Checked& out)
{
    for (QLabel* label : window->findChildren<QLabel*>())
        check(QStringLiteral("label %1").arg(label->objectName()), label->text(), label->textFormat(), out);
    for (QPlainTextEdit* edit : window->findChildren<QPlainTextEdit*>()) {
        if (edit->isReadOnly()) // the configuration, the worker's log
            check(QStringLiteral("text of %1").arg(edit->objectName()), edit->toPlainText(), Qt::PlainText, out);
    }
    for (QWidget* w : window->findChildren<QWidget*>()) {
        if (!w->toolTip().isEmpty())
            check(QStringLiteral("tooltip of %1").arg(w->objectName()), w->toolTip(), Qt::AutoText, out);
    }
    for (QAbstractItemView* view : window->findChildren<QAbstractItemView*>()) {
        QAbstractItemModel* model = view->model();
        if (!model)
            continue;
        for (int r = 0; r < model->rowCount(); ++r) {
            for (int c = 0; c < model->columnCount(); ++c) {
                const QModelIndex i = model->index(r, c);
                const QString where = QStringLiteral("%1 (%2, %3)").arg(view->objectName()).arg(r).arg(c);
                // Item delegates draw DisplayRole as plain text; tooltips are guessed.
                check(where, i.data(Qt::DisplayRole).toString(), Qt::PlainText, out);
                check(where + QStringLiteral(" tooltip"), i.data(Qt::ToolTipRole).toString(), Qt::AutoText, out);
            }
        }
    }
}

} // namespace

class TestHostileText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    }

    void helpersEscape_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("multiLine");
        QTest::addColumn<QString>("plain");
        QTest::newRow("markup") << "<b>x</b>" << false << "<b>x</b>";
        QTest::newRow("escape sequence") << "\x1b[2J" << false << "\\x1b[2J";
        QTest::newRow("title") << "\x1b]0;pwned\x07" << false << "\\x1b]0;pwned\\x07";
        QTest::newRow("carriage return") << "a\rb" << false << "a\\x0db";
        QTest::newRow("newline, one line") << "a\nb" << false << "a\\nb";
        QTest::newRow("newline kept") << "a\nb" << true << "a\nb";
        QTest::newRow("tab kept") << "a\tb" << false << "a\tb";
        QTest::newRow("rtl override") << QString::fromUtf8("abc\u202Edef") << false << "abc\\u202edef";
        QTest::newRow("isolate") << QString::fromUtf8("a\u2066b\u2069") << false << "a\\u2066b\\u2069";
        QTest::newRow("c1 control") << QString::fromUtf8("a\u009bb") << false << "a\\x9bb";
        QTest::newRow("arabic stays") << QString::fromUtf8("\u0645\u0631\u062D\u0628\u0627") << false
                                      << QString::fromUtf8("\u0645\u0631\u062D\u0628\u0627");
        QTest::newRow("emoji stays") << QString::fromUtf8("\U0001F600") << false << QString::fromUtf8("\U0001F600");
    }

    void helpersEscape()
    {
        QFETCH(QString, text);
        QFETCH(bool, multiLine);
        QFETCH(QString, plain);
        QCOMPARE(userText(text, multiLine), plain);
        // Rich text collapses a tab like any white space; a tooltip keeps the text's lines.
        QCOMPARE(rendered(userRichText(text, multiLine), Qt::RichText), QString(plain).replace('\t', ' '));
        QCOMPARE(rendered(userToolTip(text), Qt::AutoText), userText(text, /*multiLine=*/true));
    }

    void invalidUtf8IsEscaped()
    {
        QCOMPARE(userText(std::string("a\xff"
                                      "b\xc3")),
            QStringLiteral("a\\xffb\\xc3"));
        QCOMPARE(userText(std::string("\xed\xa0\x80")), QStringLiteral("\\xed\\xa0\\x80")); // a surrogate
    }

    void everyPageShowsTheTextLiterally()
    {
        QTemporaryDir dir;
        const std::filesystem::path root(dir.path().toStdString());
        std::int64_t datasetId = 0;
        std::int64_t runA = 0;
        std::int64_t runB = 0;
        {
            Workspace ws = Workspace::create(root);
            DatasetRecord ds;
            ds.name = kHostile;
            ds.format = "instruction";
            ds.sourcePath = "/data/" + kHostile + ".jsonl";
            ds.records = 2;
            datasetId = DatasetStore(ws.db()).add(ds);
            std::filesystem::create_directories(ws.datasetDir(datasetId));
            std::ofstream(ws.datasetDir(datasetId) / "data.jsonl")
                << nlohmann::json({ { "instruction", kHostile }, { "output", kHostile } }).dump() << "\n"
                << nlohmann::json({ { "instruction", "plain" }, { "output", kHostile + "\nsecond line" } }).dump()
                << "\n";

            RunStore runs(ws.db());
            NewRun run;
            run.name = kHostile;
            run.adapter = "lora";
            run.objective = "sft";
            run.modelPath = "/models/" + kHostile;
            run.datasetId = datasetId;
            run.configJson = nlohmann::json({ { "name", kHostile }, { "learning_rate", 1e-4 } }).dump();
            runA = runs.create(run);
            run.configJson = nlohmann::json({ { "name", "other" }, { "learning_rate", 2e-4 } }).dump();
            runB = runs.create(run);
            runs.setStatus(runA, RunStatus::Running, {}, 4242);
            runs.setStatus(runA, RunStatus::Failed, "training failed on record \"" + kHostile + "\"");
            BatchWriter writer(ws.db());
            for (int step = 1; step <= 3; ++step)
                writer.addMetric(runA, step, "loss", 2.0 - 0.1 * step);
            writer.addSample(runA, 2, 0, 0, kHostile, kHostile, 7);
            writer.flush();
        }

        MainWindow window;
        window.resize(1200, 800);
        window.show();
        QString error;
        QVERIFY2(window.openWorkspace(dir.path(), &error), qPrintable(error));

        window.showPage(MainWindow::RunsPageIndex);
        QVERIFY(window.runsPage()->selectRun(runA));
        window.showPage(MainWindow::DatasetsPageIndex);
        QVERIFY(window.datasetsPage()->selectDataset(datasetId));
        window.showPage(MainWindow::ComparePageIndex);
        QVERIFY(window.comparePage()->setRunChecked(runA, true));
        QVERIFY(window.comparePage()->setRunChecked(runB, true));
        window.showPage(MainWindow::MonitorPageIndex);
        window.monitorPage()->showRun(runA);
        auto* samples = window.monitorPage()->findChild<QTableWidget*>(QStringLiteral("monitorSamples"));
        QVERIFY(samples);
        QTRY_VERIFY_WITH_TIMEOUT(samples->rowCount() == 1, 10000);

        Checked checked;
        checkWindow(&window, checked);
        QVERIFY2(checked.failures.isEmpty(), qPrintable(checked.failures.join(QLatin1Char('\n'))));
        // The run table's name, model and status tooltip, the runs page title, the dataset table and its
        // preview, the records' cells and tooltips, the compare list and the configuration difference, the
        // monitor's run picker and samples: far more than this many places show the text.
        QVERIFY2(checked.places >= 15, qPrintable(QString::number(checked.places)));

        // The Runs page's title keeps its own markup (bold) while showing the name's literally.
        auto* title = window.runsPage()->findChild<QLabel*>(QStringLiteral("runTitle"));
        QVERIFY(title->text().contains(QStringLiteral("<b>Run #")));
        QVERIFY(rendered(title->text(), title->textFormat()).contains(QStringLiteral("<b>x</b>")));
    }

private:
    QTemporaryDir m_settingsDir;
};

QTEST_MAIN(TestHostileText)
#include "test_hostile_text.moc"
