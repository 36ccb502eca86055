#include "ui/about_dialog.h"

#include "core/version.h"
#include "ui/widgets/qcustomplot_include.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
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
    setMinimumWidth(380);
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

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(heading);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

} // namespace tunebench::ui
