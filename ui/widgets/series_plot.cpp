#include "ui/widgets/series_plot.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QMouseEvent>
#include <QPalette>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tunebench::ui {

namespace {

// A hover read-out names only points within this many pixels (horizontally) of the cursor.
constexpr double kReadoutPixels = 40;

const std::vector<double> kNoPoints;

QString formatValue(double v)
{
    return QString::number(v, 'g', 5);
}

} // namespace

QColor seriesColor(int i)
{
    static const QColor colors[] = { QColor(0x1e, 0x88, 0xe5), QColor(0xfb, 0x8c, 0x00), QColor(0x43, 0xa0, 0x47),
        QColor(0xe5, 0x39, 0x35), QColor(0x8e, 0x24, 0xaa), QColor(0x00, 0xac, 0xc1), QColor(0xc0, 0xca, 0x33),
        QColor(0xd8, 0x1b, 0x60), QColor(0x6d, 0x4c, 0x41), QColor(0x75, 0x75, 0x75) };
    constexpr int n = static_cast<int>(sizeof(colors) / sizeof(colors[0]));
    return colors[((i % n) + n) % n];
}

std::vector<double> emaSmooth(const std::vector<double>& values, double weight)
{
    weight = std::clamp(weight, 0.0, 0.999);
    std::vector<double> out;
    out.reserve(values.size());
    for (const double v : values)
        out.push_back(out.empty() ? v : emaNext(out.back(), v, weight));
    return out;
}

void decimateMinMax(const std::vector<double>& keys, const std::vector<double>& values, double xLow, double xHigh,
    int columns, bool positiveOnly, QVector<double>* outKeys, QVector<double>* outValues)
{
    outKeys->clear();
    outValues->clear();
    const std::size_t n = std::min(keys.size(), values.size());
    auto drawable = [&](std::size_t i) { return !std::isnan(values[i]) && (!positiveOnly || values[i] > 0); };
    auto push = [&](std::size_t i) {
        outKeys->append(keys[i]);
        outValues->append(values[i]);
    };
    const auto first = static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.begin() + n, xLow) - keys.begin());
    const auto last = static_cast<std::size_t>(std::upper_bound(keys.begin(), keys.begin() + n, xHigh) - keys.begin());
    columns = std::max(columns, 1);
    // The nearest drawable point before the range, so the line enters the plot from its edge.
    for (std::size_t i = first; i > 0; --i) {
        if (drawable(i - 1)) {
            push(i - 1);
            break;
        }
    }
    const std::size_t inRange = last - first;
    if (inRange <= 2 * static_cast<std::size_t>(columns) || !(xHigh > xLow)) {
        for (std::size_t i = first; i < last; ++i) {
            if (drawable(i))
                push(i);
        }
    } else {
        const double scale = static_cast<double>(columns) / (xHigh - xLow);
        std::size_t i = first;
        while (i < last) {
            const auto column = std::min(columns - 1, static_cast<int>((keys[i] - xLow) * scale));
            std::size_t lowAt = n;
            std::size_t highAt = n;
            for (; i < last && std::min(columns - 1, static_cast<int>((keys[i] - xLow) * scale)) == column; ++i) {
                if (!drawable(i))
                    continue;
                if (lowAt == n || values[i] < values[lowAt])
                    lowAt = i;
                if (highAt == n || values[i] > values[highAt])
                    highAt = i;
            }
            if (lowAt == n)
                continue;
            push(std::min(lowAt, highAt));
            if (lowAt != highAt)
                push(std::max(lowAt, highAt));
        }
    }
    for (std::size_t i = last; i < n; ++i) {
        if (drawable(i)) {
            push(i);
            break;
        }
    }
}

void SeriesPlot::FullSeries::extend(const double* v, std::size_t count)
{
    for (std::size_t i = 0; i < count; ++i) {
        const double x = v[i];
        if (std::isnan(x))
            continue;
        low = any ? std::min(low, x) : x;
        high = any ? std::max(high, x) : x;
        any = true;
        if (x > 0) {
            lowPositive = anyPositive ? std::min(lowPositive, x) : x;
            anyPositive = true;
        }
    }
}

const SeriesPlot::FullSeries& SeriesPlot::fullOf(int index) const
{
    // A graph added past addSeries (QCustomPlot::addGraph) has no full series: its data is drawn as it is.
    static const FullSeries none;
    return index >= 0 && static_cast<std::size_t>(index) < m_full.size() ? m_full[static_cast<std::size_t>(index)]
                                                                         : none;
}

SeriesPlot::FullSeries& SeriesPlot::fullAt(int index)
{
    if (m_full.size() < static_cast<std::size_t>(graphCount()))
        m_full.resize(static_cast<std::size_t>(graphCount()));
    // Decimated here, with the full data kept for hover and ranges (QCustomPlot's own sampling would redo it).
    graph(index)->setAdaptiveSampling(false);
    return m_full[static_cast<std::size_t>(index)];
}

void SeriesPlot::FullSeries::clear()
{
    keys.clear();
    values.clear();
    any = anyPositive = false;
    low = high = lowPositive = 0;
}

SeriesPlot::SeriesPlot(const QString& title, QWidget* parent)
    : QCustomPlot(parent)
{
    setMinimumSize(220, 160);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setAntialiasedElements(QCP::aePlottables);
    // A polyline of a noisy series crosses itself at every column; stroked as one path (the default for pens
    // wider than 1 px) its cost grows with the crossings, to 80 ms for 400 points. Segment by segment it stays
    // linear in the points drawn.
    setPlottingHint(QCP::phFastPolylines, true);
    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, title, QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, m_title);
    xAxis->setLabel(tr("step"));
    legend->setVisible(false);
    legend->setFont(QFont(font().family(), std::max(6, font().pointSize() - 1)));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_readout = new QCPItemText(this);
    m_readout->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_readout->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_readout->position->setCoords(0.01, 0.01);
    m_readout->setPadding(QMargins(4, 2, 4, 2));
    m_readout->setClipToAxisRect(true);
    m_readout->setVisible(false);
    setMouseTracking(true);
    applyPalette();
    // A drag or zoom changes the x range between replots: what is drawn is decimated for the new range.
    connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        if (!m_decimating)
            redecimate();
    });
}

int SeriesPlot::addSeries(const QString& name, const QColor& color, bool faint, bool scatter)
{
    QCPGraph* g = addGraph();
    g->setName(name);
    QColor c = color;
    if (faint)
        c.setAlpha(70);
    g->setPen(QPen(c, faint ? 1.0 : 1.8));
    if (scatter) {
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 6));
    }
    if (faint)
        legend->removeItem(legend->itemCount() - 1);
    // Lines of at most 2 x width points: antialiasing costs little and keeps them smooth.
    g->setAntialiased(true);
    m_full.resize(static_cast<std::size_t>(graphCount()));
    updateLegend();
    m_dirty = true;
    return graphCount() - 1;
}

void SeriesPlot::setLegendForOne(bool on)
{
    m_legendForOne = on;
    updateLegend();
}

void SeriesPlot::updateLegend()
{
    legend->setVisible(legend->itemCount() > (m_legendForOne ? 0 : 1));
    m_dirty = true;
}

int SeriesPlot::seriesIndex(const QString& name) const
{
    for (int i = 0; i < graphCount(); ++i) {
        if (graph(i)->name() == name)
            return i;
    }
    return -1;
}

void SeriesPlot::setSeriesData(int index, const QVector<double>& keys, const QVector<double>& values)
{
    FullSeries& full = fullAt(index);
    full.clear();
    full.managed = true;
    full.keys.assign(keys.begin(), keys.end());
    full.values.assign(values.begin(), values.end());
    full.extend(full.values.data(), full.values.size());
    m_dirty = true;
}

void SeriesPlot::appendToSeries(int index, const QVector<double>& keys, const QVector<double>& values)
{
    appendToSeries(
        index, std::vector<double>(keys.begin(), keys.end()), std::vector<double>(values.begin(), values.end()));
}

void SeriesPlot::appendToSeries(int index, const std::vector<double>& keys, const std::vector<double>& values)
{
    if (keys.empty())
        return;
    FullSeries& full = fullAt(index);
    full.managed = true;
    full.keys.insert(full.keys.end(), keys.begin(), keys.end());
    full.values.insert(full.values.end(), values.begin(), values.end());
    full.extend(values.data(), values.size());
    m_dirty = true;
}

void SeriesPlot::clearSeries()
{
    clearGraphs();
    m_full.clear();
    updateLegend();
}

void SeriesPlot::clearData()
{
    for (int i = 0; i < graphCount(); ++i)
        graph(i)->data()->clear();
    for (FullSeries& full : m_full)
        full.clear();
    m_dirty = true;
}

int SeriesPlot::pointCount(int index) const
{
    if (index < 0 || index >= graphCount())
        return 0;
    const FullSeries& full = fullOf(index);
    return full.managed ? static_cast<int>(full.keys.size()) : graph(index)->dataCount();
}

int SeriesPlot::drawnPointCount(int index) const
{
    return index >= 0 && index < graphCount() ? graph(index)->dataCount() : 0;
}

const std::vector<double>& SeriesPlot::seriesKeys(int index) const
{
    return index >= 0 && index < graphCount() ? fullOf(index).keys : kNoPoints;
}

const std::vector<double>& SeriesPlot::seriesValues(int index) const
{
    return index >= 0 && index < graphCount() ? fullOf(index).values : kNoPoints;
}

bool SeriesPlot::hasData() const
{
    for (int i = 0; i < graphCount(); ++i) {
        if (pointCount(i) > 0)
            return true;
    }
    return false;
}

void SeriesPlot::setLogScale(bool on)
{
    if (on == m_logScale)
        return;
    m_logScale = on;
    if (on) {
        yAxis->setScaleType(QCPAxis::stLogarithmic);
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        yAxis->setNumberFormat(QStringLiteral("eb"));
        yAxis->setNumberPrecision(0);
    } else {
        yAxis->setScaleType(QCPAxis::stLinear);
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        yAxis->setNumberFormat(QStringLiteral("gb"));
        yAxis->setNumberPrecision(6);
    }
    m_dirty = true;
}

void SeriesPlot::rescale()
{
    bool any = false;
    double xLow = std::numeric_limits<double>::max();
    double xHigh = std::numeric_limits<double>::lowest();
    double yLow = xLow;
    double yHigh = xHigh;
    for (int i = 0; i < graphCount(); ++i) {
        QCPGraph* g = graph(i);
        if (!g->visible())
            continue;
        const FullSeries& full = fullOf(i);
        QCPRange keys;
        QCPRange values;
        if (full.managed) {
            // Kept up to date on append: no pass over the points.
            if (full.keys.empty() || !(m_logScale ? full.anyPositive : full.any))
                continue;
            keys = QCPRange(full.keys.front(), full.keys.back());
            values = m_logScale ? QCPRange(full.lowPositive, std::max(full.high, full.lowPositive))
                                : QCPRange(full.low, full.high);
        } else {
            if (g->dataCount() == 0)
                continue;
            bool found = false;
            keys = g->getKeyRange(found);
            if (!found)
                continue;
            // In log scale only positive values can be drawn.
            values = g->getValueRange(found, m_logScale ? QCP::sdPositive : QCP::sdBoth, QCPRange());
            if (!found)
                continue;
        }
        any = true;
        xLow = std::min(xLow, keys.lower);
        xHigh = std::max(xHigh, keys.upper);
        yLow = std::min(yLow, values.lower);
        yHigh = std::max(yHigh, values.upper);
    }
    if (!any) {
        xAxis->setRange(0, 1);
        yAxis->setRange(m_logScale ? QCPRange(0.1, 1) : QCPRange(0, 1));
        return;
    }
    if (xHigh <= xLow)
        xHigh = xLow + 1;
    const double xPad = (xHigh - xLow) * 0.03;
    xAxis->setRange(xLow - xPad, xHigh + xPad);
    if (m_logScale) {
        if (yHigh <= yLow)
            yHigh = yLow * 10;
        yAxis->setRange(yLow / 1.3, yHigh * 1.3);
    } else {
        if (yHigh <= yLow) {
            const double half = std::max(std::abs(yLow) * 0.05, 1e-9);
            yLow -= half;
            yHigh += half;
        }
        const double yPad = (yHigh - yLow) * 0.06;
        yAxis->setRange(yLow - yPad, yHigh + yPad);
    }
}

bool SeriesPlot::replotIfDirty()
{
    if (!m_dirty)
        return false;
    QElapsedTimer clock;
    clock.start();
    m_dirty = false;
    m_decimating = true; // one decimation below, not one per axis range change
    rescale();
    m_decimating = false;
    redecimate();
    // Drawn now: the caller is the timer that coalesces appends, so this is the one replot of the tick.
    replot(QCustomPlot::rpRefreshHint);
    ++m_replots;
    m_lastReplotMs = static_cast<double>(clock.nsecsElapsed()) / 1e6;
    return true;
}

void SeriesPlot::redecimate()
{
    const QCPRange range = xAxis->range();
    const int columns = std::max(1, axisRect()->width());
    QVector<double> keys;
    QVector<double> values;
    for (int i = 0; i < graphCount(); ++i) {
        const FullSeries& full = fullOf(i);
        if (!full.managed)
            continue;
        decimateMinMax(full.keys, full.values, range.lower, range.upper, columns, m_logScale, &keys, &values);
        graph(i)->setData(keys, values, /*alreadySorted=*/true);
    }
}

QString SeriesPlot::readoutAt(const QPointF& pos) const
{
    if (!axisRect()->rect().contains(pos.toPoint()))
        return {};
    const double x = xAxis->pixelToCoord(pos.x());
    const double slack = std::abs(xAxis->pixelToCoord(pos.x() + kReadoutPixels) - x);
    QStringList lines;
    double shownKey = std::numeric_limits<double>::quiet_NaN();
    for (int i = 0; i < graphCount(); ++i) {
        QCPGraph* g = graph(i);
        const FullSeries& full = fullOf(i);
        if (g->visible() && full.managed && !full.keys.empty()) {
            // The full-resolution points, not the drawn ones: hover reads every value.
            auto it = std::lower_bound(full.keys.begin(), full.keys.end(), x);
            if (it == full.keys.end() || (it != full.keys.begin() && std::abs(*(it - 1) - x) < std::abs(*it - x)))
                --it;
            if (std::abs(*it - x) > slack)
                continue;
            if (std::isnan(shownKey))
                shownKey = *it;
            lines.append(QStringLiteral("%1: %2").arg(
                g->name(), formatValue(full.values[static_cast<std::size_t>(it - full.keys.begin())])));
            continue;
        }
        if (!g->visible() || g->dataCount() == 0)
            continue;
        auto data = g->data();
        auto it = data->findBegin(x, /*expandedRange=*/false);
        // findBegin gives the first point at or after x; the one before may be nearer.
        auto best = it;
        if (best == data->constEnd()
            || (it != data->constBegin() && std::abs((it - 1)->key - x) < std::abs(it->key - x)))
            best = it - 1;
        if (best == data->constEnd() || std::abs(best->key - x) > slack)
            continue;
        if (std::isnan(shownKey))
            shownKey = best->key;
        lines.append(QStringLiteral("%1: %2").arg(g->name(), formatValue(best->value)));
    }
    if (lines.isEmpty())
        return {};
    lines.prepend(QStringLiteral("%1 %2").arg(xAxis->label(), formatValue(shownKey)));
    return lines.join(QLatin1Char('\n'));
}

QString SeriesPlot::readoutText() const
{
    return m_readout->visible() ? m_readout->text() : QString();
}

void SeriesPlot::mouseMoveEvent(QMouseEvent* event)
{
    QCustomPlot::mouseMoveEvent(event);
    const QString text = readoutAt(event->position());
    const bool show = !text.isEmpty();
    if (show != m_readout->visible() || text != m_readout->text()) {
        m_readout->setText(text);
        m_readout->setVisible(show);
        // Hover is user input: drawn at once, but queued so a fast mouse costs one replot per frame.
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void SeriesPlot::leaveEvent(QEvent* event)
{
    QCustomPlot::leaveEvent(event);
    if (m_readout->visible()) {
        m_readout->setVisible(false);
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void SeriesPlot::changeEvent(QEvent* event)
{
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyPalette();
        m_dirty = true;
    }
}

void SeriesPlot::applyPalette()
{
    const QPalette pal = palette();
    const QColor base = pal.color(QPalette::Base);
    const QColor text = pal.color(QPalette::Text);
    QColor grid = text;
    grid.setAlpha(40);
    setBackground(base);
    axisRect()->setBackground(base);
    for (QCPAxis* axis : { xAxis, yAxis }) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
        axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    }
    m_title->setTextColor(text);
    legend->setBrush(QBrush(base));
    legend->setBorderPen(QPen(grid));
    legend->setTextColor(text);
    QColor box = base;
    box.setAlpha(220);
    m_readout->setBrush(QBrush(box));
    m_readout->setPen(QPen(grid));
    m_readout->setColor(text);
}

} // namespace tunebench::ui
