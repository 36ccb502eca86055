#include "ui/resource_monitor.h"

#include <QDateTime>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>

#include <unistd.h>

namespace tunebench::ui {

namespace {

constexpr int kDefaultIntervalMs = 1000;

std::optional<QByteArray> readAll(const QString& path, QString* error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (error)
            *error = QStringLiteral("%1: %2").arg(path, file.errorString());
        return std::nullopt;
    }
    // /proc files report size 0: read until the end.
    return file.readAll();
}

std::optional<std::uint64_t> kilobytesField(const QByteArray& text, const QByteArray& key)
{
    for (const QByteArray& line : text.split('\n')) {
        if (!line.startsWith(key))
            continue;
        QByteArray rest = line.mid(key.size()).trimmed();
        if (rest.endsWith("kB"))
            rest.chop(2);
        bool ok = false;
        const qulonglong kb = rest.trimmed().toULongLong(&ok);
        if (!ok)
            return std::nullopt;
        return static_cast<std::uint64_t>(kb) * 1024;
    }
    return std::nullopt;
}

} // namespace

std::optional<std::uint64_t> parseStatCpuTicks(const QByteArray& stat)
{
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
    // fields are counted after the last ')'. utime and stime are fields 14 and
    // 15 of the whole line, i.e. the 12th and 13th after the comm.
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0)
        return std::nullopt;
    const QList<QByteArray> fields = stat.mid(close + 1).simplified().split(' ');
    if (fields.size() < 13)
        return std::nullopt;
    bool okUser = false;
    bool okSystem = false;
    const qulonglong user = fields[11].toULongLong(&okUser);
    const qulonglong system = fields[12].toULongLong(&okSystem);
    if (!okUser || !okSystem)
        return std::nullopt;
    return static_cast<std::uint64_t>(user + system);
}

std::optional<std::uint64_t> parseStatusRss(const QByteArray& status)
{
    return kilobytesField(status, "VmRSS:");
}

std::optional<ProcessSample> readProcessSample(qint64 pid, QString* error)
{
    if (pid <= 0) {
        if (error)
            *error = QStringLiteral("no process id");
        return std::nullopt;
    }
    const QString dir = QStringLiteral("/proc/%1/").arg(pid);
    const auto stat = readAll(dir + QStringLiteral("stat"), error);
    if (!stat)
        return std::nullopt;
    const auto status = readAll(dir + QStringLiteral("status"), error);
    if (!status)
        return std::nullopt;
    const auto ticks = parseStatCpuTicks(*stat);
    if (!ticks) {
        if (error)
            *error = QStringLiteral("%1stat: expected utime and stime after the command name").arg(dir);
        return std::nullopt;
    }
    ProcessSample s;
    s.cpuTicks = *ticks;
    // A zombie has no VmRSS line: it holds no memory.
    s.rssBytes = parseStatusRss(*status).value_or(0);
    const qsizetype open = stat->indexOf('(');
    const qsizetype close = stat->lastIndexOf(')');
    if (open >= 0 && close > open)
        s.name = QString::fromUtf8(stat->mid(open + 1, close - open - 1));
    return s;
}

std::optional<SystemMemory> parseMeminfo(const QByteArray& meminfo)
{
    const auto total = kilobytesField(meminfo, "MemTotal:");
    const auto available = kilobytesField(meminfo, "MemAvailable:");
    if (!total || !available)
        return std::nullopt;
    return SystemMemory { *total, *available };
}

std::optional<SystemMemory> readSystemMemory()
{
    const auto text = readAll(QStringLiteral("/proc/meminfo"), nullptr);
    return text ? parseMeminfo(*text) : std::nullopt;
}

QList<GpuSample> parseNvidiaSmi(const QByteArray& output)
{
    QList<GpuSample> gpus;
    for (const QByteArray& raw : output.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.isEmpty())
            continue;
        const QList<QByteArray> f = line.split(',');
        if (f.size() < 4)
            continue;
        bool ok1 = false;
        bool ok2 = false;
        bool ok3 = false;
        GpuSample g;
        g.name = QString::fromUtf8(f[0].trimmed());
        g.utilisationPercent = f[1].trimmed().toDouble(&ok1);
        g.memoryUsedMiB = f[2].trimmed().toDouble(&ok2);
        g.memoryTotalMiB = f[3].trimmed().toDouble(&ok3);
        if (ok1 && ok2 && ok3)
            gpus.append(g);
    }
    return gpus;
}

ResourceMonitor::ResourceMonitor(QObject* parent)
    : QObject(parent)
{
    m_timer.setInterval(kDefaultIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &ResourceMonitor::sample);
    const long ticks = sysconf(_SC_CLK_TCK);
    if (ticks > 0)
        m_ticksPerSecond = ticks;
    m_smiPath = QStandardPaths::findExecutable(QStringLiteral("nvidia-smi"));
    m_gpuStatus = m_smiPath.isEmpty() ? tr("no GPU (nvidia-smi not found)") : tr("querying nvidia-smi\u2026");
}

ResourceMonitor::~ResourceMonitor()
{
    if (m_smi) {
        m_smi->disconnect(this);
        m_smi->kill();
        m_smi->waitForFinished(1000);
    }
}

void ResourceMonitor::setPid(qint64 pid)
{
    if (pid == m_pid)
        return;
    m_pid = pid;
    m_process.reset();
    m_cpuPercent = 0;
}

void ResourceMonitor::start()
{
    sample();
    m_timer.start();
}

void ResourceMonitor::stop()
{
    m_timer.stop();
}

void ResourceMonitor::sample()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const std::optional<ProcessSample> next = m_pid > 0 ? readProcessSample(m_pid) : std::nullopt;
    if (next && m_process && now > m_lastWallMs && next->cpuTicks >= m_process->cpuTicks) {
        const double cpuSeconds
            = static_cast<double>(next->cpuTicks - m_process->cpuTicks) / static_cast<double>(m_ticksPerSecond);
        m_cpuPercent = 100.0 * cpuSeconds / (static_cast<double>(now - m_lastWallMs) / 1000.0);
    } else if (!next) {
        m_cpuPercent = 0;
    }
    m_process = next;
    m_lastWallMs = now;
    m_system = readSystemMemory();
    queryGpu();
    Q_EMIT sampled();
}

void ResourceMonitor::queryGpu()
{
    if (m_smiPath.isEmpty() || m_smi)
        return; // none, or the last query is still running: never pile them up
    m_smi = new QProcess(this);
    connect(m_smi, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        const QByteArray out = m_smi->readAllStandardOutput();
        const QByteArray err = m_smi->readAllStandardError().trimmed();
        m_smi->deleteLater();
        m_smi = nullptr;
        if (status != QProcess::NormalExit || code != 0) {
            m_gpus.clear();
            m_gpuStatus = tr("no GPU (nvidia-smi failed: %1)")
                              .arg(err.isEmpty() ? tr("exit code %1").arg(code) : QString::fromUtf8(err));
            return;
        }
        m_gpus = parseNvidiaSmi(out);
        m_gpuStatus = m_gpus.isEmpty() ? tr("no GPU (nvidia-smi lists none)") : QString();
    });
    connect(m_smi, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error != QProcess::FailedToStart)
            return; // a crash also ends in finished()
        m_smi->deleteLater();
        m_smi = nullptr;
        m_gpus.clear();
        m_gpuStatus = tr("no GPU (nvidia-smi could not start)");
    });
    m_smi->start(m_smiPath,
        { QStringLiteral("--query-gpu=name,utilization.gpu,memory.used,memory.total"),
            QStringLiteral("--format=csv,noheader,nounits") });
}

} // namespace tunebench::ui
