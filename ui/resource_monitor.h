#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <optional>

class QProcess;

namespace tunebench::ui {

// What /proc tells about one process.
struct ProcessSample {
    std::uint64_t cpuTicks = 0; // utime + stime, in clock ticks
    std::uint64_t rssBytes = 0; // VmRSS
    QString name;
};

// Reads /proc/<pid>/stat (CPU ticks) and /proc/<pid>/status (VmRSS). Returns
// nothing when the process does not exist (or /proc cannot be read); with
// error, the reason naming the file.
std::optional<ProcessSample> readProcessSample(qint64 pid, QString* error = nullptr);
// Parses the text of a /proc/<pid>/stat line; nothing when malformed.
std::optional<std::uint64_t> parseStatCpuTicks(const QByteArray& stat);
// Parses VmRSS (kB) out of /proc/<pid>/status text, in bytes.
std::optional<std::uint64_t> parseStatusRss(const QByteArray& status);

struct SystemMemory {
    std::uint64_t totalBytes = 0;
    std::uint64_t availableBytes = 0;
};
std::optional<SystemMemory> readSystemMemory();
std::optional<SystemMemory> parseMeminfo(const QByteArray& meminfo);

struct GpuSample {
    QString name;
    double utilisationPercent = 0;
    double memoryUsedMiB = 0;
    double memoryTotalMiB = 0;
};
// Parses `nvidia-smi --query-gpu=name,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits` output: one line per GPU.
QList<GpuSample> parseNvidiaSmi(const QByteArray& output);

// Samples the watched process and the system about once a second. CPU % is
// the process's CPU time over wall time since the previous sample (100 % is
// one core busy). GPU figures come from nvidia-smi run as a child process,
// read when it finishes, so the GUI thread never waits on it; without
// nvidia-smi (or when it fails) gpuAvailable() is false.
class ResourceMonitor : public QObject {
    Q_OBJECT

public:
    explicit ResourceMonitor(QObject* parent = nullptr);
    ~ResourceMonitor() override;

    // 0 or a negative pid watches nothing (system figures are still sampled).
    void setPid(qint64 pid);
    qint64 pid() const { return m_pid; }
    void setInterval(int milliseconds) { m_timer.setInterval(milliseconds); }
    void start();
    void stop();
    // Samples now (also called by the timer).
    void sample();

    bool processAlive() const { return m_process.has_value(); }
    double cpuPercent() const { return m_cpuPercent; }
    std::uint64_t rssBytes() const { return m_process ? m_process->rssBytes : 0; }
    std::optional<SystemMemory> systemMemory() const { return m_system; }
    bool gpuAvailable() const { return !m_gpus.isEmpty(); }
    QList<GpuSample> gpus() const { return m_gpus; }
    // Why there is no GPU figure ("nvidia-smi not found", its error), for the panel.
    QString gpuStatus() const { return m_gpuStatus; }

Q_SIGNALS:
    void sampled();

private:
    void queryGpu();

    QTimer m_timer;
    qint64 m_pid = 0;
    std::optional<ProcessSample> m_process;
    qint64 m_lastWallMs = 0;
    double m_cpuPercent = 0;
    std::optional<SystemMemory> m_system;
    QString m_smiPath;
    QProcess* m_smi = nullptr;
    QList<GpuSample> m_gpus;
    QString m_gpuStatus;
    long m_ticksPerSecond = 100;
};

} // namespace tunebench::ui
