#pragma once

#include <QByteArray>
#include <QHash>
#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;
class QTableWidget;

namespace tunebench::ui {

class CompletionsPanel;
class EmptyState;
class ResourcePanel;
class SeriesPlot;
class WorkspaceSession;

// Live plots of one run: loss (train with EMA smoothing over the faint raw
// curve, and eval), learning rate, gradient norm, tokens/s, preference
// rewards, diversity and forgetting, distillation's teacher-student gap, and for a data-parallel run each rank's
// tokens/s and communication time per step, each with a log-scale toggle and a hover
// read-out; the samples stored over training in a table; the worker's
// resources beside the plots.
//
// An online objective's (grpo) run adds its reward (total and per function), KL, completion length and completion
// diversity plots, and a table of a step's completions with their rewards (CompletionsPanel).
//
// Only the plots of metric families the run has recorded are shown (a live
// run's appear with their first point); a run with none says so.
//
// The history comes from the store when a run is shown; afterwards every
// changed() of the session (a commit by the run's worker, whichever process
// started it) appends only the points newer than those held. Appends only mark
// plots dirty; a timer (the plot refresh interval) replots the dirty ones that
// are on screen, one per event-loop turn, so a fast stream costs at most one
// replot per plot and tick and no turn holds the loop for more than one replot.
class MonitorPage : public QWidget {
    Q_OBJECT

public:
    // Plot keys, for plot().
    static constexpr const char* kLoss = "loss";
    static constexpr const char* kLearningRate = "lr";
    static constexpr const char* kGradNorm = "grad_norm";
    static constexpr const char* kThroughput = "tokens_per_s";
    static constexpr const char* kSamples = "samples_per_s";
    static constexpr const char* kMfu = "mfu";
    static constexpr const char* kRewards = "rewards";
    static constexpr const char* kDiversity = "diversity";
    static constexpr const char* kForgetting = "forgetting";
    // An online objective's (grpo) figures: reward (total and per function), KL to the reference, completion
    // length (mean, min, max) and the diversity of each step's completions.
    static constexpr const char* kGrpoReward = "grpo_reward";
    static constexpr const char* kGrpoKl = "grpo_kl";
    static constexpr const char* kCompletionLength = "completion_length";
    static constexpr const char* kGrpoDiversity = "grpo_diversity";
    // A data-parallel run's figures per rank (one curve a rank), from its step events.
    static constexpr const char* kRankThroughput = "rank_tokens_per_s";
    static constexpr const char* kRankComm = "rank_comm_seconds";
    // Distillation (plugins/distill): the teacher-student gap and the two cross-entropies it is the difference of.
    static constexpr const char* kDistill = "distill";

    explicit MonitorPage(WorkspaceSession* session, QWidget* parent = nullptr);

    qint64 currentRun() const { return m_runId; }
    SeriesPlot* plot(const QString& key) const { return m_plots.value(key); }
    QStringList plotKeys() const { return m_plotOrder; }
    // The plots shown for the current run (those of metric families it has recorded), in order.
    QStringList shownPlotKeys() const;
    // The text shown instead of plots while the run has recorded nothing drawn here (empty when plots show).
    QString noMetricsText() const;
    QCheckBox* logScaleToggle(const QString& key) const { return m_logToggles.value(key); }
    QTableWidget* samplesTable() const { return m_samples; }
    // An online objective's completions of one step with their rewards (shown while the run has some).
    CompletionsPanel* completionsPanel() const { return m_completions; }
    ResourcePanel* resourcePanel() const { return m_resources; }
    QComboBox* runPicker() const { return m_runPicker; }

    // EMA weight of the train loss, 0 (none) to 0.99.
    void setSmoothing(double weight);
    double smoothing() const;
    void setRefreshInterval(int milliseconds);
    int refreshInterval() const { return m_refresh.interval(); }
    // Replots drawn over all plots since the page was made.
    int replotCount() const;
    // Metric rows appended to the plots from the store (history and live).
    qint64 pointsReceived() const { return m_pointsReceived; }
    // Draws what is dirty now instead of at the next tick.
    void flushReplots();

    // The plot and series a metric is drawn in; nothing for metrics not shown.
    struct Route {
        QString plot;
        QString series;
    };
    static std::optional<Route> routeMetric(const QString& metric);

    // The per-rank figures of the step events in `lines` (a worker's output, one JSON event a line; other lines
    // are passed over): step -> one value per rank, for each of rank_tokens_per_s and rank_comm_seconds.
    struct RankFigures {
        std::map<double, std::vector<double>> tokensPerSecond;
        std::map<double, std::vector<double>> commSeconds;
    };
    static void readRankFigures(const QByteArray& lines, RankFigures* into);

public Q_SLOTS:
    // Shows the run (picks it in the run picker) and loads its history.
    void showRun(qint64 runId);

private:
    struct Followed {
        std::optional<std::int64_t> lastStep;
    };

    void buildPlots(QWidget* container);
    void refreshRuns();
    void loadRun();
    void follow();
    void appendMetric(const QString& name, const std::vector<double>& steps, const std::vector<double>& values);
    void updateSmoothed(bool all);
    void followSamples();
    // Reads what the run's worker log gained since the last call and redraws the per-rank plots.
    void followRankFigures();
    void updateWorker();
    void tick();
    void replotNext();
    // Shows the plots that hold points, hides the others and lays the shown ones out without gaps.
    void updateShownPlots();
    int ensureSeries(const QString& plotKey, const QString& series);

    WorkspaceSession* m_session;
    EmptyState* m_pageState;
    QComboBox* m_runPicker;
    QLabel* m_runInfo;
    QSlider* m_smoothing;
    QLabel* m_smoothingLabel;
    QHash<QString, SeriesPlot*> m_plots;
    QHash<QString, QCheckBox*> m_logToggles;
    QHash<QString, QWidget*> m_cells; // a plot with its log-scale toggle
    QWidget* m_plotGrid = nullptr;
    QLabel* m_noMetrics = nullptr;
    QStringList m_shown;
    QStringList m_replotQueue; // dirty plots on screen, replotted one per event-loop turn
    bool m_replotting = false;
    QStringList m_plotOrder;
    QTableWidget* m_samples;
    CompletionsPanel* m_completions;
    ResourcePanel* m_resources;
    QTimer m_refresh;
    qint64 m_runId = 0;
    QHash<QString, Followed> m_followed;
    std::int64_t m_lastSampleId = 0;
    qint64 m_pointsReceived = 0;
    bool m_following = false;
    // The train loss's raw values, whose EMA is drawn; smoothed up to m_smoothedCount.
    std::vector<double> m_rawLossSteps;
    std::vector<double> m_rawLoss;
    std::size_t m_smoothedCount = 0;
    double m_lastEma = 0;
    // The per-rank figures travel only in the step events, which the worker writes to runs/<id>/worker.log
    // (the store keeps a step's scalars as metrics, not the events): read from here on.
    qint64 m_workerLogOffset = 0;
    QByteArray m_workerLogPartial; // a line the worker has not finished writing
    RankFigures m_rankFigures;
};

} // namespace tunebench::ui
