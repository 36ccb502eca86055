#include "ui/models/display_format.h"
#include "ui/widgets/user_text.h"

#include <QDateTime>

#include <algorithm>
#include <cmath>

namespace tunebench::ui {

namespace {

const QString kDash = QStringLiteral("\u2014");

} // namespace

QString formatTime(double secondsSinceEpoch)
{
    const auto ms = static_cast<qint64>(std::llround(secondsSinceEpoch * 1000.0));
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

QString formatDuration(std::optional<double> startedAt, std::optional<double> finishedAt, double now)
{
    if (!startedAt)
        return kDash;
    const double end = finishedAt.value_or(now);
    const auto total = static_cast<long long>(std::max(0.0, end - *startedAt));
    const long long h = total / 3600;
    const long long m = (total % 3600) / 60;
    const long long s = total % 60;
    if (h > 0)
        return QStringLiteral("%1h %2m").arg(h).arg(m, 2, 10, QLatin1Char('0'));
    if (m > 0)
        return QStringLiteral("%1m %2s").arg(m).arg(s, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1s").arg(s);
}

QString orDash(const std::string& text)
{
    return text.empty() ? kDash : userText(text);
}

} // namespace tunebench::ui
