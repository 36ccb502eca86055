#pragma once

#include <QString>

#include <optional>
#include <string>

namespace tunebench::ui {

// "2026-11-21 09:30" in local time, from seconds since the Unix epoch.
QString formatTime(double secondsSinceEpoch);
// "42s", "3m 05s", "2h 07m"; "—" without a start.
QString formatDuration(std::optional<double> startedAt, std::optional<double> finishedAt, double now);
// "—" for a missing value, so an empty cell never looks like a load failure.
QString orDash(const std::string& text);

} // namespace tunebench::ui
