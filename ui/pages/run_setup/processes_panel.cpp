#include "ui/pages/run_setup/processes_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

namespace tunebench::ui {

namespace {

// As DistributedConfig::fromJson bounds them.
constexpr int kMaxCount = 4096;

bool isLoopback(const QString& address)
{
    return address == QLatin1String("localhost") || address.startsWith(QLatin1String("127."))
        || address == QLatin1String("::1");
}

} // namespace

ProcessesPanel::ProcessesPanel(QWidget* parent)
    : QWidget(parent)
    , m_processes(new QSpinBox)
    , m_hosts(new QSpinBox)
    , m_hostRank(new QSpinBox)
    , m_masterAddress(new QLineEdit)
    , m_masterPort(new QSpinBox)
    , m_backend(new QComboBox)
    , m_timeout(new QDoubleSpinBox)
    , m_summary(new QLabel)
    , m_message(new QLabel)
{
    const DistributedConfig defaults;
    m_processes->setObjectName(QStringLiteral("processesPerHost"));
    m_processes->setRange(1, kMaxCount);
    m_processes->setToolTip(tr("Processes (ranks) this host starts; 1 trains in a single process"));
    m_hosts->setObjectName(QStringLiteral("processHosts"));
    m_hosts->setRange(1, kMaxCount);
    m_hosts->setToolTip(tr("Hosts taking part; each runs the same configuration with its own rank"));
    // Not bounded by the hosts: a rank past them is told, as the configuration check tells it.
    m_hostRank->setObjectName(QStringLiteral("processHostRank"));
    m_hostRank->setRange(0, kMaxCount - 1);
    m_hostRank->setToolTip(tr("This host's place, 0 to hosts - 1; host 0 runs rank 0 and the rendezvous"));
    m_masterAddress->setObjectName(QStringLiteral("processMasterAddress"));
    m_masterAddress->setToolTip(tr("Host 0's name or address, which every process connects to"));
    m_masterPort->setObjectName(QStringLiteral("processMasterPort"));
    m_masterPort->setRange(1, 65535);
    m_masterPort->setToolTip(tr("The rendezvous port on host 0"));
    m_backend->setObjectName(QStringLiteral("processBackend"));
    m_backend->addItem(tr("gloo (CPU)"), QStringLiteral("gloo"));
    m_backend->addItem(tr("nccl (CUDA GPUs)"), QStringLiteral("nccl"));
    m_timeout->setObjectName(QStringLiteral("processTimeout"));
    m_timeout->setRange(1, 86400);
    m_timeout->setDecimals(0);
    m_timeout->setSuffix(tr(" s"));
    m_timeout->setToolTip(tr("How long a collective, the rendezvous or a silent process is waited for before the "
                             "run fails"));
    m_summary->setObjectName(QStringLiteral("processesSummary"));
    m_summary->setWordWrap(true);
    m_message->setObjectName(QStringLiteral("processesMessage"));
    m_message->setWordWrap(true);
    m_message->setTextFormat(Qt::PlainText);

    auto* layout = new QFormLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addRow(tr("&Processes per host:"), m_processes);
    layout->addRow(tr("&Hosts:"), m_hosts);
    layout->addRow(tr("This host's &rank:"), m_hostRank);
    layout->addRow(tr("&Master address:"), m_masterAddress);
    layout->addRow(tr("Master p&ort:"), m_masterPort);
    layout->addRow(tr("&Backend:"), m_backend);
    layout->addRow(tr("&Timeout:"), m_timeout);
    layout->addRow(m_summary);
    layout->addRow(m_message);
    m_groupOnly = { m_hostRank, m_masterAddress, m_masterPort, m_backend, m_timeout };

    setSettings(defaults);
    for (QSpinBox* spin : { m_processes, m_hosts, m_hostRank, m_masterPort })
        connect(spin, &QSpinBox::valueChanged, this, &ProcessesPanel::editedUnlessUpdating);
    connect(m_timeout, &QDoubleSpinBox::valueChanged, this, &ProcessesPanel::editedUnlessUpdating);
    connect(m_backend, &QComboBox::currentIndexChanged, this, &ProcessesPanel::editedUnlessUpdating);
    // Typing is an edit; text set from code only changes what the group says.
    connect(m_masterAddress, &QLineEdit::textChanged, this, &ProcessesPanel::updateState);
    connect(m_masterAddress, &QLineEdit::textEdited, this, &ProcessesPanel::editedUnlessUpdating);
}

void ProcessesPanel::editedUnlessUpdating()
{
    updateState();
    if (!m_updating)
        Q_EMIT edited();
}

DistributedConfig ProcessesPanel::settings() const
{
    DistributedConfig d;
    d.nprocPerNode = m_processes->value();
    d.nnodes = m_hosts->value();
    d.nodeRank = m_hostRank->value();
    d.masterAddr = m_masterAddress->text().trimmed().toStdString();
    d.masterPort = m_masterPort->value();
    d.backend = m_backend->currentData().toString().toStdString();
    d.timeoutS = m_timeout->value();
    return d;
}

nlohmann::json ProcessesPanel::section() const
{
    const DistributedConfig d = settings();
    if (d.worldSize() == 1)
        return nullptr;
    // The process counts always, the rest where it is not the default: what a user would write.
    const nlohmann::json defaults = DistributedConfig().toJson();
    const nlohmann::json all = d.toJson();
    nlohmann::json s = nlohmann::json::object();
    for (const auto& [key, value] : all.items()) {
        if (key == "nproc_per_node" || key == "nnodes" || defaults.at(key) != value)
            s[key] = value;
    }
    return s;
}

void ProcessesPanel::setSettings(const DistributedConfig& d)
{
    const bool was = m_updating;
    m_updating = true;
    m_processes->setValue(static_cast<int>(d.nprocPerNode));
    m_hosts->setValue(static_cast<int>(d.nnodes));
    m_hostRank->setValue(static_cast<int>(d.nodeRank));
    m_masterAddress->setText(QString::fromStdString(d.masterAddr));
    m_masterPort->setValue(static_cast<int>(d.masterPort));
    const int backend = m_backend->findData(QString::fromStdString(d.backend));
    m_backend->setCurrentIndex(std::max(backend, 0));
    m_timeout->setValue(d.timeoutS);
    m_updating = was;
    updateState();
}

QString ProcessesPanel::problem() const
{
    const DistributedConfig d = settings();
    if (d.worldSize() == 1)
        return {};
    if (d.nodeRank >= d.nnodes)
        return tr("Processes: this host's rank (%1) must be below the number of hosts (%2).")
            .arg(d.nodeRank)
            .arg(d.nnodes);
    if (d.masterAddr.empty())
        return tr("Processes: give the master address (host 0's name or address).");
    if (m_masterAddress->text().trimmed().contains(QLatin1Char(' ')))
        return tr("Processes: the master address '%1' is not a host name or address.")
            .arg(m_masterAddress->text().trimmed());
    return {};
}

QString ProcessesPanel::warning() const
{
    const DistributedConfig d = settings();
    if (d.nnodes > 1 && isLoopback(QString::fromStdString(d.masterAddr)))
        return tr("Processes: with %1 hosts the master address must be one the other hosts reach; %2 is this "
                  "host's loopback.")
            .arg(d.nnodes)
            .arg(QString::fromStdString(d.masterAddr));
    return {};
}

void ProcessesPanel::updateState()
{
    const DistributedConfig d = settings();
    const bool group = d.worldSize() > 1;
    for (QWidget* w : m_groupOnly)
        w->setEnabled(group);
    m_masterAddress->setEnabled(group && d.nnodes > 1); // one host meets on loopback
    m_hostRank->setEnabled(group && d.nnodes > 1);
    if (!group)
        m_summary->setText(tr("A single process."));
    else
        m_summary->setText(tr("%1 processes in all; the global batch is the per-device batch \u00d7 %1 \u00d7 the "
                              "accumulation steps.")
                               .arg(d.worldSize()));
    const QString problemText = problem();
    const QString text = problemText.isEmpty() ? warning() : problemText;
    m_message->setText(text);
    m_message->setVisible(!text.isEmpty());
    m_message->setStyleSheet(problemText.isEmpty() ? QString() : QStringLiteral("color: #c62828;"));
}

} // namespace tunebench::ui
