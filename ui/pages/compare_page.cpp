#include "ui/pages/compare_page.h"

#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/widgets/empty_state.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>

namespace tunebench::ui {

namespace {

constexpr int kRunIdRole = Qt::UserRole + 1;

bool sameConfigs(const std::vector<ConfigDiffModel::Config>& a, const std::vector<ConfigDiffModel::Config>& b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
        [](const auto& x, const auto& y) { return x.label == y.label && x.json == y.json; });
}

} // namespace

ComparePage::ComparePage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_diff(new ConfigDiffModel(this))
{
    m_runList = new QListWidget;
    m_runList->setObjectName(QStringLiteral("compareRunList"));
    connect(m_runList, &QListWidget::itemChanged, this, &ComparePage::onItemChanged);
    auto* listPanel = new QWidget;
    auto* listLayout = new QVBoxLayout(listPanel);
    listLayout->setContentsMargins(0, 0, 0, 0);
    listLayout->addWidget(new QLabel(tr("Check the runs to compare:")));
    listLayout->addWidget(m_runList, 1);

    m_onlyDifferences = new QCheckBox(tr("Only &differences"));
    m_onlyDifferences->setObjectName(QStringLiteral("compareOnlyDifferences"));
    connect(m_onlyDifferences, &QCheckBox::toggled, m_diff, &ConfigDiffModel::setOnlyDifferences);
    m_summary = new QLabel;
    m_summary->setObjectName(QStringLiteral("compareSummary"));
    m_diffTable = new QTableView;
    m_diffTable->setObjectName(QStringLiteral("compareDiffTable"));
    m_diffTable->setModel(m_diff);
    m_diffTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_diffTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_diffTable->verticalHeader()->hide();
    m_diffTable->horizontalHeader()->setStretchLastSection(true);
    m_diffTable->setWordWrap(false);
    m_diffState = new EmptyState(m_diffTable);
    auto* diffPanel = new QWidget;
    auto* diffLayout = new QVBoxLayout(diffPanel);
    diffLayout->setContentsMargins(0, 0, 0, 0);
    auto* diffBar = new QHBoxLayout;
    diffBar->addWidget(m_onlyDifferences);
    diffBar->addStretch();
    diffBar->addWidget(m_summary);
    diffLayout->addLayout(diffBar);
    diffLayout->addWidget(m_diffState, 1);

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(listPanel);
    split->addWidget(diffPanel);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 3);
    m_pageState = new EmptyState(split);
    m_pageState->setObjectName(QStringLiteral("comparePageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_pageState);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &ComparePage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &ComparePage::refresh);
    reload();
}

bool ComparePage::setRunChecked(std::int64_t runId, bool checked)
{
    for (int i = 0; i < m_runList->count(); ++i) {
        QListWidgetItem* item = m_runList->item(i);
        if (item->data(kRunIdRole).value<qint64>() == runId) {
            item->setCheckState(checked ? Qt::Checked : Qt::Unchecked); // itemChanged updates the diff
            return true;
        }
    }
    return false;
}

QList<std::int64_t> ComparePage::checkedRunIds() const
{
    QList<std::int64_t> ids;
    for (const Entry& entry : m_entries) {
        if (m_checked.contains(entry.id))
            ids.append(entry.id);
    }
    return ids;
}

void ComparePage::reload()
{
    m_checked.clear();
    refresh();
}

void ComparePage::refresh()
{
    std::vector<Entry> entries;
    if (Workspace* ws = m_session->workspace()) {
        try {
            for (const RunRecord& run : RunStore(ws->db()).list()) {
                const std::string_view status = toString(run.status);
                entries.push_back({ run.id,
                    QStringLiteral("#%1 %2 (%3)")
                        .arg(run.id)
                        .arg(QString::fromStdString(run.name),
                            QString::fromUtf8(status.data(), static_cast<qsizetype>(status.size()))),
                    run.configJson });
            }
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read the runs: %1").arg(QString::fromUtf8(e.what())));
            return;
        }
    }
    if (!m_session->isOpen()) {
        m_pageState->showMessage(EmptyState::noWorkspaceText());
    } else if (entries.empty()) {
        m_pageState->showMessage(tr("<p><b>This workspace has no runs to compare yet.</b></p>"
                                    "<p>Once it has two or more runs, check them here to see how their "
                                    "configurations differ.</p>"));
    } else {
        m_pageState->showContent();
    }
    // Rebuilding the list only when it changed keeps its scroll position while runs train.
    if (entries != m_entries) {
        QSet<std::int64_t> present;
        const QSignalBlocker blocker(m_runList);
        m_runList->clear();
        for (const Entry& entry : entries) {
            auto* item = new QListWidgetItem(entry.label, m_runList);
            item->setData(kRunIdRole, QVariant::fromValue<qint64>(entry.id));
            item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
            item->setCheckState(m_checked.contains(entry.id) ? Qt::Checked : Qt::Unchecked);
            present.insert(entry.id);
        }
        m_checked.intersect(present); // deleted runs leave the comparison
        m_entries = std::move(entries);
    }
    updateDiff();
}

void ComparePage::onItemChanged(QListWidgetItem* item)
{
    const auto id = static_cast<std::int64_t>(item->data(kRunIdRole).value<qint64>());
    if (item->checkState() == Qt::Checked)
        m_checked.insert(id);
    else
        m_checked.remove(id);
    updateDiff();
}

void ComparePage::updateDiff()
{
    std::vector<ConfigDiffModel::Config> configs;
    for (const Entry& entry : m_entries) {
        if (m_checked.contains(entry.id))
            configs.push_back({ entry.label, entry.configJson });
    }
    if (configs.size() < 2) {
        m_shownConfigs.clear();
        m_diff->setConfigs({});
        m_summary->clear();
        m_diffState->showMessage(tr("Check two or more runs to compare their configurations."));
        return;
    }
    m_diffState->showContent();
    if (sameConfigs(configs, m_shownConfigs))
        return; // a reset would lose the table's scroll position for nothing
    m_diff->setConfigs(configs);
    m_shownConfigs = std::move(configs);
    m_diffTable->resizeColumnsToContents();
    m_summary->setText(tr("%1 of %2 keys differ").arg(m_diff->differenceCount()).arg(m_diff->keyCount()));
}

} // namespace tunebench::ui
