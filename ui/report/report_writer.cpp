#include "ui/report/report_writer.h"

#include "core/util/display_text.h"

#include "core/util/error.h"
#include "ui/models/run_summary.h"
#include "ui/report/report_plot.h"

#include <QBuffer>
#include <QColor>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QPageSize>
#include <QPdfWriter>
#include <QSaveFile>
#include <QTextDocument>
#include <QUrl>

#include <cmath>

namespace tunebench::ui {

namespace {

constexpr int kPlotWidth = 760;
constexpr int kPlotHeight = 340;
constexpr int kPrintPlotWidth = 620; // in the PDF's layout units, so a plot fits the A4 text width
constexpr int kMaxSampleChars = 1500;
const char* kDiffersColor = "#fff3c4";

// Every text from the store goes through here: control characters and
// bidirectional overrides become visible escapes (a report may be read in a
// terminal, and an override would reverse the text around it).
QString q(const std::string& s)
{
    return QString::fromStdString(escapeControls(s, /*keepNewlines=*/true));
}

QString esc(const QString& s)
{
    return s.toHtmlEscaped();
}

QString number(double v)
{
    return QString::number(v, 'g', 6);
}

QString timeText(double secondsSinceEpoch)
{
    return QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(secondsSinceEpoch * 1000))
        .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

QString durationText(double seconds)
{
    if (seconds < 10)
        return QStringLiteral("%1 s").arg(seconds, 0, 'f', 1);
    const qint64 s = static_cast<qint64>(seconds + 0.5);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60);
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

// A seed group as the statistics tables name it: its runs and method.
QString groupLabel(const ReportGroup& g)
{
    QStringList ids;
    for (std::int64_t id : g.runIds)
        ids.append(QStringLiteral("#%1").arg(id));
    return QStringLiteral("%1 (%2)").arg(ids.join(QStringLiteral(", ")), q(g.method));
}

// The rows of the across-seeds table: group, metric, n, mean ± std, 95% t interval.
std::vector<QStringList> seedRows(const ReportData& data)
{
    std::vector<QStringList> rows;
    for (const ReportGroup& g : data.groups) {
        for (const ReportGroupMetric& m : g.metrics) {
            const stats::Summary& s = m.summary;
            rows.push_back({ groupLabel(g), q(m.name), QString::number(s.n),
                s.n > 1 ? QStringLiteral("%1 \u00b1 %2").arg(number(s.mean), number(s.std)) : number(s.mean),
                s.n > 1 ? QStringLiteral("[%1, %2] (t)").arg(number(s.ci95Low), number(s.ci95High))
                        : QStringLiteral("(one run)") });
        }
    }
    return rows;
}

QStringList groupTestLines(const ReportData& data)
{
    QStringList lines;
    for (const ReportGroupTest& t : data.groupTests)
        lines.append(
            QStringLiteral("%1 against %2, %3: %4")
                .arg(groupLabel(data.groups[t.group]), groupLabel(data.groups[0]), q(t.metric), groupTestText(t.test)));
    return lines;
}

const char* const kSeedNote = "Runs whose configurations differ only in a seed form one group: the mean and sample "
                              "standard deviation over its runs' final values, and a 95% confidence interval of the "
                              "mean by Student's t. Each later group is tested against the first: paired by seed when "
                              "both ran the same seeds, else Welch's t test; too few runs (under 3 per group) are "
                              "flagged rather than concluded.";

QString runLabel(const ReportRun& r)
{
    return QStringLiteral("#%1 %2").arg(r.run.id).arg(q(r.run.name));
}

QString title(const ReportData& data)
{
    if (data.runs.size() == 1)
        return QStringLiteral("Run %1").arg(runLabel(data.runs.front()));
    return QStringLiteral("Comparison of %1 runs").arg(data.runs.size());
}

QString jsonText(const nlohmann::json& j, const char* key)
{
    if (!j.is_object() || !j.contains(key) || j[key].is_null())
        return {};
    const nlohmann::json& v = j[key];
    if (v.is_number_float())
        return number(v.get<double>());
    return v.is_string() ? q(v.get<std::string>()) : q(v.dump());
}

// The runs overview: one row per field, one column per run.
std::vector<std::pair<QString, std::vector<QString>>> overview(const ReportData& data)
{
    std::vector<std::pair<QString, std::vector<QString>>> rows;
    auto add = [&](const QString& field, const std::function<QString(const ReportRun&)>& value) {
        std::vector<QString> values;
        bool any = false;
        for (const ReportRun& r : data.runs) {
            values.push_back(value(r));
            any = any || !values.back().isEmpty();
        }
        if (any)
            rows.emplace_back(field, std::move(values));
    };
    add(QStringLiteral("Name"), [](const ReportRun& r) { return q(r.run.name); });
    add(QStringLiteral("Status"), [](const ReportRun& r) { return q(std::string(toString(r.run.status))); });
    add(QStringLiteral("Adapter"), [](const ReportRun& r) { return q(r.run.adapter); });
    add(QStringLiteral("Objective"), [](const ReportRun& r) { return q(r.run.objective); });
    add(QStringLiteral("Model"), [](const ReportRun& r) { return q(r.run.modelPath); });
    add(QStringLiteral("Dataset"), [](const ReportRun& r) {
        if (r.lineage.empty())
            return r.run.datasetId ? QStringLiteral("#%1").arg(*r.run.datasetId) : QString();
        return QStringLiteral("#%1 %2").arg(r.lineage.front().id).arg(q(r.lineage.front().name));
    });
    add(QStringLiteral("Parent run"), [](const ReportRun& r) {
        return r.run.parentRunId ? QStringLiteral("#%1").arg(*r.run.parentRunId) : QString();
    });
    add(QStringLiteral("Created"), [](const ReportRun& r) { return timeText(r.run.createdAt); });
    add(QStringLiteral("Duration"), [](const ReportRun& r) {
        return r.run.startedAt && r.run.finishedAt ? durationText(*r.run.finishedAt - *r.run.startedAt) : QString();
    });
    add(QStringLiteral("Steps"), [](const ReportRun& r) { return jsonText(r.finishedEvent, "steps"); });
    add(QStringLiteral("Trainable parameters"), [](const ReportRun& r) {
        const QString trainable = jsonText(r.startEvent, "trainable_parameters");
        const QString total = jsonText(r.startEvent, "total_parameters");
        return trainable.isEmpty() ? QString() : QStringLiteral("%1 of %2").arg(trainable, total);
    });
    add(QStringLiteral("Train / eval examples"), [](const ReportRun& r) {
        const QString train = jsonText(r.startEvent, "train_examples");
        return train.isEmpty() ? QString()
                               : QStringLiteral("%1 / %2").arg(train, jsonText(r.startEvent, "eval_examples"));
    });
    add(QStringLiteral("Best eval loss"),
        [](const ReportRun& r) { return jsonText(r.finishedEvent, "best_eval_loss"); });
    add(QStringLiteral("Error"), [](const ReportRun& r) { return q(r.run.error); });
    return rows;
}

QString metricValue(const ReportMetric& m, bool best)
{
    if (!best)
        return QStringLiteral("%1 (step %2)").arg(number(m.final)).arg(m.finalStep);
    if (!m.best)
        return QStringLiteral("\u2014");
    return QStringLiteral("%1 (%2, step %3)")
        .arg(number(*m.best))
        .arg(m.direction == MetricDirection::Lower ? QStringLiteral("min") : QStringLiteral("max"))
        .arg(m.bestStep);
}

QString lineageParams(const DatasetRecord& d)
{
    return d.paramsJson == "{}" ? QString() : q(d.paramsJson);
}

QString sampleText(const std::string& text)
{
    QString s = q(text);
    if (s.size() > kMaxSampleChars)
        s = s.left(kMaxSampleChars) + QStringLiteral(" \u2026");
    return s;
}

QString safeFileName(const QString& metric)
{
    QString out;
    for (QChar c : metric)
        out += (c.isLetterOrNumber() || c == QLatin1Char('-') || c == QLatin1Char('.')) ? c : QLatin1Char('_');
    return out;
}

QByteArray pngBytes(const QImage& image)
{
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, "PNG");
    return bytes;
}

[[noreturn]] void fail(const QString& message)
{
    throw Error(message.toStdString());
}

void commit(QSaveFile& file)
{
    if (!file.commit())
        fail(QStringLiteral("%1: cannot write: %2").arg(file.fileName(), file.errorString()));
}

// A pipeline's chain of runs, one row a stage: stage, name, status, run, started from, model.
std::vector<QStringList> pipelineChain(const ReportPipeline& p)
{
    std::vector<QStringList> rows;
    for (std::size_t i = 0; i < p.stages.size(); ++i) {
        const PipelineStageRecord& s = p.stages[i];
        QString status = QStringLiteral("deleted");
        if (i < p.runStatus.size() && p.runStatus[i].has_value())
            status = QString::fromUtf8(toString(*p.runStatus[i]).data());
        rows.push_back({ QString::number(s.index + 1), q(s.name), q(s.status),
            s.runId ? QStringLiteral("#%1 (%2)").arg(*s.runId).arg(status) : QStringLiteral("-"),
            s.parentRunId ? QStringLiteral("#%1").arg(*s.parentRunId) : QStringLiteral("base model"), q(s.modelPath) });
    }
    return rows;
}

QString rowLabel(const ReportPipeline& p, std::size_t row)
{
    return row == 0 ? QStringLiteral("base")
                    : QStringLiteral("after %1").arg(row - 1 < p.stages.size() ? q(p.stages[row - 1].name) : "?");
}

QString matrixValue(double v)
{
    return std::isfinite(v) ? QString::number(v, 'f', 4) : QStringLiteral("-");
}

QStringList measureLines(const ReportPipeline& p)
{
    auto opt = [](const std::optional<double>& v) { return v ? matrixValue(*v) : QStringLiteral("-"); };
    QStringList lines;
    for (const ContinualMeasures& m : p.measures)
        lines << QStringLiteral("%1 (%2 columns, after stage %3): average %4, backward transfer %5, forgetting %6, "
                                "forward transfer %7")
                     .arg(m.higherIsBetter ? QStringLiteral("Higher is better") : QStringLiteral("Lower is better"))
                     .arg(m.columns)
                     .arg(m.afterStage)
                     .arg(matrixValue(m.average), opt(m.bwt), opt(m.forgetting), opt(m.fwt));
    return lines;
}

// A heat map's colour for a cell's quality (0 worst, 1 best): pale red to pale green, white where missing.
QString qualityColor(double quality)
{
    if (!std::isfinite(quality))
        return QStringLiteral("#ffffff");
    const QColor c = QColor::fromHsvF(0.33 * quality, 0.45, 1.0);
    return c.name();
}

const char* kPipelineNote = "Rows: the base model, then after each stage; columns: each stage's task (its evaluation "
                            "task, or its held-out loss). Cells are coloured within their column from worst (red) to "
                            "best (green), losses inverted.";

} // namespace

std::optional<ReportFormat> reportFormatForPath(const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("html") || suffix == QLatin1String("htm"))
        return ReportFormat::Html;
    if (suffix == QLatin1String("pdf"))
        return ReportFormat::Pdf;
    if (suffix == QLatin1String("md") || suffix == QLatin1String("markdown"))
        return ReportFormat::Markdown;
    return std::nullopt;
}

QString reportFormatName(ReportFormat format)
{
    switch (format) {
    case ReportFormat::Html:
        return QStringLiteral("html");
    case ReportFormat::Pdf:
        return QStringLiteral("pdf");
    case ReportFormat::Markdown:
        return QStringLiteral("md");
    }
    return {};
}

std::vector<QImage> reportPlots(const ReportData& data, double scale)
{
    std::vector<QImage> out;
    for (const std::string& name : data.metricNames()) {
        std::vector<PlotSeries> series;
        for (const ReportRun& r : data.runs) {
            auto it = r.series.find(name);
            if (it != r.series.end())
                series.push_back({ runLabel(r), &it->second });
        }
        out.push_back(renderMetricPlot(q(name), series, QSize(kPlotWidth, kPlotHeight), scale));
    }
    return out;
}

QString reportHtml(const ReportData& data, const std::vector<QImage>& plots, bool forPrint,
    const std::function<QString(int)>& imageSource)
{
    const bool comparison = data.runs.size() > 1;
    QString h;
    h += QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>%1</title>\n")
             .arg(esc(title(data)));
    h += QStringLiteral(
        "<style>\nbody { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }\n"
        "table { border-collapse: collapse; margin: 0.5em 0 1.5em; }\n"
        "th, td { border: 1px solid #c8ccd2; padding: 3px 8px; text-align: left; vertical-align: top; }\n"
        "th { background: #eef1f5; }\n"
        "tr.differs td { background: #fff3c4; font-weight: bold; }\n"
        "pre { white-space: pre-wrap; margin: 0; font-family: monospace; }\n"
        ".note { color: #666; }\n"
        "</style></head><body>\n");
    const QString table = QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\">");
    // Tables whose cells hold long text take the full width.
    const QString wideTable = QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\" width=\"100%\">");
    const QString pageBreak = QStringLiteral(" style=\"page-break-before: always\"");

    h += QStringLiteral("<h1>Tunebench report: %1</h1>\n").arg(esc(title(data)));
    h += QStringLiteral("<p class=\"note\">Written %1 from workspace <code>%2</code>.</p>\n")
             .arg(timeText(data.createdAt), esc(q(data.workspace)));

    // Runs
    h += QStringLiteral("<h2>Runs</h2>\n") + table + QStringLiteral("<tr><th></th>");
    for (const ReportRun& r : data.runs)
        h += QStringLiteral("<th>%1</th>").arg(esc(QStringLiteral("#%1").arg(r.run.id)));
    h += QStringLiteral("</tr>\n");
    for (const auto& [field, values] : overview(data)) {
        h += QStringLiteral("<tr><th>%1</th>").arg(esc(field));
        for (const QString& v : values)
            h += QStringLiteral("<td>%1</td>").arg(esc(v));
        h += QStringLiteral("</tr>\n");
    }
    h += QStringLiteral("</table>\n");

    // Configuration
    h += QStringLiteral("<h2>Configuration</h2>\n");
    if (comparison) {
        const std::size_t differing = data.differenceCount();
        h += QStringLiteral("<p>%1 of %2 keys differ between the runs%3</p>\n")
                 .arg(differing)
                 .arg(data.config.size())
                 .arg(differing ? QStringLiteral(" (highlighted).") : QStringLiteral("."));
    }
    auto configTable = [&](bool onlyDiffering) {
        h += wideTable + QStringLiteral("<tr><th>Key</th>");
        for (const ReportRun& r : data.runs)
            h += QStringLiteral("<th>%1</th>").arg(esc(comparison ? runLabel(r) : QStringLiteral("Value")));
        h += QStringLiteral("</tr>\n");
        for (const ConfigRow& row : data.config) {
            if (onlyDiffering && !row.differs)
                continue;
            const QString cell = row.differs
                ? QStringLiteral("<td bgcolor=\"%1\"><b>%2</b></td>").arg(QLatin1String(kDiffersColor))
                : QStringLiteral("<td>%2</td>");
            h += row.differs ? QStringLiteral("<tr class=\"differs\">") : QStringLiteral("<tr>");
            h += cell.arg(esc(q(row.key)));
            for (const auto& v : row.values)
                h += cell.arg(v ? esc(q(*v)) : QStringLiteral("<i>(not set)</i>"));
            h += QStringLiteral("</tr>\n");
        }
        h += QStringLiteral("</table>\n");
    };
    if (comparison && data.differenceCount() > 0) {
        h += QStringLiteral("<h3>Keys that differ</h3>\n");
        configTable(true);
        h += QStringLiteral("<h3>All keys</h3>\n");
    }
    configTable(false);

    // Data lineage
    h += QStringLiteral("<h2%1>Data lineage</h2>\n").arg(forPrint ? pageBreak : QString());
    for (const ReportRun& r : data.runs) {
        if (comparison)
            h += QStringLiteral("<h3>%1</h3>\n").arg(esc(runLabel(r)));
        if (r.lineage.empty()) {
            h += QStringLiteral("<p class=\"note\">%1</p>\n")
                     .arg(r.run.datasetId
                             ? QStringLiteral("Dataset #%1 is not in the workspace any more.").arg(*r.run.datasetId)
                             : QStringLiteral("The run's data was a file, not a workspace dataset (see the "
                                              "configuration's <code>dataset</code>)."));
            continue;
        }
        h += wideTable
            + QStringLiteral("<tr><th>Dataset</th><th>Made by</th><th>Parameters</th><th>Format</th><th>Records</th>"
                             "<th>Source file</th></tr>\n");
        for (const DatasetRecord& d : r.lineage) {
            // The hash on a row of its own: 64 hex digits squeezed into a column wrap into a tower.
            h += QStringLiteral("<tr><td>#%1 %2</td><td>%3%4</td><td>%5</td><td>%6</td><td>%7</td><td>%8</td></tr>\n"
                                "<tr><td colspan=\"6\">content SHA-256 <code>%9</code></td></tr>\n")
                     .arg(d.id)
                     .arg(esc(q(d.name)), esc(q(d.operation)),
                         d.parentId ? QStringLiteral(" of #%1").arg(*d.parentId) : QString(), esc(lineageParams(d)),
                         esc(q(d.format)), QString::number(d.records), esc(q(d.sourcePath)), esc(q(d.contentHash)));
        }
        h += QStringLiteral("</table>\n");
    }

    // Pipelines
    for (const ReportPipeline& p : data.pipelines) {
        h += QStringLiteral("<h2%1>Pipeline #%2: %3 (%4)</h2>\n")
                 .arg(forPrint ? pageBreak : QString())
                 .arg(p.pipeline.id)
                 .arg(esc(q(p.pipeline.name)), esc(q(p.pipeline.status)));
        h += QStringLiteral("<h3>Chain of runs</h3>\n") + wideTable
            + QStringLiteral("<tr><th>Stage</th><th>Name</th><th>Status</th><th>Run</th><th>Started from</th>"
                             "<th>Model</th></tr>\n");
        for (const QStringList& row : pipelineChain(p)) {
            h += QStringLiteral("<tr>");
            for (const QString& cell : row)
                h += QStringLiteral("<td>%1</td>").arg(esc(cell));
            h += QStringLiteral("</tr>\n");
        }
        h += QStringLiteral("</table>\n<h3>Forgetting matrix</h3>\n<p class=\"note\">%1</p>\n")
                 .arg(esc(QLatin1String(kPipelineNote)));
        if (p.matrix.columns.empty()) {
            h += QStringLiteral("<p class=\"note\">Nothing evaluated yet.</p>\n");
        } else {
            const auto quality = matrixQuality(p.matrix);
            h += table + QStringLiteral("<tr><th></th>");
            for (const MatrixColumn& c : p.matrix.columns)
                h += QStringLiteral("<th>%1<br>%2 (%3)</th>")
                         .arg(esc(q(c.name)), esc(q(c.metric)),
                             c.higherIsBetter ? QStringLiteral("higher is better") : QStringLiteral("lower is better"));
            h += QStringLiteral("</tr>\n");
            for (std::size_t r = 0; r < p.matrix.rows.size(); ++r) {
                h += QStringLiteral("<tr><th>%1</th>").arg(esc(rowLabel(p, r)));
                for (std::size_t c = 0; c < p.matrix.columns.size(); ++c) {
                    const double v = c < p.matrix.rows[r].size() ? p.matrix.rows[r][c] : NAN;
                    h += QStringLiteral("<td bgcolor=\"%1\" align=\"right\">%2</td>")
                             .arg(qualityColor(quality[r][c]), matrixValue(v));
                }
                h += QStringLiteral("</tr>\n");
            }
            h += QStringLiteral("</table>\n");
        }
        const QStringList measures = measureLines(p);
        if (!measures.isEmpty()) {
            h += QStringLiteral("<ul>\n");
            for (const QString& line : measures)
                h += QStringLiteral("<li>%1</li>\n").arg(esc(line));
            h += QStringLiteral("</ul>\n");
        }
    }

    // Environment
    h += QStringLiteral("<h2>Environment</h2>\n<p class=\"note\">The machine that wrote this report.</p>\n") + table;
    for (const auto& [label, value] : data.environment)
        h += QStringLiteral("<tr><th>%1</th><td>%2</td></tr>\n").arg(esc(q(label)), esc(q(value)));
    h += QStringLiteral("</table>\n");

    // Metrics
    h += QStringLiteral("<h2%1>Metrics</h2>\n").arg(forPrint ? pageBreak : QString());
    bool anyMetric = false;
    for (const ReportRun& r : data.runs)
        anyMetric = anyMetric || !r.metrics.empty();
    if (!anyMetric) {
        h += QStringLiteral("<p class=\"note\">No metrics recorded.</p>\n");
    } else {
        h += wideTable
            + QStringLiteral("<tr><th>Metric</th><th>Run</th><th>Points</th><th>Final</th><th>Best</th></tr>\n");
        for (const std::string& name : data.metricNames()) {
            for (const ReportRun& r : data.runs) {
                for (const ReportMetric& m : r.metrics) {
                    if (m.name != name)
                        continue;
                    h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td></tr>\n")
                             .arg(esc(q(name)), esc(runLabel(r)), QString::number(m.count), esc(metricValue(m, false)),
                                 esc(metricValue(m, true)));
                }
            }
        }
        h += QStringLiteral("</table>\n");
        if (comparison && !data.groups.empty()) {
            h += QStringLiteral("<h3>Across seeds</h3>\n<p class=\"note\">%1</p>\n").arg(esc(QLatin1String(kSeedNote)));
            h += wideTable
                + QStringLiteral("<tr><th>Group</th><th>Metric</th><th>n</th><th>Final (mean \u00b1 std)</th>"
                                 "<th>95% CI</th></tr>\n");
            for (const QStringList& row : seedRows(data)) {
                h += QStringLiteral("<tr>");
                for (const QString& cell : row)
                    h += QStringLiteral("<td>%1</td>").arg(esc(cell));
                h += QStringLiteral("</tr>\n");
            }
            h += QStringLiteral("</table>\n");
            const QStringList tests = groupTestLines(data);
            if (!tests.isEmpty()) {
                h += QStringLiteral("<h3>Group tests</h3>\n<ul>\n");
                for (const QString& line : tests)
                    h += QStringLiteral("<li>%1</li>\n").arg(esc(line));
                h += QStringLiteral("</ul>\n");
            }
        }
    }

    // Plots
    if (!plots.empty()) {
        h += QStringLiteral("<h2%1>Plots</h2>\n").arg(forPrint ? pageBreak : QString());
        const std::vector<std::string> names = data.metricNames();
        for (std::size_t i = 0; i < plots.size(); ++i) {
            // On paper a heading could end a page apart from its plot; the plot's axis names the metric.
            if (!forPrint)
                h += QStringLiteral("<h3>%1</h3>\n").arg(esc(q(names[i])));
            h += QStringLiteral("<p align=\"center\"><img src=\"%1\" width=\"%2\" alt=\"%3\"></p>\n")
                     .arg(imageSource(static_cast<int>(i)))
                     .arg(forPrint ? kPrintPlotWidth : kPlotWidth)
                     .arg(esc(q(names[i])));
        }
    }

    // Samples
    bool anySample = false;
    for (const ReportRun& r : data.runs)
        anySample = anySample || !r.samples.empty();
    if (anySample) {
        h += QStringLiteral("<h2%1>Samples</h2>\n").arg(forPrint ? pageBreak : QString());
        for (const ReportRun& r : data.runs) {
            if (r.samples.empty())
                continue;
            h += QStringLiteral("<h3>%1</h3>\n").arg(esc(runLabel(r))) + wideTable
                + QStringLiteral("<tr><th>Step</th><th>Seed</th><th>Prompt</th><th>Output</th></tr>\n");
            for (const SampleRecord& s : r.samples) {
                h += QStringLiteral("<tr><td>%1</td><td>%2</td><td><pre>%3</pre></td><td><pre>%4</pre></td></tr>\n")
                         .arg(s.step)
                         .arg(s.seed ? QString::number(*s.seed) : QString(), esc(sampleText(s.prompt)),
                             esc(sampleText(s.text)));
            }
            h += QStringLiteral("</table>\n");
        }
    }
    h += QStringLiteral("</body></html>\n");
    return h;
}

namespace {

// User text as literal Markdown: each character CommonMark or GFM gives an
// inline meaning (emphasis, code, links and images, raw HTML, entities,
// strikethrough, table cells) is backslash-escaped, so a name such as
// "<img src=x onerror=...>" or "[x](javascript:...)" reads as typed and never
// becomes a tag or a link. Newlines become <br> (inside a table cell).
QString md(const QString& s)
{
    static const QString special = QStringLiteral("\\`*_[]<>&|~!");
    QString out;
    out.reserve(s.size() + 8);
    for (qsizetype i = 0; i < s.size(); ++i) {
        const QChar c = s[i];
        if (c == QLatin1Char('\n')) {
            out += QStringLiteral("<br>");
            continue;
        }
        // An underscore inside a word never emphasises (learning_rate stays readable).
        const bool inWord = c == QLatin1Char('_') && i > 0 && i + 1 < s.size() && s[i - 1].isLetterOrNumber()
            && s[i + 1].isLetterOrNumber();
        if (special.contains(c) && !inWord)
            out += QLatin1Char('\\');
        out += c;
    }
    return out;
}

// For a heading, which must stay on one line.
QString mdLine(const QString& s)
{
    QString flat = s;
    flat.replace(QLatin1Char('\n'), QLatin1Char(' '));
    return md(flat);
}

// Cells arrive escaped (md) or as Tunebench's own markup.
QString mdCell(const QString& s)
{
    return s.isEmpty() ? QStringLiteral(" ") : s;
}

QString mdRow(const QStringList& cells)
{
    QStringList escaped;
    for (const QString& c : cells)
        escaped << mdCell(c);
    return QStringLiteral("| ") + escaped.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
}

QString mdHeader(const QStringList& cells)
{
    QStringList rule;
    for (int i = 0; i < cells.size(); ++i)
        rule << QStringLiteral("---");
    return mdRow(cells) + QStringLiteral("|") + rule.join(QStringLiteral("|")) + QStringLiteral("|\n");
}

// A fenced block that no backtick run inside the text can close.
QString mdFence(const QString& text)
{
    QString fence = QStringLiteral("```");
    while (text.contains(fence))
        fence += QLatin1Char('`');
    return fence + QStringLiteral("text\n") + text + QStringLiteral("\n") + fence + QStringLiteral("\n");
}

} // namespace

QString reportMarkdown(const ReportData& data, const std::vector<QString>& plotFiles)
{
    const bool comparison = data.runs.size() > 1;
    QString m;
    m += QStringLiteral("# Tunebench report: %1\n\n").arg(mdLine(title(data)));
    m += QStringLiteral("Written %1 from workspace %2.\n\n").arg(timeText(data.createdAt), mdLine(q(data.workspace)));

    m += QStringLiteral("## Runs\n\n");
    QStringList header { QString() };
    for (const ReportRun& r : data.runs)
        header << QStringLiteral("#%1").arg(r.run.id);
    m += mdHeader(header);
    for (const auto& [field, values] : overview(data)) {
        QStringList row { field };
        for (const QString& v : values)
            row << md(v);
        m += mdRow(row);
    }

    m += QStringLiteral("\n## Configuration\n\n");
    if (comparison)
        m += QStringLiteral("%1 of %2 keys differ between the runs (in bold, marked \u2260).\n\n")
                 .arg(data.differenceCount())
                 .arg(data.config.size());
    QStringList configHeader { QStringLiteral("Key") };
    for (const ReportRun& r : data.runs)
        configHeader << (comparison ? md(runLabel(r)) : QStringLiteral("Value"));
    auto configTable = [&](bool onlyDiffering) {
        m += mdHeader(configHeader);
        for (const ConfigRow& row : data.config) {
            if (onlyDiffering && !row.differs)
                continue;
            auto mark = [&row](const QString& s) { return row.differs ? QStringLiteral("**%1**").arg(s) : s; };
            QStringList cells { row.differs ? QStringLiteral("\u2260 **%1**").arg(md(q(row.key))) : md(q(row.key)) };
            for (const auto& v : row.values)
                cells << (v ? mark(md(q(*v))) : QStringLiteral("*(not set)*"));
            m += mdRow(cells);
        }
    };
    if (comparison && data.differenceCount() > 0) {
        m += QStringLiteral("### Keys that differ\n\n");
        configTable(true);
        m += QStringLiteral("\n### All keys\n\n");
    }
    configTable(false);
    m += QStringLiteral("\n## Data lineage\n\n");
    for (const ReportRun& r : data.runs) {
        if (comparison)
            m += QStringLiteral("### %1\n\n").arg(mdLine(runLabel(r)));
        if (r.lineage.empty()) {
            m += QStringLiteral("The run's data was a file, not a workspace dataset.\n\n");
            continue;
        }
        m += mdHeader({ QStringLiteral("Dataset"), QStringLiteral("Made by"), QStringLiteral("Parameters"),
            QStringLiteral("Format"), QStringLiteral("Records"), QStringLiteral("Source file"),
            QStringLiteral("SHA-256") });
        for (const DatasetRecord& d : r.lineage) {
            m += mdRow({ QStringLiteral("#%1 %2").arg(QString::number(d.id), md(q(d.name))),
                md(q(d.operation)) + (d.parentId ? QStringLiteral(" of #%1").arg(*d.parentId) : QString()),
                md(lineageParams(d)), md(q(d.format)), QString::number(d.records), md(q(d.sourcePath)),
                md(q(d.contentHash)) });
        }
        m += QStringLiteral("\n");
    }

    for (const ReportPipeline& p : data.pipelines) {
        m += QStringLiteral("## Pipeline #%1: %2 (%3)\n\n### Chain of runs\n\n")
                 .arg(p.pipeline.id)
                 .arg(mdLine(q(p.pipeline.name)), mdLine(q(p.pipeline.status)));
        m += mdHeader({ QStringLiteral("Stage"), QStringLiteral("Name"), QStringLiteral("Status"),
            QStringLiteral("Run"), QStringLiteral("Started from"), QStringLiteral("Model") });
        for (const QStringList& row : pipelineChain(p)) {
            QStringList cells;
            for (const QString& cell : row)
                cells << md(cell);
            m += mdRow(cells);
        }
        m += QStringLiteral("\n### Forgetting matrix\n\n%1\n\n").arg(QLatin1String(kPipelineNote));
        if (p.matrix.columns.empty()) {
            m += QStringLiteral("Nothing evaluated yet.\n\n");
        } else {
            QStringList matrixHeader { QString() };
            for (const MatrixColumn& c : p.matrix.columns)
                matrixHeader << QStringLiteral("%1 %2 (%3)")
                                    .arg(md(q(c.name)), md(q(c.metric)),
                                        c.higherIsBetter ? QStringLiteral("\u2191") : QStringLiteral("\u2193"));
            m += mdHeader(matrixHeader);
            for (std::size_t r = 0; r < p.matrix.rows.size(); ++r) {
                QStringList cells { md(rowLabel(p, r)) };
                for (std::size_t c = 0; c < p.matrix.columns.size(); ++c)
                    cells << matrixValue(c < p.matrix.rows[r].size() ? p.matrix.rows[r][c] : NAN);
                m += mdRow(cells);
            }
            m += QStringLiteral("\n");
        }
        for (const QString& line : measureLines(p))
            m += QStringLiteral("- %1\n").arg(md(line));
        m += QStringLiteral("\n");
    }

    m += QStringLiteral("## Environment\n\nThe machine that wrote this report.\n\n");
    m += mdHeader({ QStringLiteral("Item"), QStringLiteral("Value") });
    for (const auto& [label, value] : data.environment)
        m += mdRow({ md(q(label)), md(q(value)) });

    m += QStringLiteral("\n## Metrics\n\n");
    const std::vector<std::string> names = data.metricNames();
    if (names.empty()) {
        m += QStringLiteral("No metrics recorded.\n");
    } else {
        m += mdHeader({ QStringLiteral("Metric"), QStringLiteral("Run"), QStringLiteral("Points"),
            QStringLiteral("Final"), QStringLiteral("Best") });
        for (const std::string& name : names) {
            for (const ReportRun& r : data.runs) {
                for (const ReportMetric& metric : r.metrics) {
                    if (metric.name == name)
                        m += mdRow({ md(q(name)), md(runLabel(r)), QString::number(metric.count),
                            metricValue(metric, false), metricValue(metric, true) });
                }
            }
        }
        if (data.runs.size() > 1 && !data.groups.empty()) {
            m += QStringLiteral("\n### Across seeds\n\n%1\n\n").arg(md(QLatin1String(kSeedNote)));
            m += mdHeader({ QStringLiteral("Group"), QStringLiteral("Metric"), QStringLiteral("n"),
                QStringLiteral("Final (mean \u00b1 std)"), QStringLiteral("95% CI") });
            for (const QStringList& row : seedRows(data)) {
                QStringList cells;
                for (const QString& cell : row)
                    cells.append(md(cell));
                m += mdRow(cells);
            }
            const QStringList tests = groupTestLines(data);
            if (!tests.isEmpty()) {
                m += QStringLiteral("\n### Group tests\n\n");
                for (const QString& line : tests)
                    m += QStringLiteral("- %1\n").arg(mdLine(line));
            }
        }
        m += QStringLiteral("\n## Plots\n\n");
        for (std::size_t i = 0; i < plotFiles.size() && i < names.size(); ++i)
            m += QStringLiteral("### %1\n\n![%1](%2)\n\n")
                     .arg(mdLine(q(names[i])), QString(QUrl::toPercentEncoding(plotFiles[i], "/")));
    }

    bool anySample = false;
    for (const ReportRun& r : data.runs)
        anySample = anySample || !r.samples.empty();
    if (anySample) {
        m += QStringLiteral("\n## Samples\n\n");
        for (const ReportRun& r : data.runs) {
            for (const SampleRecord& s : r.samples) {
                m += QStringLiteral("### %1, step %2, prompt %3, sample %4\n\n")
                         .arg(mdLine(runLabel(r)), QString::number(s.step), QString::number(s.promptIndex),
                             QString::number(s.sampleIndex));
                m += QStringLiteral("Prompt:\n\n") + mdFence(sampleText(s.prompt)) + QStringLiteral("\nOutput:\n\n")
                    + mdFence(sampleText(s.text)) + QStringLiteral("\n");
            }
        }
    }
    return m;
}

WrittenReport writeReport(const ReportData& data, const QString& path, bool force)
{
    const auto format = reportFormatForPath(path);
    if (!format)
        throw InputError(QStringLiteral("%1: a report file must end in .html, .pdf or .md").arg(path).toStdString());
    const QFileInfo info(path);
    if (info.exists() && !force)
        throw InputError(QStringLiteral("%1: exists; use --force to replace it").arg(path).toStdString());
    if (info.isDir())
        throw InputError(QStringLiteral("%1: is a folder, not a report file").arg(path).toStdString());
    if (!QDir().mkpath(info.absolutePath()))
        fail(QStringLiteral("%1: cannot create the folder %2").arg(path, info.absolutePath()));

    WrittenReport written;
    written.out = info.absoluteFilePath();
    written.format = *format;
    written.files << written.out;

    if (*format == ReportFormat::Html) {
        const std::vector<QImage> plots = reportPlots(data, 1.0);
        written.plots = static_cast<int>(plots.size());
        const QString html = reportHtml(data, plots, false, [&plots](int i) {
            return QStringLiteral("data:image/png;base64,")
                + QString::fromLatin1(pngBytes(plots[static_cast<std::size_t>(i)]).toBase64());
        });
        QSaveFile file(written.out);
        if (!file.open(QIODevice::WriteOnly))
            fail(QStringLiteral("%1: cannot write: %2").arg(written.out, file.errorString()));
        file.write(html.toUtf8());
        commit(file);
    } else if (*format == ReportFormat::Pdf) {
        const std::vector<QImage> plots = reportPlots(data, 2.0);
        written.plots = static_cast<int>(plots.size());
        auto source = [](int i) { return QStringLiteral("plot-%1.png").arg(i); };
        QTextDocument doc;
        for (std::size_t i = 0; i < plots.size(); ++i)
            doc.addResource(QTextDocument::ImageResource, QUrl(source(static_cast<int>(i))), plots[i]);
        doc.setHtml(reportHtml(data, plots, true, source));
        QSaveFile file(written.out);
        if (!file.open(QIODevice::WriteOnly))
            fail(QStringLiteral("%1: cannot write: %2").arg(written.out, file.errorString()));
        {
            QPdfWriter pdf(&file);
            pdf.setPageSize(QPageSize(QPageSize::A4));
            // QTextDocument::print() puts its own 2 cm margin around an unpaginated document.
            pdf.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout::Millimeter);
            pdf.setTitle(QStringLiteral("Tunebench report: %1").arg(title(data)));
            pdf.setCreator(QStringLiteral("Tunebench"));
            doc.print(&pdf);
        }
        commit(file);
    } else {
        const QString folderName = info.completeBaseName() + QStringLiteral("_files");
        const QDir folder(info.absoluteDir().filePath(folderName));
        if (folder.exists() && !force)
            throw InputError(QStringLiteral("%1: exists; use --force to replace the report's images")
                                 .arg(folder.path())
                                 .toStdString());
        if (!folder.exists() && !QDir().mkpath(folder.path()))
            fail(QStringLiteral("%1: cannot create the folder").arg(folder.path()));
        const std::vector<QImage> plots = reportPlots(data, 1.0);
        written.plots = static_cast<int>(plots.size());
        const std::vector<std::string> names = data.metricNames();
        std::vector<QString> relative;
        for (std::size_t i = 0; i < plots.size(); ++i) {
            const QString name
                = QStringLiteral("%1-%2.png").arg(i + 1, 2, 10, QLatin1Char('0')).arg(safeFileName(q(names[i])));
            QSaveFile image(folder.filePath(name));
            if (!image.open(QIODevice::WriteOnly))
                fail(QStringLiteral("%1: cannot write: %2").arg(image.fileName(), image.errorString()));
            image.write(pngBytes(plots[i]));
            commit(image);
            relative.push_back(folderName + QLatin1Char('/') + name);
            written.files << folder.filePath(name);
        }
        QSaveFile file(written.out);
        if (!file.open(QIODevice::WriteOnly))
            fail(QStringLiteral("%1: cannot write: %2").arg(written.out, file.errorString()));
        file.write(reportMarkdown(data, relative).toUtf8());
        commit(file);
    }
    return written;
}

} // namespace tunebench::ui
