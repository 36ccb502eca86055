#include "ui/pages/monitor/completions_panel.h"

#include "core/store/artifacts.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/widgets/user_text.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace tunebench::ui {

CompletionsPanel::CompletionsPanel(QWidget* parent)
    : QWidget(parent)
    , m_stepPicker(new QComboBox)
    , m_table(new QTableWidget(0, 3))
{
    m_stepPicker->setObjectName(QStringLiteral("completionsStep"));
    m_stepPicker->setToolTip(tr("The training step whose sampled completions the table shows; the newest while "
                                "it is picked"));
    connect(m_stepPicker, &QComboBox::currentIndexChanged, this, &CompletionsPanel::fillTable);
    m_table->setObjectName(QStringLiteral("completionsTable"));
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(true);
    m_table->setSortingEnabled(false);
    m_table->setColumnWidth(0, 220);
    m_table->setColumnWidth(1, 320);
    auto* bar = new QHBoxLayout;
    auto* title = new QLabel(tr("<b>Completions with their rewards</b> (sampled for training) at step"));
    title->setBuddy(m_stepPicker);
    bar->addWidget(title);
    bar->addWidget(m_stepPicker);
    bar->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_table, 1);
}

void CompletionsPanel::reset(std::int64_t runId)
{
    m_runId = runId;
    m_lastEventId = 0;
    m_lastSampleId = 0;
    m_rewardNames.clear();
    m_steps.clear();
    m_prompts.clear();
    m_filledStep = -1;
    m_filledRows = 0;
    {
        const QSignalBlocker blocker(m_stepPicker);
        m_stepPicker->clear();
    }
    m_table->setRowCount(0);
}

void CompletionsPanel::readRewardNames(Workspace& ws)
{
    // The stored configuration lists the rewards in the run's order, each with its name (rewardsToJson).
    const auto run = RunStore(ws.db()).find(m_runId);
    if (!run)
        return;
    const nlohmann::json config = nlohmann::json::parse(run->configJson, nullptr, false);
    if (!config.is_object() || !config.contains("rewards") || !config["rewards"].is_array())
        return;
    for (const nlohmann::json& r : config["rewards"]) {
        if (r.is_object() && r.contains("name") && r["name"].is_string())
            m_rewardNames.push_back(r["name"].get<std::string>());
    }
}

void CompletionsPanel::follow(Workspace& ws)
{
    if (m_runId <= 0)
        return;
    bool grown = false;
    for (const EventRecord& e : RunStore(ws.db()).events(m_runId, m_lastEventId)) {
        m_lastEventId = std::max(m_lastEventId, e.id);
        if (e.kind != "completions")
            continue;
        const nlohmann::json event = nlohmann::json::parse(e.payloadJson, nullptr, false);
        if (!event.is_object() || !event.contains("step") || !event["step"].is_number_integer()
            || !event.contains("completions") || !event["completions"].is_array())
            continue;
        std::vector<Completion> list;
        for (const nlohmann::json& c : event["completions"]) {
            if (!c.is_object())
                continue;
            Completion row;
            row.example = c.value("example", std::int64_t(0));
            row.sampleIndex = c.value("sample_index", 0);
            row.text = c.value("text", std::string());
            row.total = c.value("reward", 0.0);
            if (const auto r = c.find("rewards"); r != c.end() && r->is_object()) {
                for (const auto& [name, value] : r->items()) {
                    if (value.is_number())
                        row.rewards[name] = value.get<double>();
                }
            }
            list.push_back(std::move(row));
        }
        // A resumed run samples the steps after its checkpoint again: the later completions stand.
        m_steps[event["step"].get<std::int64_t>()] = std::move(list);
        grown = true;
    }
    for (const SampleRecord& s : ArtifactStore(ws.db()).samplesAfter(m_runId, m_lastSampleId)) {
        m_lastSampleId = std::max(m_lastSampleId, s.id);
        m_prompts.insert({ { s.step, s.promptIndex, s.sampleIndex }, { s.prompt, s.text } });
        grown = true;
    }
    if (!grown)
        return;
    if (m_rewardNames.empty())
        readRewardNames(ws);
    // Names a configuration does not list (one written by hand, say) still get a column.
    for (const auto& [step, list] : m_steps) {
        for (const Completion& c : list) {
            for (const auto& [name, value] : c.rewards) {
                if (std::find(m_rewardNames.begin(), m_rewardNames.end(), name) == m_rewardNames.end())
                    m_rewardNames.push_back(name);
            }
        }
    }
    updatePicker();
    m_filledStep = -1; // the shown step's prompts may have arrived after its scores
    fillTable();
}

void CompletionsPanel::updatePicker()
{
    const qsizetype count = m_stepPicker->count();
    // The newest step stays picked as newer ones arrive; a step the user picked stays.
    const bool followNewest = count == 0 || m_stepPicker->currentIndex() == count - 1;
    const std::int64_t picked = shownStep();
    const QSignalBlocker blocker(m_stepPicker);
    m_stepPicker->clear();
    for (const auto& [step, list] : m_steps)
        m_stepPicker->addItem(QString::number(step), QVariant::fromValue<qint64>(step));
    int index = followNewest ? -1 : m_stepPicker->findData(QVariant::fromValue<qint64>(picked));
    if (index < 0)
        index = m_stepPicker->count() - 1;
    m_stepPicker->setCurrentIndex(index);
}

std::int64_t CompletionsPanel::shownStep() const
{
    const QVariant step = m_stepPicker->currentData();
    return step.isValid() ? step.value<qint64>() : 0;
}

bool CompletionsPanel::showStep(std::int64_t step)
{
    const int index = m_stepPicker->findData(QVariant::fromValue<qint64>(step));
    if (index >= 0)
        m_stepPicker->setCurrentIndex(index);
    fillTable();
    return index >= 0;
}

std::string CompletionsPanel::promptOf(std::int64_t step, const Completion& c) const
{
    const auto [first, last] = m_prompts.equal_range({ step, c.example, c.sampleIndex });
    for (auto it = first; it != last; ++it) {
        if (it->second.second == c.text) // not a measure's sample that shares the indices
            return it->second.first;
    }
    return {};
}

void CompletionsPanel::fillTable()
{
    const std::int64_t step = shownStep();
    const auto it = m_steps.find(step);
    const std::size_t rows = it == m_steps.end() ? 0 : it->second.size();
    if (step == m_filledStep && rows == m_filledRows
        && m_table->columnCount() == static_cast<int>(m_rewardNames.size()) + 3)
        return;
    m_filledStep = step;
    m_filledRows = rows;
    QStringList headers { tr("Prompt"), tr("Completion") };
    for (const std::string& name : m_rewardNames)
        headers << userText(name);
    headers << tr("Total");
    m_table->setColumnCount(static_cast<int>(headers.size()));
    m_table->setHorizontalHeaderLabels(headers);
    m_table->setRowCount(static_cast<int>(rows));
    if (it == m_steps.end())
        return;
    auto number = [](double value) {
        auto* item = new QTableWidgetItem;
        item->setData(Qt::DisplayRole, value);
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        return item;
    };
    int row = 0;
    for (const Completion& c : it->second) {
        const std::string prompt = promptOf(step, c);
        auto* promptItem = new QTableWidgetItem(userText(prompt));
        promptItem->setToolTip(userToolTip(prompt));
        m_table->setItem(row, 0, promptItem);
        auto* textItem = new QTableWidgetItem(userText(c.text));
        textItem->setToolTip(userToolTip(c.text));
        m_table->setItem(row, 1, textItem);
        int column = 2;
        for (const std::string& name : m_rewardNames) {
            const auto score = c.rewards.find(name);
            m_table->setItem(
                row, column++, score == c.rewards.end() ? new QTableWidgetItem(QString()) : number(score->second));
        }
        m_table->setItem(row, column, number(c.total));
        ++row;
    }
}

} // namespace tunebench::ui
