#pragma once

#include "core/report/report_data.h"

#include <QImage>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

namespace tunebench::ui {

enum class ReportFormat { Html, Pdf, Markdown };

// From the file's suffix: .html/.htm, .pdf, .md/.markdown; none for anything else.
std::optional<ReportFormat> reportFormatForPath(const QString& path);
QString reportFormatName(ReportFormat format);

struct WrittenReport {
    QString out; // absolute path of the report
    ReportFormat format = ReportFormat::Html;
    QStringList files; // every file written, the report first (Markdown: its images too)
    int plots = 0;
};

// Renders a report on data (core/report/report_data.h) into path, in the format its
// suffix names. HTML is one self-contained file (CSS inline, plots as base64 PNG);
// PDF is paged (A4, sections on new pages); Markdown references PNG files in
// "<name>_files/" beside it. An existing report (or Markdown image folder) is
// refused unless force. The report file is written to a temporary name and
// renamed, so a failure never leaves half a report. Needs a QApplication (the
// plots are MetricPlot widgets rendered offscreen). Throws tunebench::Error
// (InputError for a wrong path) with a message naming the file.
WrittenReport writeReport(const ReportData& data, const QString& path, bool force);

// The report's HTML with each plot's <img src> given by imageSource(index); the
// plots in the same order as reportPlots().
QString reportHtml(const ReportData& data, const std::vector<QImage>& plots, bool forPrint,
    const std::function<QString(int)>& imageSource);
QString reportMarkdown(const ReportData& data, const std::vector<QString>& plotFiles);
// One image per metric, the runs overlaid, in ReportData::metricNames() order.
std::vector<QImage> reportPlots(const ReportData& data, double scale);

} // namespace tunebench::ui
