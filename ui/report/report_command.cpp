#include "ui/report/report_command.h"

#include "core/report/report_data.h"
#include "core/store/artifacts.h"
#include "core/store/workspace.h"
#include "core/util/error.h"
#include "ui/report/report_writer.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <nlohmann/json.hpp>

#include <cstdio>

namespace tunebench::ui {

namespace {

void printError(const QString& message)
{
    std::fprintf(stderr, "tunebench --report: %s\n", message.toLocal8Bit().constData());
}

} // namespace

int runReportCommand(const QString& workspace, const QString& runs, const QString& out, bool force)
{
    if (workspace.isEmpty() || runs.isEmpty() || out.isEmpty()) {
        printError(
            QStringLiteral("--report needs --workspace DIR, --runs ID[,ID...] and --out FILE.html|FILE.pdf|FILE.md"));
        return 2;
    }
    if (!reportFormatForPath(out)) {
        printError(QStringLiteral("--out: expected a file ending in .html, .pdf or .md, got '%1'").arg(out));
        return 2;
    }
    try {
        const std::vector<std::int64_t> ids = parseRunIds(runs.toStdString(), "--runs");
        Workspace ws = Workspace::open(workspace.toStdString());
        const ReportData data = collectReportData(ws, ids);
        const WrittenReport written = writeReport(data, out, force);

        ArtifactRecord artifact;
        if (ids.size() == 1)
            artifact.runId = ids.front();
        artifact.kind = "report";
        const QString root = QFileInfo(QString::fromStdString(ws.root().string())).canonicalFilePath();
        const QString relative = QDir(root).relativeFilePath(QFileInfo(written.out).canonicalFilePath());
        artifact.path = (relative.startsWith(QLatin1String("..")) ? written.out : relative).toStdString();
        artifact.metaJson = nlohmann::json({ { "format", reportFormatName(written.format).toStdString() },
                                               { "runs", ids }, { "plots", written.plots } })
                                .dump();
        ArtifactStore(ws.db()).add(artifact);

        QJsonArray runArray;
        for (std::int64_t id : ids)
            runArray.append(static_cast<qint64>(id));
        const QJsonObject result { { QStringLiteral("out"), written.out },
            { QStringLiteral("format"), reportFormatName(written.format) }, { QStringLiteral("runs"), runArray },
            { QStringLiteral("files"), QJsonArray::fromStringList(written.files) },
            { QStringLiteral("plots"), written.plots } };
        std::fprintf(stdout, "%s\n", QJsonDocument(result).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        return 0;
    } catch (const std::exception& e) {
        printError(QString::fromUtf8(e.what()));
        return 1;
    }
}

} // namespace tunebench::ui
