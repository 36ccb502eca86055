#pragma once

#include <QFutureWatcher>
#include <QWidget>

#include <array>
#include <cstdint>
#include <optional>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace tunebench::ui {

class WorkspaceSession;

// One generation in the Playground: which model (and run adapter) and what it wrote.
struct PlaygroundOutput {
    int column = 0;
    QString text;
    QString error;
    QString prompt; // the text the model was given (after the chat template)
    std::int64_t tokens = 0;
    double seconds = 0;
};

// One prompt, answered side by side by the base model and up to three tuned
// runs (each run's saved adapter attached to its model with loadRunAdapter),
// with the sampling settings (temperature, top-p, top-k, max new tokens,
// seed) and the model's chat template when it has one. Generation runs off
// the GUI thread, one column per task.
class PlaygroundPage : public QWidget {
    Q_OBJECT

public:
    static constexpr int kRunColumns = 3;

    explicit PlaygroundPage(WorkspaceSession* session, QWidget* parent = nullptr);
    ~PlaygroundPage() override;

    void setPrompt(const QString& prompt);
    void setBaseModel(const QString& dir);
    QString baseModel() const;
    // Puts a run in one of the run columns (0..2); false when the run has no adapter to load.
    bool setRun(int slot, std::int64_t runId);
    // Starts generating; false (with the reason shown) when there is nothing to do.
    bool generate();
    // From generate() until every column shows its result.
    bool isGenerating() const { return m_generating; }
    // Column 0 is the base model, 1..3 the runs.
    QString outputText(int column) const;

Q_SIGNALS:
    void generationFinished();

private:
    void reloadRuns();
    void showOutput(int index);
    void finished();

    WorkspaceSession* m_session;
    QPlainTextEdit* m_prompt;
    QLineEdit* m_baseModel;
    std::array<QComboBox*, kRunColumns> m_runCombos {};
    QDoubleSpinBox* m_temperature;
    QDoubleSpinBox* m_topP;
    QSpinBox* m_topK;
    QSpinBox* m_maxNewTokens;
    QSpinBox* m_seed;
    QCheckBox* m_chatTemplate;
    QPushButton* m_generate;
    QLabel* m_status;
    std::array<QLabel*, kRunColumns + 1> m_titles {};
    std::array<QPlainTextEdit*, kRunColumns + 1> m_outputs {};
    QFutureWatcher<PlaygroundOutput> m_watcher;
    bool m_generating = false;
};

} // namespace tunebench::ui
