#include "ui/about_dialog.h"

#include "core/method/plugin_registry.h"
#include "core/version.h"
#include "ui/widgets/qcustomplot_include.h"
#include "ui/widgets/user_text.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace tunebench::ui {

QList<QPair<QString, QString>> AboutDialog::versions()
{
    // Qt's runtime version may differ from the one built against; both matter in a bug report.
    QString qt = QString::fromLatin1(qVersion());
    if (qt != QLatin1String(QT_VERSION_STR))
        qt += tr(" (built with %1)").arg(QLatin1String(QT_VERSION_STR));
    return {
        { tr("Tunebench"), QString::fromStdString(tunebenchVersion()) },
        { tr("Qt"), qt },
        { tr("LibTorch"), QString::fromStdString(torchVersion()) },
        { tr("SQLite"), QString::fromStdString(sqliteVersion()) },
        { tr("QCustomPlot"), QStringLiteral(QCUSTOMPLOT_VERSION_STR) },
        { tr("CUDA available"), cudaAvailable() ? tr("yes") : tr("no") },
    };
}

AboutDialog::AboutDialog(QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("About Tunebench"));
    setMinimumWidth(560);
    auto* heading = new QLabel(tr("<h2>Tunebench</h2>"
                                  "<p>A workbench for fine-tuning experiments on language models.</p>"));
    heading->setWordWrap(true);

    auto* form = new QFormLayout;
    for (const auto& [component, version] : versions()) {
        auto* value = new QLabel(version);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        value->setObjectName(QStringLiteral("version:") + component);
        form->addRow(component + QLatin1Char(':'), value);
    }

    // The method plugins found, and those that could not be used with the reason (a library that crashed or hung
    // while loading was kept out of this process by the probe). Plain text items: names come from files.
    auto* plugins = new QTreeWidget;
    plugins->setObjectName(QStringLiteral("pluginList"));
    plugins->setRootIsDecorated(false);
    plugins->setHeaderLabels({ tr("Kind"), tr("Name"), tr("Version"), tr("PEFT"), tr("File or reason") });
    const PluginRegistry& registry = defaultPluginRegistry();
    for (const PluginInfo& p : registry.plugins()) {
        plugins->addTopLevelItem(new QTreeWidgetItem({ QString::fromUtf8(toString(p.kind).data()), userText(p.name),
            userText(p.version), userText(p.peftType), userText(p.path.string()) }));
    }
    for (const BrokenPlugin& b : registry.broken()) {
        auto* item
            = new QTreeWidgetItem({ tr("broken"), userText(b.path.filename().string()), {}, {}, userText(b.reason) });
        item->setToolTip(1, userToolTip(b.path.string()));
        item->setForeground(0, palette().color(QPalette::Disabled, QPalette::Text));
        plugins->addTopLevelItem(item);
    }
    plugins->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    plugins->setMinimumHeight(160);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(heading);
    layout->addLayout(form);
    layout->addWidget(new QLabel(tr("Method plugins:")));
    layout->addWidget(plugins);
    layout->addWidget(buttons);
}

} // namespace tunebench::ui
