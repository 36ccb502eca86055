#include "ui/widgets/series_plot.h"

#include <QApplication>
#include <QMouseEvent>
#include <QPalette>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tunebench::ui {

namespace {

// A hover read-out names only points within this many pixels (horizontally) of the cursor.
constexpr double kReadoutPixels = 40;
constexpr int kAntialiasBelow = 1500;

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

SeriesPlot::SeriesPlot(const QString& title, QWidget* parent)
    : QCustomPlot(parent)
{
    setMinimumSize(220, 160);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setAntialiasedElements(QCP::aePlottables);
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
    graph(index)->setData(keys, values, /*alreadySorted=*/true);
    m_dirty = true;
}

void SeriesPlot::appendToSeries(int index, const QVector<double>& keys, const QVector<double>& values)
{
    if (keys.isEmpty())
        return;
    graph(index)->addData(keys, values, /*alreadySorted=*/true);
    m_dirty = true;
}

void SeriesPlot::clearSeries()
{
    clearGraphs();
    updateLegend();
}

void SeriesPlot::clearData()
{
    for (int i = 0; i < graphCount(); ++i)
        graph(i)->data()->clear();
    m_dirty = true;
}

int SeriesPlot::pointCount(int index) const
{
    return index >= 0 && index < graphCount() ? graph(index)->dataCount() : 0;
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
        if (!g->visible() || g->dataCount() == 0)
            continue;
        bool found = false;
        const QCPRange keys = g->getKeyRange(found);
        if (!found)
            continue;
        // In log scale only positive values can be drawn.
        const QCPRange values = g->getValueRange(found, m_logScale ? QCP::sdPositive : QCP::sdBoth, QCPRange());
        if (!found)
            continue;
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
    m_dirty = false;
    rescale();
    // Antialiased lines cost several times more to draw; past this many points they are dense enough without.
    for (int i = 0; i < graphCount(); ++i)
        graph(i)->setAntialiased(graph(i)->dataCount() < kAntialiasBelow);
    // Drawn now: the caller is the timer that coalesces appends, so this is the one replot of the tick.
    replot(QCustomPlot::rpRefreshHint);
    ++m_replots;
    return true;
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
