#include "ui/widgets/length_histogram.h"

#include <algorithm>

namespace tunebench::ui {

LengthHistogram::LengthHistogram(const QString& title, QWidget* parent)
    : QCustomPlot(parent)
    , m_bars(new QCPBars(xAxis, yAxis))
    , m_cutoff(new QCPItemStraightLine(this))
{
    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, title, QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, m_title);
    xAxis->setLabel(tr("tokens"));
    yAxis->setLabel(tr("records"));
    m_bars->setPen(QPen(QColor(40, 90, 160)));
    m_bars->setBrush(QColor(70, 130, 200, 170));
    m_cutoff->setPen(QPen(QColor(200, 60, 40), 1.5, Qt::DashLine));
    m_cutoff->setVisible(false);
    setMinimumHeight(180);
}

void LengthHistogram::setHistogram(const Histogram& histogram, std::int64_t cutoffLen)
{
    QVector<double> keys, values;
    for (std::size_t i = 0; i + 1 < histogram.edges.size(); ++i) {
        keys << (histogram.edges[i] + histogram.edges[i + 1]) / 2;
        values << static_cast<double>(histogram.counts[i]);
    }
    const double width = histogram.edges.size() > 1 ? histogram.edges[1] - histogram.edges[0] : 1.0;
    m_bars->setWidth(width * 0.9);
    m_bars->setData(keys, values, true);
    const double right
        = std::max(histogram.edges.empty() ? 1.0 : histogram.edges.back(), static_cast<double>(cutoffLen) * 1.05);
    xAxis->setRange(0, right);
    const double top = values.isEmpty() ? 1.0 : *std::max_element(values.begin(), values.end());
    yAxis->setRange(0, std::max(1.0, top * 1.1));
    m_cutoff->point1->setCoords(static_cast<double>(cutoffLen), 0);
    m_cutoff->point2->setCoords(static_cast<double>(cutoffLen), 1);
    m_cutoff->setVisible(cutoffLen > 0);
    replot();
}

void LengthHistogram::clearHistogram()
{
    m_bars->data()->clear();
    m_cutoff->setVisible(false);
    replot();
}

int LengthHistogram::barCount() const
{
    return m_bars->dataCount();
}

} // namespace tunebench::ui
