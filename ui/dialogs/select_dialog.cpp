#include "ui/dialogs/select_dialog.h"

#include "core/data/dataset_select.h"
#include "core/data/model_selection.h"
#include "core/store/workspace.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace tunebench::ui {

namespace {

struct MethodInfo {
    const char* name;
    const char* title;
    const char* help;
};

// The order of the combo box and of the parameter pages.
const MethodInfo kMethods[] = {
    { "split", QT_TRANSLATE_NOOP("SelectDialog", "Train/eval split"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "Two new datasets: a seeded shuffle puts the eval share in one and the "
            "rest in the other.") },
    { "random", QT_TRANSLATE_NOOP("SelectDialog", "Random sample"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "A uniform sample: the baseline every other selection should be "
            "compared with.") },
    { "length", QT_TRANSLATE_NOOP("SelectDialog", "Length filter"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "Keeps records whose prompt + response length lies in the range "
            "(tokens with a tokenizer, words without).") },
    { "dedup", QT_TRANSLATE_NOOP("SelectDialog", "Exact duplicates"),
        QT_TRANSLATE_NOOP("SelectDialog", "Drops records equal to an earlier one.") },
    { "minhash", QT_TRANSLATE_NOOP("SelectDialog", "Near-duplicates (MinHash)"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "Drops records whose word shingles overlap an earlier record's by "
            "at least the Jaccard threshold (MinHash with LSH bands).") },
    { "kmeans", QT_TRANSLATE_NOOP("SelectDialog", "Diversity (k-means)"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "Clusters mean-pooled embeddings of a model and samples round-robin "
            "across the clusters.") },
    { "learnability", QT_TRANSLATE_NOOP("SelectDialog", "Learnability (loss)"),
        QT_TRANSLATE_NOOP("SelectDialog",
            "Keeps the records whose loss drops most in a short tune of the model "
            "(loss under the base model minus loss after).") },
};

QSpinBox* spin(int min, int max, int value)
{
    auto* s = new QSpinBox;
    s->setRange(min, max);
    s->setValue(value);
    return s;
}

QDoubleSpinBox* realSpin(double min, double max, double value, int decimals, double step)
{
    auto* s = new QDoubleSpinBox;
    s->setRange(min, max);
    s->setDecimals(decimals);
    s->setSingleStep(step);
    s->setValue(value);
    return s;
}

} // namespace

SelectDialog::SelectDialog(WorkspaceSession* session, const DatasetRecord& parent, QWidget* parentWidget)
    : QDialog(parentWidget)
    , m_session(session)
    , m_parent(parent)
{
    setWindowTitle(tr("Derive a dataset from #%1 %2").arg(QString::number(parent.id), userText(parent.name)));
    setObjectName(QStringLiteral("selectDialog"));
    m_method = new QComboBox;
    m_method->setObjectName(QStringLiteral("selectMethod"));
    for (const MethodInfo& m : kMethods)
        m_method->addItem(tr(m.title), QString::fromLatin1(m.name));
    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("selectName"));
    m_keep = new QLineEdit(QStringLiteral("50%"));
    m_keep->setObjectName(QStringLiteral("selectKeep"));
    m_keep->setToolTip(tr("A number of records (1000) or a share (10%)"));
    m_seed = spin(0, 1000000, 1);
    m_ratio = realSpin(0.01, 0.99, 0.1, 2, 0.05);
    m_minLength = spin(0, 1000000, 0);
    m_maxLength = spin(1, 1000000, 2048);
    m_tokenizer = new QLineEdit;
    m_tokenizer->setPlaceholderText(tr("a folder with tokenizer.json (empty: count words)"));
    m_threshold = realSpin(0.05, 1.0, 0.8, 2, 0.05);
    m_permutations = spin(8, 1024, 128);
    m_bands = spin(1, 1024, 32);
    m_shingle = spin(1, 16, 3);
    m_model = new QLineEdit;
    m_model->setObjectName(QStringLiteral("selectModel"));
    m_model->setPlaceholderText(tr("a model folder (config.json, safetensors, tokenizer.json)"));
    m_clusters = spin(1, 10000, 8);
    m_steps = spin(1, 10000, 10);
    m_lr = realSpin(1e-7, 1.0, 1e-4, 7, 1e-5);

    // One form with every parameter; a method shows the rows it reads.
    m_parameters = new QWidget;
    auto* form = new QFormLayout(m_parameters);
    struct Row {
        QWidget* field;
        QStringList methods;
    };
    const QStringList keepMethods
        = { QStringLiteral("random"), QStringLiteral("kmeans"), QStringLiteral("learnability") };
    const std::vector<std::pair<QString, Row>> rows = {
        { tr("Eval share:"), { m_ratio, { QStringLiteral("split") } } },
        { tr("Model:"), { m_model, { QStringLiteral("kmeans"), QStringLiteral("learnability") } } },
        { tr("Keep:"), { m_keep, keepMethods } },
        { tr("Shortest:"), { m_minLength, { QStringLiteral("length") } } },
        { tr("Longest:"), { m_maxLength, { QStringLiteral("length") } } },
        { tr("Tokenizer:"), { m_tokenizer, { QStringLiteral("length") } } },
        { tr("Jaccard threshold:"), { m_threshold, { QStringLiteral("minhash") } } },
        { tr("Hash functions:"), { m_permutations, { QStringLiteral("minhash") } } },
        { tr("LSH bands:"), { m_bands, { QStringLiteral("minhash") } } },
        { tr("Words per shingle:"), { m_shingle, { QStringLiteral("minhash") } } },
        { tr("Clusters:"), { m_clusters, { QStringLiteral("kmeans") } } },
        { tr("Tune steps:"), { m_steps, { QStringLiteral("learnability") } } },
        { tr("Learning rate:"), { m_lr, { QStringLiteral("learnability") } } },
        { tr("Seed:"),
            { m_seed,
                { QStringLiteral("split"), QStringLiteral("random"), QStringLiteral("minhash"),
                    QStringLiteral("kmeans"), QStringLiteral("learnability") } } },
    };
    for (const auto& [label, row] : rows)
        form->addRow(label, row.field);
    auto fill = [form, rows](int index) {
        const QString name = QString::fromLatin1(kMethods[index].name);
        for (const auto& [label, row] : rows)
            form->setRowVisible(row.field, row.methods.contains(name));
    };
    m_help = new QLabel;
    m_help->setWordWrap(true);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("selectStatus"));
    m_status->setWordWrap(true);
    makePlainLabel(m_status); // messages quote names and records

    auto* top = new QFormLayout;
    top->addRow(tr("&Method:"), m_method);
    top->addRow(tr("&Name:"), m_name);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
    auto* runButton = buttons->addButton(tr("&Create dataset"), QDialogButtonBox::AcceptRole);
    runButton->setObjectName(QStringLiteral("selectRun"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_help);
    layout->addWidget(m_parameters);
    layout->addStretch(1);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(520, 420);

    auto onMethod = [this, fill](int index) {
        fill(index);
        m_help->setText(tr(kMethods[index].help));
        m_name->setPlaceholderText(
            QString::fromStdString(m_parent.name) + QLatin1Char('-') + QString::fromLatin1(kMethods[index].name));
    };
    connect(m_method, &QComboBox::currentIndexChanged, this, onMethod);
    onMethod(0);
    connect(runButton, &QPushButton::clicked, this, [this] {
        if (run())
            accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

void SelectDialog::setMethod(const QString& method)
{
    const int i = m_method->findData(method);
    if (i >= 0)
        m_method->setCurrentIndex(i);
}

QString SelectDialog::method() const
{
    return m_method->currentData().toString();
}

void SelectDialog::setKeep(const QString& keep)
{
    m_keep->setText(keep);
}

void SelectDialog::setModelFolder(const QString& dir)
{
    m_model->setText(dir);
}

QString SelectDialog::statusText() const
{
    return m_status->text();
}

nlohmann::json SelectDialog::parameters() const
{
    const QString m = method();
    nlohmann::json p = nlohmann::json::object();
    auto keep = [&] {
        const QString text = m_keep->text().trimmed();
        if (text.endsWith(QLatin1Char('%')))
            p["fraction"] = text.chopped(1).toDouble() / 100.0;
        else
            p["count"] = text.toLongLong();
    };
    if (m == QLatin1String("split")) {
        p["ratio"] = m_ratio->value();
    } else if (m == QLatin1String("random")) {
        keep();
    } else if (m == QLatin1String("length")) {
        p["min"] = m_minLength->value();
        p["max"] = m_maxLength->value();
        if (!m_tokenizer->text().isEmpty())
            p["tokenizer"] = m_tokenizer->text().toStdString();
    } else if (m == QLatin1String("minhash")) {
        p["threshold"] = m_threshold->value();
        p["permutations"] = m_permutations->value();
        p["bands"] = m_bands->value();
        p["shingle"] = m_shingle->value();
    } else if (m == QLatin1String("kmeans")) {
        p["model"] = m_model->text().toStdString();
        p["clusters"] = m_clusters->value();
        keep();
    } else if (m == QLatin1String("learnability")) {
        p["model"] = m_model->text().toStdString();
        p["steps"] = m_steps->value();
        p["lr"] = m_lr->value();
        keep();
    }
    if (m != QLatin1String("dedup") && m != QLatin1String("length"))
        p["seed"] = m_seed->value();
    return p;
}

bool SelectDialog::run()
{
    Workspace* ws = m_session->workspace();
    if (!ws)
        return false;
    m_created.clear();
    m_status->setStyleSheet(QString());
    m_status->setText(tr("Working\u2026"));
    QApplication::setOverrideCursor(Qt::WaitCursor);
    QApplication::processEvents();
    try {
        const nlohmann::json p = parameters();
        if (method() == QLatin1String("split")) {
            auto [train, eval]
                = splitDataset(*ws, m_parent.id, p["ratio"].get<double>(), p["seed"].get<std::uint64_t>());
            m_created = { train, eval };
        } else {
            m_created = { selectDataset(*ws, m_parent.id, method().toStdString(), p, m_name->text().toStdString()) };
        }
    } catch (const std::exception& e) {
        QApplication::restoreOverrideCursor();
        m_status->setStyleSheet(QStringLiteral("color: #b42318;"));
        m_status->setText(userText(std::string(e.what()), /*multiLine=*/true));
        return false;
    }
    QApplication::restoreOverrideCursor();
    QStringList made;
    for (const DatasetRecord& d : m_created)
        made << tr("#%1 %2 (%3 records)").arg(QString::number(d.id), userText(d.name), QString::number(d.records));
    m_status->setText(tr("Created %1.").arg(made.join(QStringLiteral(", "))));
    m_session->notifyChanged();
    return true;
}

} // namespace tunebench::ui
