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

// The points drawn for a series (keys ascending) on an x range [xLow, xHigh] spanning `columns` pixel columns.
// Where the points within the range outnumber 2 x columns, each column keeps only its lowest and highest value
// (in key order, so the line still runs through both): a one-point spike stays visible and at most
// 2 x columns points are drawn. Beyond the range only the nearest point on each side is kept, where the line
// leaves the plot. NaN values are dropped; with positiveOnly (a log axis) so are values <= 0.
// Fewer points than that are returned as they are.
void decimateMinMax(const std::vector<double>& keys, const std::vector<double>& values, double xLow, double xHigh,
    int columns, bool positiveOnly, QVector<double>* outKeys, QVector<double>* outValues);

// A plot of several named curves sharing one x axis, for live data.
//
// Appends only mark the plot dirty: nothing is drawn until replotIfDirty(),
// which the owner calls from one timer for all its plots, so a stream of
// points costs one replot per plot and tick at most. Series filled through
// setSeriesData/appendToSeries keep their full-resolution points here
// (seriesKeys/seriesValues, the hover read-out and the axis ranges use them);
// what is drawn is those points decimated to the plot's pixel columns
// (decimateMinMax), so a replot costs the same after a million points as
// after a thousand. Hovering shows the value of the nearest point of every
// visible curve at the cursor. The y axis can switch to a logarithmic scale
// (non-positive values are then not drawn).
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
    // Keys must not go below the series' last key.
    void appendToSeries(int index, const QVector<double>& keys, const QVector<double>& values);
    void appendToSeries(int index, const std::vector<double>& keys, const std::vector<double>& values);
    void clearData();
    // Removes every curve.
    void clearSeries();
    // Points of the series at full resolution (for a series whose QCPGraph data was set directly: the graph's).
    int pointCount(int index) const;
    // Points handed to QCustomPlot for drawing at the last replot.
    int drawnPointCount(int index) const;
    // The full-resolution points of a series filled through setSeriesData/appendToSeries.
    const std::vector<double>& seriesKeys(int index) const;
    const std::vector<double>& seriesValues(int index) const;
    // Whether any series holds a point.
    bool hasData() const;

    void setLogScale(bool on);
    bool logScale() const { return m_logScale; }
    void setXLabel(const QString& label) { xAxis->setLabel(label); }
    // Shows the legend even for a single curve (where the title does not name it).
    void setLegendForOne(bool on);

    void markDirty() { m_dirty = true; }
    bool isDirty() const { return m_dirty; }
    // Rescales and replots (at once) when something changed since the last replot; returns whether it drew.
    bool replotIfDirty();
    // Replots drawn by replotIfDirty() over this plot's life, and the time the last one took.
    int replotCount() const { return m_replots; }
    double lastReplotMs() const { return m_lastReplotMs; }

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
    // A series' points at full resolution, and their value range kept up to date as points are appended.
    struct FullSeries {
        bool managed = false; // filled through this class (else the QCPGraph's data is drawn as it is)
        std::vector<double> keys;
        std::vector<double> values;
        double low = 0; // over the non-NaN values
        double high = 0;
        double lowPositive = 0; // over the positive values, for a log axis
        bool any = false;
        bool anyPositive = false;
        void extend(const double* v, std::size_t n);
        void clear();
    };

    const FullSeries& fullOf(int index) const;
    FullSeries& fullAt(int index);
    void rescale();
    // Hands each managed series' decimated points to its graph, for the x range now shown.
    void redecimate();

    QCPTextElement* m_title;
    QCPItemText* m_readout;
    void updateLegend();

    bool m_logScale = false;
    bool m_legendForOne = false;
    bool m_dirty = false;
    bool m_decimating = false;
    int m_replots = 0;
    double m_lastReplotMs = 0;
    std::vector<FullSeries> m_full; // by series index
};

} // namespace tunebench::ui
