#include "ui/models/run_summary.h"

#include "ui/models/config_diff_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tunebench::ui {

QString seedGroupKey(const std::string& configJson)
{
    QString key;
    for (const auto& [path, value] : flattenConfig(configJson)) {
        const auto dot = path.rfind('.');
        const std::string last = dot == std::string::npos ? path : path.substr(dot + 1);
        if (last == "seed")
            continue;
        key += QString::fromStdString(path) + QLatin1Char('=') + QString::fromStdString(value) + QLatin1Char('\n');
    }
    return key;
}

MeanStd meanStd(const std::vector<double>& values)
{
    MeanStd out;
    out.n = static_cast<int>(values.size());
    if (values.empty())
        return out;
    double sum = 0;
    for (const double v : values)
        sum += v;
    out.mean = sum / static_cast<double>(values.size());
    if (values.size() > 1) {
        double squares = 0;
        for (const double v : values)
            squares += (v - out.mean) * (v - out.mean);
        out.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
    }
    return out;
}

bool higherIsBetter(const QString& metric)
{
    static const char* const higher[]
        = { "accuracy", "reward", "tokens_per_s", "distinct", "ead", "entropy", "embedding_distance" };
    if (metric.contains(QLatin1String("delta")) || metric.contains(QLatin1String("self_bleu")))
        return metric.contains(QLatin1String("accuracy_delta")); // a probe accuracy change is better positive
    for (const char* h : higher) {
        if (metric.contains(QLatin1String(h)))
            return true;
    }
    return false;
}

std::vector<SummaryRow> summarizeBySeed(const std::vector<RunMetrics>& runs, const QStringList& metrics)
{
    struct Group {
        QString key;
        std::vector<const RunMetrics*> runs;
    };
    std::vector<Group> groups;
    for (const RunMetrics& run : runs) {
        const QString key = seedGroupKey(run.configJson);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
        if (it == groups.end())
            groups.push_back({ key, { &run } });
        else
            it->runs.push_back(&run);
    }
    std::vector<SummaryRow> rows;
    for (const Group& group : groups) {
        QStringList labels;
        QList<qint64> ids;
        for (const RunMetrics* run : group.runs) {
            labels.append(run->label);
            ids.append(run->id);
        }
        for (const QString& metric : metrics) {
            const bool higher = higherIsBetter(metric);
            std::vector<double> finals;
            std::vector<double> bests;
            for (const RunMetrics* run : group.runs) {
                const auto it = run->series.find(metric.toStdString());
                if (it == run->series.end() || it->second.empty())
                    continue;
                finals.push_back(it->second.back().value);
                double best = it->second.front().value;
                for (const MetricPoint& p : it->second)
                    best = higher ? std::max(best, p.value) : std::min(best, p.value);
                bests.push_back(best);
            }
            if (finals.empty())
                continue;
            rows.push_back({ labels.join(QStringLiteral(", ")), ids, metric, meanStd(finals), meanStd(bests) });
        }
    }
    return rows;
}

LearningForgetting learningVersusForgetting(const std::vector<RunMetrics>& runs)
{
    LearningForgetting out;
    out.forgettingMetric = QStringLiteral("forgetting/delta_loss");
    const std::string forgetting = out.forgettingMetric.toStdString();
    auto has = [](const RunMetrics& run, const std::string& name) {
        const auto it = run.series.find(name);
        return it != run.series.end() && !it->second.empty();
    };
    // One learning metric for every point, or the axis would mix two quantities.
    bool allEval = true;
    for (const RunMetrics& run : runs) {
        if (has(run, forgetting))
            allEval = allEval && has(run, "eval_loss");
    }
    out.learningMetric = allEval ? QStringLiteral("eval_loss") : QStringLiteral("loss");
    const std::string learning = out.learningMetric.toStdString();
    for (const RunMetrics& run : runs) {
        if (!has(run, forgetting) || !has(run, learning)) {
            out.missing.append(run.id);
            continue;
        }
        const auto& l = run.series.at(learning);
        out.points.push_back({ run.id, l.front().value - l.back().value, run.series.at(forgetting).back().value });
    }
    return out;
}

std::optional<std::vector<double>> xValues(const RunMetrics& run, const std::vector<MetricPoint>& points, XAxis axis)
{
    std::vector<double> xs;
    xs.reserve(points.size());
    switch (axis) {
    case XAxis::Step:
        for (const MetricPoint& p : points)
            xs.push_back(static_cast<double>(p.step));
        return xs;
    case XAxis::Time: {
        double start = run.startedAt.value_or(std::numeric_limits<double>::max());
        if (!run.startedAt) {
            for (const auto& [name, series] : run.series) {
                if (!series.empty())
                    start = std::min(start, series.front().time);
            }
        }
        for (const MetricPoint& p : points)
            xs.push_back(std::max(0.0, p.time - start));
        return xs;
    }
    case XAxis::Tokens: {
        const auto it = run.series.find("tokens_per_s");
        if (it == run.series.end() || it->second.empty())
            return std::nullopt;
        // Cumulative tokens at each tokens_per_s point: rate times the time since the previous point.
        const std::vector<MetricPoint>& rate = it->second;
        std::vector<double> steps;
        std::vector<double> tokens;
        double total = 0;
        double previousTime = run.startedAt.value_or(rate.front().time);
        for (const MetricPoint& p : rate) {
            total += p.value * std::max(0.0, p.time - previousTime);
            previousTime = p.time;
            steps.push_back(static_cast<double>(p.step));
            tokens.push_back(total);
        }
        // Tokens at any step: linear between the known steps, at the last rate per step after them.
        const double perStepAfter = steps.size() > 1 && steps.back() > steps.front()
            ? (tokens.back() - tokens.front()) / (steps.back() - steps.front())
            : (steps.back() > 0 ? tokens.back() / steps.back() : 0.0);
        for (const MetricPoint& p : points) {
            const double s = static_cast<double>(p.step);
            if (s <= steps.front()) {
                xs.push_back(steps.front() > 0 ? tokens.front() * s / steps.front() : tokens.front());
            } else if (s >= steps.back()) {
                xs.push_back(tokens.back() + (s - steps.back()) * perStepAfter);
            } else {
                const auto upper = std::upper_bound(steps.begin(), steps.end(), s);
                const auto i = static_cast<std::size_t>(upper - steps.begin());
                const double f = (s - steps[i - 1]) / (steps[i] - steps[i - 1]);
                xs.push_back(tokens[i - 1] + f * (tokens[i] - tokens[i - 1]));
            }
        }
        return xs;
    }
    }
    return std::nullopt;
}

} // namespace tunebench::ui
