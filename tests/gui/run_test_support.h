#pragma once

// A workspace with a tiny Llama model folder (the byte-level test tokenizer,
// hidden 32, 2 layers) and an imported instruction dataset, for the GUI tests
// that configure, run and compare runs through the real widgets and workers.

#include "core/data/dataset_import.h"
#include "core/model/model_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include "../model/model_test_support.h"

#include <QString>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
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
        model_test::writeTinyTokenizer(model);
        tunebench::RandomModelSpec spec;
        spec.architecture = tunebench::Architecture::Llama;
        spec.vocabSize = model_test::kTinyTokenizerVocab;
        spec.hiddenSize = 32;
        spec.numLayers = 2;
        spec.numHeads = 4;
        spec.numKvHeads = 2;
        spec.intermediateSize = 64;
        spec.eosTokenIds = { model_test::kTinyTokenizerEos };
        tunebench::saveModelFolder(*tunebench::createRandomCausalLM(tunebench::randomModelConfig(spec), 3), model);
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

} // namespace gui_test
