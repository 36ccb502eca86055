#pragma once

#include "ui/widgets/qcustomplot_include.h"

#include <QColor>
#include <QString>

#include <vector>

namespace tunebench::ui {

// Exponential moving average as TensorBoard draws it: s_0 = v_0,
// s_i = weight * s_{i-1} + (1 - weight) * v_i, with the first value not
// biased towards zero. weight is clamped to [0, 0.999]; 0 returns the input.
std::vector<double> emaSmooth(const std::vector<double>& values, double weight);
// One more step of the same average (for points appended live).
inline double emaNext(double previous, double value, double weight)
{
    return weight * previous + (1.0 - weight) * value;
}

// The i-th colour of a set that reads on light and dark backgrounds alike.
QColor seriesColor(int i);

// A plot of several named curves sharing one x axis, for live data.
//
// Appends only mark the plot dirty: nothing is drawn until replotIfDirty(),
// which the owner calls from one timer for all its plots, so a stream of
// points costs one replot per plot and tick at most. Hovering shows the value
// of the nearest point of every visible curve at the cursor. The y axis can
// switch to a logarithmic scale (non-positive values are then not drawn).
class SeriesPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit SeriesPlot(const QString& title, QWidget* parent = nullptr);

    // Adds a curve and returns its index. faint draws it thin and translucent
    // (e.g. the raw values behind a smoothed curve).
    int addSeries(const QString& name, const QColor& color, bool faint = false, bool scatter = false);
    int seriesCount() const { return graphCount(); }
    int seriesIndex(const QString& name) const;
    QCPGraph* series(int index) const { return graph(index); }

    void setSeriesData(int index, const QVector<double>& keys, const QVector<double>& values);
    void appendToSeries(int index, const QVector<double>& keys, const QVector<double>& values);
    void clearData();
    // Removes every curve.
    void clearSeries();
    int pointCount(int index) const;

    void setLogScale(bool on);
    bool logScale() const { return m_logScale; }
    void setXLabel(const QString& label) { xAxis->setLabel(label); }
    // Shows the legend even for a single curve (where the title does not name it).
    void setLegendForOne(bool on);

    void markDirty() { m_dirty = true; }
    bool isDirty() const { return m_dirty; }
    // Rescales and replots (at once) when something changed since the last replot; returns whether it drew.
    bool replotIfDirty();
    // Replots drawn by replotIfDirty() over this plot's life.
    int replotCount() const { return m_replots; }

    // The hover read-out's text at a pixel position (what a tooltip would show); empty far from any data.
    QString readoutAt(const QPointF& pos) const;
    // The text shown now in the read-out label (empty when the cursor is not over the plot).
    QString readoutText() const;

    // Colours from the application palette (background, axes, text), so plots follow the theme.
    void applyPalette();

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void rescale();

    QCPTextElement* m_title;
    QCPItemText* m_readout;
    void updateLegend();

    bool m_logScale = false;
    bool m_legendForOne = false;
    bool m_dirty = false;
    int m_replots = 0;
};

} // namespace tunebench::ui
