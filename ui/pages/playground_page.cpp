#include "ui/pages/playground_page.h"

#include "core/method/plugin_registry.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStyle>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentMap>

#include <exception>
#include <filesystem>
#include <limits>

namespace tunebench::ui {

namespace {

namespace fs = std::filesystem;

struct Request {
    int column = 0;
    QString modelDir;
    QString adapterDir; // empty: the base model
    QString prompt;
    bool chatTemplate = true;
    GenerationOptions options;
};

PlaygroundOutput runRequest(const Request& request)
{
    PlaygroundOutput out;
    out.column = request.column;
    QElapsedTimer timer;
    timer.start();
    try {
        const fs::path dir(request.modelDir.toStdString());
        auto model = loadCausalLM(dir);
        const Tokenizer tokenizer = Tokenizer::fromFolder(dir);
        std::unique_ptr<Adapter> adapter;
        if (!request.adapterDir.isEmpty())
            adapter = loadRunAdapter(fs::path(request.adapterDir.toStdString()), *model, defaultPluginRegistry(), dir);
        std::vector<std::int32_t> ids;
        std::string text = request.prompt.toStdString();
        bool templated = false;
        if (request.chatTemplate) {
            std::optional<ChatTemplate> chat;
            try {
                chat.emplace(ChatTemplate::fromFolder(dir));
            } catch (const std::exception&) {
                // No template in this folder: the prompt goes in as plain text.
            }
            if (chat) {
                nlohmann::ordered_json messages = nlohmann::ordered_json::array();
                messages.push_back({ { "role", "user" }, { "content", text } });
                text = chat->render(messages, true);
                ids = tokenizer.encode(text);
                templated = true;
            }
        }
        if (!templated)
            ids = tokenizer.encode(text, /*addSpecialTokens=*/true);
        if (ids.empty() && tokenizer.bosId())
            ids.push_back(*tokenizer.bosId());
        if (ids.empty())
            throw InputError("the prompt encodes to no tokens and the tokenizer has no BOS token to start from");
        out.prompt = QString::fromStdString(text);
        GenerationOptions options = request.options;
        options.eosTokenIds = model->config().eosTokenIds;
        if (tokenizer.eosId())
            options.eosTokenIds.push_back(*tokenizer.eosId());
        const auto generated = generate(*model, { ids }, options);
        out.tokens = static_cast<std::int64_t>(generated.front().tokens.size());
        out.text = QString::fromStdString(tokenizer.decode(generated.front().tokens, /*skipSpecialTokens=*/true));
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    out.seconds = static_cast<double>(timer.elapsed()) / 1000.0;
    return out;
}

} // namespace

PlaygroundPage::PlaygroundPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
{
    defaultPluginRegistry(); // loaded on the GUI thread before any task reads it

    m_prompt = new QPlainTextEdit;
    m_prompt->setObjectName(QStringLiteral("playgroundPrompt"));
    m_prompt->setPlaceholderText(tr("A prompt for every model\u2026"));
    m_prompt->setFixedHeight(m_prompt->fontMetrics().lineSpacing() * 5 + 12);

    m_baseModel = new QLineEdit;
    m_baseModel->setObjectName(QStringLiteral("playgroundModel"));
    m_baseModel->setPlaceholderText(tr("Base model folder (default: the first chosen run's model)"));
    auto* browse = new QPushButton(tr("Browse\u2026"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Base model folder"), m_baseModel->text());
        if (!dir.isEmpty())
            m_baseModel->setText(dir);
    });
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(m_baseModel, 1);
    modelRow->addWidget(browse);

    auto* runsRow = new QHBoxLayout;
    for (int i = 0; i < kRunColumns; ++i) {
        m_runCombos[static_cast<std::size_t>(i)] = new QComboBox;
        m_runCombos[static_cast<std::size_t>(i)]->setObjectName(QStringLiteral("playgroundRun%1").arg(i + 1));
        m_runCombos[static_cast<std::size_t>(i)]->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        runsRow->addWidget(m_runCombos[static_cast<std::size_t>(i)], 1);
    }

    m_temperature = new QDoubleSpinBox;
    m_temperature->setObjectName(QStringLiteral("temperature"));
    m_temperature->setRange(0.0, 5.0);
    m_temperature->setSingleStep(0.1);
    m_temperature->setValue(0.7);
    m_temperature->setToolTip(tr("0: greedy decoding"));
    m_topP = new QDoubleSpinBox;
    m_topP->setObjectName(QStringLiteral("topP"));
    m_topP->setRange(0.01, 1.0);
    m_topP->setSingleStep(0.05);
    m_topP->setValue(0.95);
    m_topP->setToolTip(tr("Nucleus sampling; 1: off"));
    m_topK = new QSpinBox;
    m_topK->setObjectName(QStringLiteral("topK"));
    m_topK->setRange(0, 100000);
    m_topK->setValue(50);
    m_topK->setToolTip(tr("0: off"));
    m_maxNewTokens = new QSpinBox;
    m_maxNewTokens->setObjectName(QStringLiteral("maxNewTokens"));
    m_maxNewTokens->setRange(1, 8192);
    m_maxNewTokens->setValue(128);
    m_seed = new QSpinBox;
    m_seed->setObjectName(QStringLiteral("seed"));
    m_seed->setRange(0, std::numeric_limits<int>::max());
    m_seed->setValue(42);
    m_chatTemplate = new QCheckBox(tr("Use the chat template"));
    m_chatTemplate->setObjectName(QStringLiteral("useChatTemplate"));
    m_chatTemplate->setChecked(true);
    m_chatTemplate->setToolTip(
        tr("Wrap the prompt as a user message with the model's chat template, when it has one."));
    // Two rows, so the page stays narrow enough for a small window.
    auto* sampling = new QGridLayout;
    int setting = 0;
    auto addSetting = [sampling, &setting](const QString& label, QWidget* w) {
        auto* l = new QLabel(label);
        l->setBuddy(w);
        sampling->addWidget(l, setting / 3, 2 * (setting % 3));
        sampling->addWidget(w, setting / 3, 2 * (setting % 3) + 1);
        ++setting;
    };
    addSetting(tr("&Temperature:"), m_temperature);
    addSetting(tr("Top-&p:"), m_topP);
    addSetting(tr("Top-&k:"), m_topK);
    addSetting(tr("Max &new tokens:"), m_maxNewTokens);
    addSetting(tr("S&eed:"), m_seed);
    sampling->addWidget(m_chatTemplate, 1, 4, 1, 2);
    sampling->setColumnStretch(6, 1);

    m_generate = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Generate"));
    m_generate->setObjectName(QStringLiteral("generateButton"));
    connect(m_generate, &QPushButton::clicked, this, &PlaygroundPage::generate);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("playgroundStatus"));
    m_status->setWordWrap(true);
    makePlainLabel(m_status); // errors quote paths and names

    auto* settings = new QFormLayout;
    settings->addRow(tr("Prompt:"), m_prompt);
    settings->addRow(tr("Base model:"), modelRow);
    settings->addRow(tr("Tuned runs:"), runsRow);
    settings->addRow(tr("Sampling:"), sampling);
    auto* generateRow = new QHBoxLayout;
    generateRow->addWidget(m_generate);
    generateRow->addWidget(m_status, 1);
    settings->addRow(QString(), generateRow);

    auto* outputs = new QSplitter(Qt::Horizontal);
    for (int i = 0; i <= kRunColumns; ++i) {
        auto* panel = new QWidget;
        auto* layout = new QVBoxLayout(panel);
        layout->setContentsMargins(0, 0, 0, 0);
        auto* title = new QLabel(i == 0 ? tr("<b>Base model</b>") : tr("<b>Run %1</b>: none chosen").arg(i));
        title->setWordWrap(true);
        auto* text = new QPlainTextEdit;
        text->setObjectName(QStringLiteral("output%1").arg(i));
        text->setReadOnly(true);
        layout->addWidget(title);
        layout->addWidget(text, 1);
        title->setTextFormat(Qt::RichText); // the markup is ours; names are escaped
        m_titles[static_cast<std::size_t>(i)] = title;
        m_outputs[static_cast<std::size_t>(i)] = text;
        outputs->addWidget(panel);
    }

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(settings);
    layout->addWidget(outputs, 1);

    connect(&m_watcher, &QFutureWatcher<PlaygroundOutput>::resultReadyAt, this, &PlaygroundPage::showOutput);
    connect(&m_watcher, &QFutureWatcher<PlaygroundOutput>::finished, this, &PlaygroundPage::finished);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &PlaygroundPage::reloadRuns);
    connect(m_session, &WorkspaceSession::changed, this, &PlaygroundPage::reloadRuns);
    reloadRuns();
}

PlaygroundPage::~PlaygroundPage()
{
    m_watcher.disconnect(this);
    // The tasks own copies of what they need; wait so none outlives the models' plugins.
    m_watcher.waitForFinished();
}

void PlaygroundPage::reloadRuns()
{
    std::vector<RunRecord> runs;
    if (Workspace* ws = m_session->workspace()) {
        try {
            for (RunRecord& run : RunStore(ws->db()).list()) {
                if (RunAdapterFiles::exists(ws->runDir(run.id) / "adapter"))
                    runs.push_back(std::move(run));
            }
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read the runs: %1").arg(QString::fromUtf8(e.what())));
            return;
        }
    }
    QStringList labels { tr("(no run)") };
    for (const RunRecord& run : runs)
        labels
            << tr("#%1 %2 (%3)").arg(run.id).arg(QString::fromStdString(run.name), QString::fromStdString(run.adapter));
    // The store changes often while runs train: rebuild only when the runs with adapters did.
    QStringList shown;
    for (int i = 0; i < m_runCombos[0]->count(); ++i)
        shown << m_runCombos[0]->itemText(i);
    if (shown == labels)
        return;
    for (QComboBox* combo : m_runCombos) {
        const QVariant current = combo->currentData();
        const QSignalBlocker blocker(combo);
        combo->clear();
        combo->addItem(labels.first());
        for (std::size_t i = 0; i < runs.size(); ++i)
            combo->addItem(labels[qsizetype(i) + 1], QVariant::fromValue<qint64>(runs[i].id));
        const int index = current.isValid() ? combo->findData(current) : -1;
        combo->setCurrentIndex(std::max(index, 0));
    }
}

void PlaygroundPage::setPrompt(const QString& prompt)
{
    m_prompt->setPlainText(prompt);
}

void PlaygroundPage::setBaseModel(const QString& dir)
{
    m_baseModel->setText(dir);
}

QString PlaygroundPage::baseModel() const
{
    return m_baseModel->text();
}

bool PlaygroundPage::setRun(int slot, std::int64_t runId)
{
    if (slot < 0 || slot >= kRunColumns)
        return false;
    reloadRuns();
    QComboBox* combo = m_runCombos[static_cast<std::size_t>(slot)];
    const int index = combo->findData(QVariant::fromValue<qint64>(runId));
    if (index >= 0)
        combo->setCurrentIndex(index);
    return index >= 0;
}

QString PlaygroundPage::outputText(int column) const
{
    return column >= 0 && column <= kRunColumns ? m_outputs[static_cast<std::size_t>(column)]->toPlainText()
                                                : QString();
}

bool PlaygroundPage::generate()
{
    if (m_generating)
        return false;
    auto fail = [this](const QString& message) {
        m_status->setText(userText(message, /*multiLine=*/true));
        m_status->setStyleSheet(QStringLiteral("color: #c62828;"));
        return false;
    };
    Workspace* ws = m_session->workspace();
    const QString prompt = m_prompt->toPlainText();
    if (prompt.trimmed().isEmpty())
        return fail(tr("Write a prompt first."));
    GenerationOptions options;
    options.maxNewTokens = m_maxNewTokens->value();
    options.sample = m_temperature->value() > 0;
    options.sampling.temperature = options.sample ? m_temperature->value() : 1.0;
    options.sampling.topP = m_topP->value();
    options.sampling.topK = m_topK->value();
    options.seed = static_cast<std::uint64_t>(m_seed->value());

    QList<Request> requests;
    QString base = m_baseModel->text().trimmed();
    for (int i = 0; i < kRunColumns; ++i) {
        const QVariant id = m_runCombos[static_cast<std::size_t>(i)]->currentData();
        QLabel* title = m_titles[static_cast<std::size_t>(i + 1)];
        m_outputs[static_cast<std::size_t>(i + 1)]->clear();
        if (!id.isValid() || !ws) {
            title->setText(tr("<b>Run %1</b>: none chosen").arg(i + 1));
            continue;
        }
        std::optional<RunRecord> run;
        try {
            run = RunStore(ws->db()).find(id.value<qint64>());
        } catch (const std::exception& e) {
            return fail(QString::fromUtf8(e.what()));
        }
        if (!run)
            continue;
        title->setText(tr("<b>Run #%1</b> %2 (%3)")
                           .arg(QString::number(run->id), userRichText(run->name), userRichText(run->adapter)));
        if (base.isEmpty())
            base = QString::fromStdString(run->modelPath);
        requests.append({ i + 1, QString::fromStdString(run->modelPath),
            QString::fromStdString((ws->runDir(run->id) / "adapter").string()), prompt, m_chatTemplate->isChecked(),
            options });
    }
    m_outputs[0]->clear();
    if (base.isEmpty())
        return fail(tr("Choose a base model folder or a run."));
    if (m_baseModel->text().trimmed().isEmpty())
        m_baseModel->setText(base);
    m_titles[0]->setText(tr("<b>Base model</b> %1").arg(userRichText(QFileInfo(base).fileName())));
    requests.prepend({ 0, base, QString(), prompt, m_chatTemplate->isChecked(), options });
    for (const Request& r : requests)
        m_outputs[static_cast<std::size_t>(r.column)]->setPlaceholderText(tr("Generating\u2026"));
    m_status->setText(tr("Generating with %n model(s)\u2026", nullptr, int(requests.size())));
    m_status->setStyleSheet(QString());
    m_generate->setEnabled(false);
    m_generating = true;
    m_watcher.setFuture(QtConcurrent::mapped(requests, runRequest));
    return true;
}

void PlaygroundPage::showOutput(int index)
{
    const PlaygroundOutput out = m_watcher.resultAt(index);
    QPlainTextEdit* text = m_outputs[static_cast<std::size_t>(out.column)];
    text->setPlaceholderText(QString());
    if (!out.error.isEmpty()) {
        text->setPlainText(tr("Error: %1").arg(userText(out.error, /*multiLine=*/true)));
        return;
    }
    text->setPlainText(userText(out.text, /*multiLine=*/true));
    text->setToolTip(userToolTip(tr("%n token(s) in %1 s\nPrompt as given to the model:\n%2", nullptr, int(out.tokens))
                                     .arg(QString::number(out.seconds, 'f', 2), out.prompt)));
}

void PlaygroundPage::finished()
{
    m_generating = false;
    m_generate->setEnabled(true);
    m_status->setText(tr("Done."));
    Q_EMIT generationFinished();
}

} // namespace tunebench::ui
