#include "ui/pages/run_setup/rewards_panel.h"

#include "core/method/plugin_registry.h"
#include "ui/widgets/schema_form.h"
#include "ui/widgets/user_text.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <exception>
#include <map>

namespace tunebench::ui {

namespace {

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

} // namespace

RewardsPanel::RewardsPanel(QWidget* parent)
    : QWidget(parent)
    , m_list(new QVBoxLayout)
    , m_add(new QPushButton(tr("&Add reward")))
    , m_empty(new QLabel(tr("No reward functions yet: an online objective scores its completions with them.")))
    , m_message(new QLabel)
{
    m_add->setObjectName(QStringLiteral("addRewardButton"));
    m_add->setToolTip(tr("Adds a reward function; pick its type and parameters below"));
    connect(m_add, &QPushButton::clicked, this, [this] {
        addReward();
        editedUnlessUpdating();
    });
    m_empty->setWordWrap(true);
    m_message->setObjectName(QStringLiteral("rewardsMessage"));
    m_message->setWordWrap(true);
    makePlainLabel(m_message); // the check quotes the user's patterns
    m_message->setStyleSheet(QStringLiteral("color: #c62828;"));
    m_message->hide();
    m_list->setContentsMargins(0, 0, 0, 0);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_empty);
    layout->addLayout(m_list);
    layout->addWidget(m_message);
    layout->addWidget(m_add, 0, Qt::AlignLeft);
}

int RewardsPanel::addReward(const QString& type)
{
    Entry e;
    e.box = new QFrame;
    static_cast<QFrame*>(e.box)->setFrameShape(QFrame::StyledPanel);
    e.type = new QComboBox;
    for (const PluginInfo& p : defaultPluginRegistry().plugins()) {
        if (p.kind != PluginKind::Reward)
            continue;
        e.type->addItem(qs(p.name), qs(p.name));
        e.type->setItemData(e.type->count() - 1, qs(p.summary), Qt::ToolTipRole);
    }
    const int index = e.type->findData(type);
    e.type->setCurrentIndex(index >= 0 ? index : 0);
    e.weight = new QDoubleSpinBox;
    e.weight->setRange(-1e6, 1e6);
    e.weight->setDecimals(4);
    e.weight->setSingleStep(0.1);
    e.weight->setValue(1.0);
    e.weight->setToolTip(tr("The reward's weight in the total a completion is scored by"));
    e.name = new QLineEdit;
    e.name->setToolTip(tr("What its metric is called (rewards/<name>); empty: the type, numbered when repeated"));
    e.remove = new QPushButton(tr("Remove"));
    e.summary = new QLabel;
    e.summary->setWordWrap(true);
    e.form = new SchemaForm;
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Type:")));
    row->addWidget(e.type, 1);
    row->addWidget(new QLabel(tr("Weight:")));
    row->addWidget(e.weight);
    row->addWidget(new QLabel(tr("Name:")));
    row->addWidget(e.name);
    row->addWidget(e.remove);
    auto* boxLayout = new QVBoxLayout(e.box);
    boxLayout->addLayout(row);
    boxLayout->addWidget(e.summary);
    boxLayout->addWidget(e.form);
    m_list->addWidget(e.box);
    m_entries.push_back(e);
    const int at = count() - 1;
    nameEntries();
    buildForm(m_entries.back());

    QWidget* box = e.box;
    const auto indexOf = [this, box] {
        for (std::size_t i = 0; i < m_entries.size(); ++i) {
            if (m_entries[i].box == box)
                return static_cast<int>(i);
        }
        return -1;
    };
    connect(e.type, &QComboBox::currentIndexChanged, this, [this, indexOf] {
        if (const int i = indexOf(); i >= 0)
            buildForm(m_entries[static_cast<std::size_t>(i)]);
        editedUnlessUpdating();
    });
    connect(e.weight, &QDoubleSpinBox::valueChanged, this, &RewardsPanel::editedUnlessUpdating);
    connect(e.name, &QLineEdit::textEdited, this, &RewardsPanel::editedUnlessUpdating);
    connect(e.form, &SchemaForm::edited, this, &RewardsPanel::editedUnlessUpdating);
    connect(e.remove, &QPushButton::clicked, this, [this, indexOf] {
        if (const int i = indexOf(); i >= 0) {
            removeReward(i);
            editedUnlessUpdating();
        }
    });
    m_empty->setVisible(m_entries.empty());
    check();
    return at;
}

void RewardsPanel::removeReward(int index)
{
    if (index < 0 || index >= count())
        return;
    m_entries[static_cast<std::size_t>(index)].box->deleteLater();
    m_entries[static_cast<std::size_t>(index)].box->hide();
    m_list->removeWidget(m_entries[static_cast<std::size_t>(index)].box);
    m_entries.erase(m_entries.begin() + index);
    nameEntries();
    m_empty->setVisible(m_entries.empty());
    check();
}

void RewardsPanel::nameEntries()
{
    // Object names follow the position, as a test or an accessibility tool finds the entries.
    for (int i = 0; i < count(); ++i) {
        const Entry& x = m_entries[static_cast<std::size_t>(i)];
        x.type->setObjectName(QStringLiteral("rewardType%1").arg(i));
        x.weight->setObjectName(QStringLiteral("rewardWeight%1").arg(i));
        x.name->setObjectName(QStringLiteral("rewardName%1").arg(i));
        x.form->setObjectName(QStringLiteral("rewardForm%1").arg(i));
        x.remove->setObjectName(QStringLiteral("removeReward%1").arg(i));
    }
}

void RewardsPanel::buildForm(Entry& entry)
{
    const PluginInfo* p
        = defaultPluginRegistry().find(PluginKind::Reward, entry.type->currentData().toString().toStdString());
    entry.form->setSchema(p ? p->schema : ParameterSchema());
    entry.summary->setText(p ? qs(p->summary) : QString());
    entry.summary->setVisible(p && !p->summary.empty());
}

nlohmann::json RewardsPanel::rewards() const
{
    nlohmann::json list = nlohmann::json::array();
    for (const Entry& e : m_entries) {
        nlohmann::json entry = { { "type", e.type->currentData().toString().toStdString() } };
        if (const QString name = e.name->text().trimmed(); !name.isEmpty())
            entry["name"] = name.toStdString();
        entry["weight"] = e.weight->value();
        entry.update(e.form->changedValues());
        list.push_back(std::move(entry));
    }
    return list;
}

void RewardsPanel::setRewards(const std::vector<RewardSpec>& specs)
{
    const bool was = m_updating;
    m_updating = true;
    while (count() > static_cast<int>(specs.size()))
        removeReward(count() - 1);
    while (count() < static_cast<int>(specs.size()))
        addReward();
    // The names parseRewards gives entries without one: such a name is left out again.
    std::map<std::string, int> typeCount;
    for (const RewardSpec& s : specs)
        ++typeCount[s.type];
    std::map<std::string, int> typeSeen;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const RewardSpec& s = specs[i];
        Entry& e = m_entries[i];
        const int type = e.type->findData(qs(s.type));
        if (type >= 0 && type != e.type->currentIndex())
            e.type->setCurrentIndex(type); // rebuilds the form
        e.form->setValues(s.params);
        e.weight->setValue(s.weight);
        std::string defaultName = s.type;
        if (typeCount[s.type] > 1)
            defaultName += "_" + std::to_string(++typeSeen[s.type]);
        e.name->setText(s.name == defaultName ? QString() : qs(s.name));
    }
    m_updating = was;
    check();
}

void RewardsPanel::check()
{
    m_problem.clear();
    try {
        parseRewards(rewards(), defaultPluginRegistry(), "configuration");
    } catch (const std::exception& e) {
        m_problem = QString::fromUtf8(e.what());
    }
    m_message->setText(userText(m_problem, /*multiLine=*/true));
    m_message->setVisible(!m_problem.isEmpty());
}

void RewardsPanel::editedUnlessUpdating()
{
    check();
    if (!m_updating)
        Q_EMIT edited();
}

} // namespace tunebench::ui
