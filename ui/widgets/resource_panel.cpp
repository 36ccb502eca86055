#include "ui/widgets/resource_panel.h"

#include "ui/resource_monitor.h"
#include "ui/widgets/qcustomplot_include.h"

#include <QFormLayout>
#include <QLabel>
#include <QProgressBar>
#include <QVBoxLayout>

#include <algorithm>

namespace tunebench::ui {

namespace {

// Seconds of history the sparklines keep.
constexpr double kHistorySeconds = 120;

QString bytesText(double bytes)
{
    if (bytes >= 1024.0 * 1024 * 1024)
        return QStringLiteral("%1 GiB").arg(bytes / (1024.0 * 1024 * 1024), 0, 'f', 2);
    return QStringLiteral("%1 MiB").arg(bytes / (1024.0 * 1024), 0, 'f', 1);
}

QCustomPlot* sparkline(const QString& name, const QColor& color)
{
    auto* plot = new QCustomPlot;
    plot->setObjectName(name);
    plot->setFixedHeight(48);
    plot->setMinimumWidth(160);
    plot->axisRect()->setAutoMargins(QCP::msNone);
    plot->axisRect()->setMargins(QMargins(1, 1, 1, 1));
    plot->xAxis->setVisible(false);
    plot->yAxis->setVisible(false);
    QCPGraph* g = plot->addGraph();
    g->setPen(QPen(color, 1.4));
    QColor fill = color;
    fill.setAlpha(50);
    g->setBrush(fill);
    return plot;
}

void push(QCustomPlot* plot, double t, double value)
{
    QCPGraph* g = plot->graph(0);
    g->addData(t, value);
    g->data()->removeBefore(t - kHistorySeconds);
    // The span drawn grows with the history up to its two minutes, so a fresh panel is not a sliver.
    const double first = g->data()->constBegin()->key;
    plot->xAxis->setRange(std::max(t - kHistorySeconds, first), std::max(t, first + 1e-3));
    bool found = false;
    const QCPRange r = g->getValueRange(found);
    plot->yAxis->setRange(0, found && r.upper > 0 ? r.upper * 1.15 : 1);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace

ResourcePanel::ResourcePanel(QWidget* parent)
    : QWidget(parent)
    , m_monitor(new ResourceMonitor(this))
    , m_worker(new QLabel)
    , m_cpu(new QLabel)
    , m_rss(new QLabel)
    , m_cpuLine(sparkline(QStringLiteral("cpuSparkline"), QColor(0x2e, 0x7d, 0x32)))
    , m_rssLine(sparkline(QStringLiteral("rssSparkline"), QColor(0x15, 0x65, 0xc0)))
    , m_ramLabel(new QLabel)
    , m_ram(new QProgressBar)
    , m_gpu(new QLabel)
    , m_gpuMemory(new QProgressBar)
    , m_gpuUtil(new QProgressBar)
{
    setObjectName(QStringLiteral("resourcePanel"));
    auto* layout = new QVBoxLayout(this);
    auto* title = new QLabel(tr("<b>Resources</b>"));
    layout->addWidget(title);
    m_worker->setWordWrap(true);
    m_worker->setObjectName(QStringLiteral("resourceWorker"));
    layout->addWidget(m_worker);
    m_cpu->setObjectName(QStringLiteral("resourceCpu"));
    m_rss->setObjectName(QStringLiteral("resourceRss"));
    layout->addWidget(m_cpu);
    layout->addWidget(m_cpuLine);
    layout->addWidget(m_rss);
    layout->addWidget(m_rssLine);
    layout->addWidget(m_ramLabel);
    m_ram->setTextVisible(true);
    layout->addWidget(m_ram);
    m_gpu->setObjectName(QStringLiteral("resourceGpu"));
    m_gpu->setWordWrap(true);
    layout->addWidget(m_gpu);
    m_gpuMemory->setFormat(tr("memory %p%"));
    m_gpuUtil->setFormat(tr("utilisation %p%"));
    layout->addWidget(m_gpuMemory);
    layout->addWidget(m_gpuUtil);
    layout->addStretch();
    setMinimumWidth(200);
    for (QLabel* label : { m_cpu, m_rss, m_ramLabel })
        label->setWordWrap(true);
    connect(m_monitor, &ResourceMonitor::sampled, this, &ResourcePanel::update);
    m_clock.start();
    setWorker(0);
}

void ResourcePanel::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    m_monitor->start(); // sampling (and nvidia-smi) only while the panel is on screen
}

void ResourcePanel::hideEvent(QHideEvent* event)
{
    QWidget::hideEvent(event);
    m_monitor->stop();
}

void ResourcePanel::setWorker(qint64 pid)
{
    m_monitor->setPid(pid);
    m_cpuLine->graph(0)->data()->clear();
    m_rssLine->graph(0)->data()->clear();
    m_monitor->sample();
}

QString ResourcePanel::cpuText() const
{
    return m_cpu->text();
}

QString ResourcePanel::rssText() const
{
    return m_rss->text();
}

QString ResourcePanel::gpuText() const
{
    return m_gpu->text();
}

int ResourcePanel::sparklinePoints() const
{
    return m_cpuLine->graph(0)->dataCount();
}

void ResourcePanel::update()
{
    // The sparklines follow the palette (light or dark theme).
    for (QCustomPlot* plot : { m_cpuLine, m_rssLine }) {
        plot->setBackground(palette().color(QPalette::Base));
        plot->axisRect()->setBackground(palette().color(QPalette::Base));
    }
    const double t = static_cast<double>(m_clock.elapsed()) / 1000.0;
    const qint64 pid = m_monitor->pid();
    if (pid <= 0) {
        m_worker->setText(tr("No worker process (the run is not running)."));
        m_cpu->setText(tr("CPU: \u2014"));
        m_rss->setText(tr("RSS: \u2014"));
    } else if (!m_monitor->processAlive()) {
        m_worker->setText(tr("Worker %1 is not running.").arg(pid));
        m_cpu->setText(tr("CPU: \u2014"));
        m_rss->setText(tr("RSS: \u2014"));
    } else {
        m_worker->setText(tr("Worker pid %1").arg(pid));
        m_cpu->setText(tr("CPU: %1 %").arg(m_monitor->cpuPercent(), 0, 'f', 0));
        m_rss->setText(tr("RSS: %1").arg(bytesText(static_cast<double>(m_monitor->rssBytes()))));
        push(m_cpuLine, t, m_monitor->cpuPercent());
        push(m_rssLine, t, static_cast<double>(m_monitor->rssBytes()) / (1024.0 * 1024));
    }
    if (const auto mem = m_monitor->systemMemory(); mem && mem->totalBytes > 0) {
        const double used = static_cast<double>(mem->totalBytes - mem->availableBytes);
        m_ramLabel->setText(
            tr("System RAM: %1 of %2").arg(bytesText(used), bytesText(static_cast<double>(mem->totalBytes))));
        m_ram->setValue(static_cast<int>(100.0 * used / static_cast<double>(mem->totalBytes)));
        m_ram->setVisible(true);
    } else {
        m_ramLabel->setText(tr("System RAM: unknown (/proc/meminfo unreadable)"));
        m_ram->setVisible(false);
    }
    const QList<GpuSample> gpus = m_monitor->gpus();
    if (gpus.isEmpty()) {
        m_gpu->setText(m_monitor->gpuStatus());
        m_gpuMemory->setVisible(false);
        m_gpuUtil->setVisible(false);
    } else {
        const GpuSample& g = gpus.front(); // the worker uses the first device
        m_gpu->setText(
            tr("GPU: %1\n%2 of %3 MiB").arg(g.name).arg(g.memoryUsedMiB, 0, 'f', 0).arg(g.memoryTotalMiB, 0, 'f', 0));
        m_gpuMemory->setValue(g.memoryTotalMiB > 0 ? static_cast<int>(100.0 * g.memoryUsedMiB / g.memoryTotalMiB) : 0);
        m_gpuUtil->setValue(static_cast<int>(g.utilisationPercent));
        m_gpuMemory->setVisible(true);
        m_gpuUtil->setVisible(true);
    }
}

} // namespace tunebench::ui
