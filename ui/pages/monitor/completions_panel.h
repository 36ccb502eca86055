#pragma once

#include <QWidget>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

class QComboBox;
class QTableWidget;

namespace tunebench {
class Workspace;
}

namespace tunebench::ui {

// The Monitor's table of an online objective's (grpo) sampled completions at one step: prompt, completion, each
// reward function's score and the weighted total. The texts are the run's samples table, the scores its
// "completions" events (the samples table keeps no scores); the step picker offers every step that has them and
// follows the newest while it is picked.
class CompletionsPanel : public QWidget {
    Q_OBJECT

public:
    explicit CompletionsPanel(QWidget* parent = nullptr);

    // Forgets what was read: the next follow() reads the run from its start.
    void reset(std::int64_t runId);
    // Reads what the run recorded since the last call. Throws what the store throws.
    void follow(Workspace& ws);
    bool hasCompletions() const { return !m_steps.empty(); }

    QComboBox* stepPicker() const { return m_stepPicker; }
    QTableWidget* table() const { return m_table; }
    // The step the table shows (0 when none).
    std::int64_t shownStep() const;
    bool showStep(std::int64_t step);
    // The reward functions' names, as the columns after the completion show them.
    const std::vector<std::string>& rewardNames() const { return m_rewardNames; }

private:
    struct Completion {
        std::int64_t example = 0;
        int sampleIndex = 0;
        std::string text;
        double total = 0;
        std::map<std::string, double> rewards;
    };
    void readRewardNames(Workspace& ws);
    void updatePicker();
    void fillTable();
    std::string promptOf(std::int64_t step, const Completion& c) const;

    QComboBox* m_stepPicker;
    QTableWidget* m_table;
    std::int64_t m_runId = 0;
    std::int64_t m_lastEventId = 0;
    std::int64_t m_lastSampleId = 0;
    std::vector<std::string> m_rewardNames; // in the run's order
    std::map<std::int64_t, std::vector<Completion>> m_steps;
    // The samples table's rows by (step, prompt index, sample index): prompt and text.
    std::multimap<std::tuple<std::int64_t, std::int64_t, int>, std::pair<std::string, std::string>> m_prompts;
    std::int64_t m_filledStep = -1;
    std::size_t m_filledRows = 0;
};

} // namespace tunebench::ui
