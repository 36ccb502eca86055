#include "ui/models/run_summary.h"

#include "core/stats/describe.h"
#include "core/store/runs.h"
#include "ui/models/config_diff_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

namespace tunebench::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool has(const RunMetrics& run, const std::string& name)
{
    const auto it = run.series.find(name);
    return it != run.series.end() && !it->second.empty();
}

struct Group {
    QString key;
    std::vector<const RunMetrics*> runs;
};

// Seed groups in the order their first run appears.
std::vector<Group> groupBySeed(const std::vector<RunMetrics>& runs)
{
    std::vector<Group> groups;
    for (const RunMetrics& run : runs) {
        const QString key = seedGroupKey(run.configJson);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
        if (it == groups.end())
            groups.push_back({ key, { &run } });
        else
            it->runs.push_back(&run);
    }
    return groups;
}

QString number(double v)
{
    return QString::number(v, 'g', 4);
}

} // namespace

QString methodLabel(const RunRecord& run)
{
    const nlohmann::json lineage = nlohmann::json::parse(run.lineageJson, nullptr, false);
    if (lineage.is_object() && lineage.value("operation", "") == "merge") {
        const auto method = lineage.find("method");
        return QStringLiteral("merge: %1")
            .arg(method != lineage.end() && method->is_string() ? QString::fromStdString(method->get<std::string>())
                                                                : QStringLiteral("?"));
    }
    return QStringLiteral("%1 / %2").arg(QString::fromStdString(run.adapter), QString::fromStdString(run.objective));
}

QString seedGroupKey(const std::string& configJson)
{
    QString key;
    for (const auto& [path, value] : flattenConfig(configJson)) {
        const auto dot = path.rfind('.');
        const std::string last = dot == std::string::npos ? path : path.substr(dot + 1);
        // A run's name is a label, not a setting: "lora-seed1" and "lora-seed2" are one group.
        if (last == "seed" || path == "name")
            continue;
        key += QString::fromStdString(path) + QLatin1Char('=') + QString::fromStdString(value) + QLatin1Char('\n');
    }
    return key;
}

QString runSeed(const std::string& configJson)
{
    const auto flat = flattenConfig(configJson);
    if (const auto it = flat.find("training.seed"); it != flat.end())
        return QString::fromStdString(it->second);
    for (const auto& [path, value] : flat) {
        const auto dot = path.rfind('.');
        if ((dot == std::string::npos ? path : path.substr(dot + 1)) == "seed")
            return QString::fromStdString(value);
    }
    return {};
}

MeanStd meanStd(const std::vector<double>& values, stats::IntervalMethod method)
{
    const stats::Summary s = stats::describe(values);
    MeanStd out;
    out.n = static_cast<int>(s.n);
    out.mean = s.mean;
    out.std = s.std;
    out.ciMethod = method;
    if (method == stats::IntervalMethod::StudentT) {
        out.ciLow = s.ci95Low;
        out.ciHigh = s.ci95High;
    } else {
        const stats::Interval i = stats::meanInterval(values, method);
        out.ciLow = i.low;
        out.ciHigh = i.high;
    }
    return out;
}

QString meanStdText(const MeanStd& m)
{
    if (m.n == 0)
        return {};
    return m.n > 1 ? QStringLiteral("%1 \u00b1 %2").arg(number(m.mean), number(m.std)) : number(m.mean);
}

QString intervalText(const MeanStd& m)
{
    if (m.n < 2 || std::isnan(m.ciLow))
        return {};
    return QStringLiteral("[%1, %2] (%3)")
        .arg(number(m.ciLow), number(m.ciHigh), QString::fromStdString(stats::intervalMethodName(m.ciMethod)));
}

bool higherIsBetter(const QString& metric)
{
    static const char* const higher[] = { "accuracy", "reward", "tokens_per_s", "samples_per_s", "mfu", "distinct",
        "ead", "entropy", "embedding_distance", "diversity" };
    // GRPO's share of groups whose rewards are all equal: the share that gives no signal.
    if (metric.contains(QLatin1String("zero_std")))
        return false;
    if (metric.contains(QLatin1String("delta")) || metric.contains(QLatin1String("self_bleu")))
        return metric.contains(QLatin1String("accuracy_delta")); // a probe accuracy change is better positive
    for (const char* h : higher) {
        if (metric.contains(QLatin1String(h)))
            return true;
    }
    return false;
}

std::vector<SummaryRow> summarizeBySeed(
    const std::vector<RunMetrics>& runs, const QStringList& metrics, stats::IntervalMethod method)
{
    std::vector<SummaryRow> rows;
    for (const Group& group : groupBySeed(runs)) {
        QStringList labels;
        QList<qint64> ids;
        for (const RunMetrics* run : group.runs) {
            labels.append(run->label);
            ids.append(run->id);
        }
        for (const QString& metric : metrics) {
            const bool higher = higherIsBetter(metric);
            SummaryRow row;
            std::vector<double> bests;
            for (const RunMetrics* run : group.runs) {
                const auto it = run->series.find(metric.toStdString());
                if (it == run->series.end() || it->second.empty())
                    continue;
                row.finals.push_back(it->second.back().value);
                row.seeds.append(runSeed(run->configJson));
                double best = it->second.front().value;
                for (const MetricPoint& p : it->second)
                    best = higher ? std::max(best, p.value) : std::min(best, p.value);
                bests.push_back(best);
            }
            if (row.finals.empty())
                continue;
            row.groupKey = group.key;
            row.group = labels.join(QStringLiteral(", "));
            row.method = group.runs.front()->method;
            row.runs = ids;
            row.metric = metric;
            row.finalValue = meanStd(row.finals, method);
            row.bestValue = meanStd(bests, method);
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

stats::GroupTest compareGroups(const SummaryRow& a, const SummaryRow& b, stats::IntervalMethod method)
{
    std::vector<std::string> seedsA;
    std::vector<std::string> seedsB;
    for (const QString& seed : a.seeds)
        seedsA.push_back(seed.toStdString());
    for (const QString& seed : b.seeds)
        seedsB.push_back(seed.toStdString());
    return stats::compareSeedGroups(a.finals, seedsA, b.finals, seedsB, method);
}

QString groupTestText(const stats::GroupTest& test)
{
    const QString kind = test.kind == stats::TestKind::Paired
        ? QStringLiteral("paired t test (%1 pairs by seed)").arg(test.nA)
        : QStringLiteral("Welch's t test (n = %1 and %2)").arg(test.nA).arg(test.nB);
    QString text = QStringLiteral("%1: difference %2").arg(kind, number(test.difference));
    if (!std::isnan(test.differenceInterval.low))
        text += QStringLiteral(", 95% CI [%1, %2] (%3)")
                    .arg(number(test.differenceInterval.low), number(test.differenceInterval.high),
                        QString::fromStdString(stats::intervalMethodName(test.differenceInterval.method)));
    if (!std::isnan(test.p))
        text += QStringLiteral(", t = %1, df = %2, p = %3").arg(number(test.t), number(test.df), number(test.p));
    if (!std::isnan(test.effectSize))
        text += QStringLiteral(", %1 = %2 (Hedges' g %3)")
                    .arg(QString::fromStdString(test.effectName), number(test.effectSize), number(test.hedgesG));
    text += QStringLiteral(". %1: %2")
                .arg(test.verdict == stats::Verdict::TooFewRuns      ? QStringLiteral("Too few runs to conclude")
                        : test.verdict == stats::Verdict::Difference ? QStringLiteral("A difference")
                                                                     : QStringLiteral("No difference shown"),
                    QString::fromStdString(test.reason));
    return text;
}

QString defaultTargetMetric(const std::vector<RunMetrics>& runs)
{
    for (const char* name : { "demo/target_accuracy", "demo/target_loss" }) {
        for (const RunMetrics& run : runs) {
            if (has(run, name))
                return QString::fromLatin1(name);
        }
    }
    return QStringLiteral("eval_loss");
}

std::optional<double> targetValue(const RunMetrics& run, const QString& metric)
{
    const auto it = run.series.find(metric.toStdString());
    if (it == run.series.end() || it->second.empty())
        return std::nullopt;
    if (metric == QLatin1String("eval_loss")) {
        if (it->second.size() < 2)
            return std::nullopt;
        return it->second.front().value - it->second.back().value;
    }
    return it->second.back().value;
}

QString targetLabel(const QString& metric)
{
    if (metric == QLatin1String("eval_loss"))
        return QStringLiteral("eval loss improvement (first \u2212 final eval_loss)");
    return QStringLiteral("%1 (final)").arg(metric);
}

bool targetHigherIsBetter(const QString& metric)
{
    return metric == QLatin1String("eval_loss") || higherIsBetter(metric);
}

namespace {

PointGroup makeGroup(const Group& group, const std::vector<const RunMetrics*>& placed, const std::vector<double>& xs,
    const std::vector<double>& ys)
{
    PointGroup g;
    g.groupKey = group.key;
    QStringList names;
    for (const RunMetrics* run : placed) {
        names.append(run->name);
        g.runs.append(run->id);
    }
    g.label = names.join(QStringLiteral(", "));
    g.method = placed.front()->method;
    g.x = meanStd(xs);
    g.y = meanStd(ys);
    return g;
}

} // namespace

LearningForgetting learningVersusForgetting(const std::vector<RunMetrics>& runs, const QString& target)
{
    LearningForgetting out;
    out.forgettingMetric = QStringLiteral("forgetting/delta_loss");
    out.learningMetric = target.isEmpty() ? defaultTargetMetric(runs) : target;
    const std::string forgetting = out.forgettingMetric.toStdString();
    for (const Group& group : groupBySeed(runs)) {
        std::vector<const RunMetrics*> placed;
        std::vector<double> xs;
        std::vector<double> ys;
        for (const RunMetrics* run : group.runs) {
            const std::optional<double> learning = targetValue(*run, out.learningMetric);
            if (!learning || !has(*run, forgetting)) {
                out.missing.append(run->id);
                continue;
            }
            const double f = run->series.at(forgetting).back().value;
            out.points.push_back({ run->id, run->name, run->method, group.key, *learning, f });
            placed.push_back(run);
            xs.push_back(*learning);
            ys.push_back(f);
        }
        if (!placed.empty())
            out.groups.push_back(makeGroup(group, placed, xs, ys));
    }
    std::sort(out.missing.begin(), out.missing.end());
    return out;
}

std::optional<double> costValue(const RunMetrics& run, const QString& cost)
{
    if (cost != kTimeCost) {
        const auto it = run.series.find(cost.toStdString());
        if (it == run.series.end() || it->second.empty())
            return std::nullopt;
        return it->second.back().value;
    }
    double first = std::numeric_limits<double>::max();
    double last = std::numeric_limits<double>::lowest();
    for (const auto& [name, series] : run.series) {
        for (const MetricPoint& p : series) {
            first = std::min(first, p.time);
            last = std::max(last, p.time);
        }
    }
    if (last < first)
        return std::nullopt;
    return last - run.startedAt.value_or(first);
}

std::vector<bool> paretoFront(const std::vector<double>& xs, const std::vector<double>& ys, bool yHigherIsBetter)
{
    std::vector<bool> front(xs.size(), true);
    for (std::size_t i = 0; i < xs.size(); ++i) {
        for (std::size_t j = 0; j < xs.size() && front[i]; ++j) {
            if (i == j)
                continue;
            const bool yAsGood = yHigherIsBetter ? ys[j] >= ys[i] : ys[j] <= ys[i];
            const bool yBetter = yHigherIsBetter ? ys[j] > ys[i] : ys[j] < ys[i];
            if (xs[j] <= xs[i] && yAsGood && (xs[j] < xs[i] || yBetter))
                front[i] = false;
        }
    }
    return front;
}

ParetoView paretoView(const std::vector<RunMetrics>& runs, const QString& target, const QString& cost)
{
    ParetoView out;
    out.target = target.isEmpty() ? defaultTargetMetric(runs) : target;
    out.cost = cost;
    for (const Group& group : groupBySeed(runs)) {
        std::vector<const RunMetrics*> placed;
        std::vector<double> xs;
        std::vector<double> ys;
        for (const RunMetrics* run : group.runs) {
            const auto gain = targetValue(*run, out.target);
            const auto c = costValue(*run, cost);
            if (!gain || !c) {
                out.missing.append(run->id);
                continue;
            }
            placed.push_back(run);
            xs.push_back(*c);
            ys.push_back(*gain);
        }
        if (!placed.empty())
            out.groups.push_back(makeGroup(group, placed, xs, ys));
    }
    std::vector<double> xs;
    std::vector<double> ys;
    for (const PointGroup& g : out.groups) {
        xs.push_back(g.x.mean);
        ys.push_back(g.y.mean);
    }
    out.onFront = paretoFront(xs, ys, targetHigherIsBetter(out.target));
    std::sort(out.missing.begin(), out.missing.end());
    return out;
}

double ParallelCoordinates::scaled(std::size_t line, std::size_t axis) const
{
    const double v = lines[line].values[axis];
    const ParallelAxis& a = axes[axis];
    if (std::isnan(v))
        return kNaN;
    return a.max > a.min ? (v - a.min) / (a.max - a.min) : 0.5;
}

ParallelCoordinates parallelCoordinates(const std::vector<RunMetrics>& runs, const QStringList& metrics)
{
    ParallelCoordinates out;
    const std::vector<Group> groups = groupBySeed(runs);
    // Numeric keys whose value differs between the groups: what the sweep varied.
    std::vector<std::map<std::string, std::string>> configs;
    std::set<std::string> keys;
    for (const Group& g : groups) {
        configs.push_back(flattenConfig(g.runs.front()->configJson));
        for (const auto& [key, value] : configs.back())
            keys.insert(key);
    }
    std::vector<std::string> configAxes;
    for (const std::string& key : keys) {
        const auto dot = key.rfind('.');
        if ((dot == std::string::npos ? key : key.substr(dot + 1)) == "seed")
            continue;
        std::set<double> values;
        bool numeric = true;
        for (const auto& config : configs) {
            const auto it = config.find(key);
            if (it == config.end())
                continue;
            char* end = nullptr;
            const double v = std::strtod(it->second.c_str(), &end);
            if (it->second.empty() || end != it->second.c_str() + it->second.size()) {
                numeric = false;
                break;
            }
            values.insert(v);
        }
        if (numeric && values.size() > 1)
            configAxes.push_back(key);
    }
    for (const std::string& key : configAxes)
        out.axes.push_back({ QString::fromStdString(key), true, 0, 0 });
    for (const QString& metric : metrics)
        out.axes.push_back({ metric, false, 0, 0 });
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        ParallelLine line;
        line.groupKey = groups[gi].key;
        QStringList names;
        for (const RunMetrics* run : groups[gi].runs)
            names.append(run->name);
        line.label = names.join(QStringLiteral(", "));
        line.method = groups[gi].runs.front()->method;
        for (const std::string& key : configAxes) {
            const auto it = configs[gi].find(key);
            line.values.push_back(it == configs[gi].end() ? kNaN : std::strtod(it->second.c_str(), nullptr));
        }
        for (const QString& metric : metrics) {
            std::vector<double> finals;
            for (const RunMetrics* run : groups[gi].runs) {
                if (has(*run, metric.toStdString()))
                    finals.push_back(run->series.at(metric.toStdString()).back().value);
            }
            line.values.push_back(finals.empty() ? kNaN : meanStd(finals).mean);
        }
        out.lines.push_back(std::move(line));
    }
    for (std::size_t a = 0; a < out.axes.size(); ++a) {
        double lo = std::numeric_limits<double>::max();
        double hi = std::numeric_limits<double>::lowest();
        for (const ParallelLine& line : out.lines) {
            if (!std::isnan(line.values[a])) {
                lo = std::min(lo, line.values[a]);
                hi = std::max(hi, line.values[a]);
            }
        }
        out.axes[a].min = lo <= hi ? lo : 0;
        out.axes[a].max = lo <= hi ? hi : 0;
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
