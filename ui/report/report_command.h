#pragma once

#include <QStringList>

namespace tunebench::ui {

// `tunebench --report --workspace DIR --runs ID[,ID...] --out FILE [--force]`: writes the
// report without a window (the caller has made the platform offscreen), records it as a
// 'report' artifact and prints one JSON object (out, format, runs, files) on stdout.
// Errors go to stderr naming the file or id. Returns the exit code: 0 success, 1 failure,
// 2 wrong usage. `tunebench-cli report` runs this.
int runReportCommand(const QString& workspace, const QString& runs, const QString& out, bool force);

} // namespace tunebench::ui
