#include "ui/widgets/metric_plot.h"

namespace tunebench::ui {

namespace {

constexpr int kReplotDelayMs = 40;
// Below this many points each one is marked, so a short run does not look like a bare line.
constexpr int kMarkersBelow = 60;

} // namespace

MetricPlot::MetricPlot(QWidget* parent)
    : QCustomPlot(parent)
    , m_graph(addGraph())
{
    setMinimumSize(240, 180);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setAntialiasedElements(QCP::aePlottables | QCP::aeScatters);
    xAxis->setLabel(tr("step"));
    m_graph->setPen(QPen(QColor(0x15, 0x65, 0xc0), 1.6));
    m_replotTimer.setSingleShot(true);
    m_replotTimer.setInterval(kReplotDelayMs);
    connect(&m_replotTimer, &QTimer::timeout, this, &MetricPlot::redraw);
}

void MetricPlot::setSeries(const QString& metric, const std::vector<MetricPoint>& points)
{
    m_graph->data()->clear();
    m_graph->setName(metric);
    yAxis->setLabel(metric);
    m_lastStep.reset();
    appendPoints(points);
    scheduleReplot();
}

void MetricPlot::appendPoints(const std::vector<MetricPoint>& points)
{
    if (points.empty())
        return;
    QVector<double> keys;
    QVector<double> values;
    keys.reserve(static_cast<qsizetype>(points.size()));
    values.reserve(static_cast<qsizetype>(points.size()));
    for (const MetricPoint& p : points) {
        keys.append(static_cast<double>(p.step));
        values.append(p.value);
    }
    m_graph->addData(keys, values, /*alreadySorted=*/true);
    m_lastStep = points.back().step;
    scheduleReplot();
}

void MetricPlot::clearSeries()
{
    m_graph->data()->clear();
    m_graph->setName({});
    yAxis->setLabel({});
    m_lastStep.reset();
    scheduleReplot();
}

int MetricPlot::pointCount() const
{
    return m_graph->dataCount();
}

void MetricPlot::scheduleReplot()
{
    if (!m_replotTimer.isActive())
        m_replotTimer.start();
}

void MetricPlot::redraw()
{
    const bool markers = pointCount() > 0 && pointCount() < kMarkersBelow;
    m_graph->setScatterStyle(markers ? QCPScatterStyle(QCPScatterStyle::ssCircle, 5) : QCPScatterStyle());
    if (pointCount() > 0) {
        m_graph->rescaleAxes();
        // A little headroom, so the extremes are not drawn on the frame.
        xAxis->scaleRange(1.05, xAxis->range().center());
        yAxis->scaleRange(1.1, yAxis->range().center());
    } else {
        xAxis->setRange(0, 1);
        yAxis->setRange(0, 1);
    }
    replot();
}

} // namespace tunebench::ui
