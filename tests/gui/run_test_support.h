#pragma once

// A workspace with a tiny Llama model folder (the byte-level test tokenizer,
// hidden 32, 2 layers) and an imported instruction dataset, for the GUI tests
// that configure, run and compare runs through the real widgets and workers.

#include "core/data/dataset_import.h"
#include "core/model/model_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/main_window.h"
#include "ui/run_queue.h"
#include "ui/workspace_session.h"

#include "../model/model_test_support.h"

#include <QCoreApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QString>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace gui_test {

struct RunFixture {
    QTemporaryDir dir;
    std::filesystem::path root;
    std::filesystem::path workspace;
    std::filesystem::path model;
    std::filesystem::path dataFile;
    std::int64_t datasetId = 0;

    RunFixture()
    {
        root = std::filesystem::path(dir.path().toStdString());
        workspace = root / "ws";
        model = root / "tiny-llama";
        dataFile = root / "data.jsonl";
        model_test::writeTinyModelFolder(model, 3);
        {
            std::ofstream out(dataFile);
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 16; ++i)
                out << nlohmann::json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump()
                    << "\n";
        }
        tunebench::Workspace ws = tunebench::Workspace::create(workspace);
        const tunebench::ImportResult imported = tunebench::importDataset(ws, dataFile, {});
        if (!imported.imported || !imported.id)
            throw std::runtime_error("the test dataset did not import");
        datasetId = *imported.id;
    }

    QString workspacePath() const { return QString::fromStdString(workspace.string()); }
    QString modelPath() const { return QString::fromStdString(model.string()); }

    // A run configuration (flat JSON, as the store keeps it) training the tiny model.
    nlohmann::json config(std::int64_t maxSteps, const std::string& adapter = "lora") const
    {
        return { { "name", adapter + "-test" }, { "model", model.string() }, { "dataset_id", datasetId },
            { "adapter", adapter }, { "objective", "sft" }, { "learning_rate", 1e-2 }, { "max_steps", maxSteps },
            { "per_device_train_batch_size", 4 }, { "cutoff_len", 64 }, { "save_steps", 5 }, { "threads", 1 },
            { "seed", 7 } };
    }

    // Records a run (queued) with this configuration, as Run Setup does.
    std::int64_t recordRun(const nlohmann::json& configJson) const
    {
        tunebench::Workspace ws = tunebench::Workspace::open(workspace);
        tunebench::NewRun run;
        run.name = configJson.value("name", std::string("test"));
        run.configJson = configJson.dump();
        run.adapter = configJson.value("adapter", std::string());
        run.objective = configJson.value("objective", std::string());
        run.modelPath = model.string();
        run.datasetId = datasetId;
        return tunebench::RunStore(ws.db()).create(run);
    }

    std::optional<tunebench::RunRecord> run(std::int64_t id) const
    {
        tunebench::Workspace ws = tunebench::Workspace::open(workspace);
        return tunebench::RunStore(ws.db()).find(id);
    }
};

// Keeps a GUI test's QSettings in an INI file under dir (cleared first), never the user's.
inline void isolateSettings(const QString& dir, const QString& application)
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("Tunebench"));
    QCoreApplication::setApplicationName(application);
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir);
    QSettings().clear();
}

// A main window on the fixture's workspace showing the Runs page, polling the store and the workers every 100 ms
// and starting this build's tunebench-cli; null when the workspace does not open.
inline std::unique_ptr<tunebench::ui::MainWindow> openRunsWindow(const RunFixture& fixture)
{
    auto window = std::make_unique<tunebench::ui::MainWindow>();
    if (!window->openWorkspace(fixture.workspacePath()))
        return nullptr;
    window->session()->setPollInterval(100);
    window->runQueue()->setCliPath(QStringLiteral(TUNEBENCH_CLI));
    window->runQueue()->setCheckInterval(100);
    window->showPage(tunebench::ui::MainWindow::RunsPageIndex);
    return window;
}

} // namespace gui_test
