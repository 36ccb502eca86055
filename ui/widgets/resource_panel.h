#pragma once

#include <QElapsedTimer>
#include <QWidget>

class QLabel;
class QProgressBar;
class QCustomPlot;

namespace tunebench::ui {

class ResourceMonitor;

// Resource figures beside the Monitor's plots: the worker's CPU % and RSS as
// sparklines over the last two minutes, system RAM and each GPU's memory and
// utilisation as bars ("no GPU" when nvidia-smi is absent). Samples once a
// second while shown.
class ResourcePanel : public QWidget {
    Q_OBJECT

public:
    explicit ResourcePanel(QWidget* parent = nullptr);

    ResourceMonitor* monitor() const { return m_monitor; }
    // The run's worker process; 0 when the run has none (finished, or never started).
    void setWorker(qint64 pid);
    QString cpuText() const;
    QString rssText() const;
    QString gpuText() const;
    int sparklinePoints() const;

protected:
    void showEvent(QShowEvent* event) override;
    void hideEvent(QHideEvent* event) override;

private:
    void update();

    ResourceMonitor* m_monitor;
    QLabel* m_worker;
    QLabel* m_cpu;
    QLabel* m_rss;
    QCustomPlot* m_cpuLine;
    QCustomPlot* m_rssLine;
    QLabel* m_ramLabel;
    QProgressBar* m_ram;
    QLabel* m_gpu;
    QProgressBar* m_gpuMemory;
    QProgressBar* m_gpuUtil;
    QElapsedTimer m_clock;
};

} // namespace tunebench::ui
