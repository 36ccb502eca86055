#include "ui/report/report_plot.h"

#include "ui/widgets/metric_plot.h"

#include <QEventLoop>
#include <QTimer>

namespace tunebench::ui {

namespace {

const QColor kRunColors[] = { QColor(0x15, 0x65, 0xc0), QColor(0xd8, 0x43, 0x15), QColor(0x2e, 0x7d, 0x32),
    QColor(0x6a, 0x1b, 0x9a), QColor(0xf9, 0xa8, 0x25), QColor(0x00, 0x83, 0x8f), QColor(0x5d, 0x40, 0x37) };

} // namespace

QImage renderMetricPlot(const QString& metric, const std::vector<PlotSeries>& series, QSize size, double scale)
{
    MetricPlot plot;
    plot.resize(size);
    if (!series.empty() && series.front().points)
        plot.setSeries(metric, *series.front().points);
    else
        plot.clearSeries();
    // MetricPlot coalesces its redraw on a timer: let it run, so the picture is what the GUI draws.
    while (plot.replotPending()) {
        QEventLoop loop;
        QTimer::singleShot(10, &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (series.size() > 1) {
        QCPGraph* first = plot.graph(0);
        first->setName(series.front().label);
        for (std::size_t i = 1; i < series.size(); ++i) {
            QCPGraph* graph = plot.addGraph();
            graph->setName(series[i].label);
            QPen pen = first->pen();
            pen.setColor(kRunColors[i % std::size(kRunColors)]);
            graph->setPen(pen);
            graph->setScatterStyle(first->scatterStyle());
            if (series[i].points) {
                for (const MetricPoint& p : *series[i].points)
                    graph->addData(static_cast<double>(p.step), p.value);
            }
        }
        plot.rescaleAxes();
        plot.xAxis->scaleRange(1.05, plot.xAxis->range().center());
        plot.yAxis->scaleRange(1.1, plot.yAxis->range().center());
        plot.legend->setVisible(true);
        plot.replot();
    }
    return plot.toPixmap(size.width(), size.height(), scale).toImage();
}

} // namespace tunebench::ui
