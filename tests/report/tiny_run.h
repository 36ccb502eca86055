#pragma once

// A real workspace with real runs for the report and export tests: a tiny Llama
// model with the hand-made tokenizer, a dataset imported and sampled through
// tunebench-cli (so it has a lineage), and LoRA runs trained by `tunebench-cli
// train` with stored samples.

#include "core/model/model_writer.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <fstream>

namespace report_test {

struct TinyWorkspace {
    QString workspace;
    QString model;
    QString error; // why setting up failed; empty on success
};

// Model, dataset (import + "select random" as dataset 2) and an empty workspace in dir.
inline TinyWorkspace makeTinyWorkspace(const QString& dir)
{
    namespace fs = std::filesystem;
    TinyWorkspace t;
    t.workspace = dir + QStringLiteral("/ws");
    t.model = dir + QStringLiteral("/model");
    const fs::path model = t.model.toStdString();
    model_test::writeTinyModelFolder(model, 3);

    const QString data = dir + QStringLiteral("/data.jsonl");
    {
        std::ofstream out(data.toStdString());
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
            "the sun rose over the hill" };
        for (int i = 0; i < 12; ++i)
            out << nlohmann::json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
    }
    CliResult r = runCli({ "workspace", "init", t.workspace });
    if (r.code == 0)
        r = runCli({ "dataset", "import", data, "--workspace", t.workspace });
    if (r.code == 0)
        r = runCli({ "dataset", "select", "1", "--method", "random", "--count", "10", "--seed", "5", "--workspace",
            t.workspace });
    if (r.code != 0)
        t.error = r.err + r.out;
    return t;
}

// Trains a LoRA run on dataset 2 for 4 steps; returns its id, or -1 with *error set.
inline qint64 trainTinyRun(const TinyWorkspace& t, const QString& name, const QString& learningRate, QString* error)
{
    const QString config = QDir(t.workspace).filePath(name + QStringLiteral(".yaml"));
    const QString yaml = QStringLiteral("name: %1\nmodel: %2\ndataset: 2\nobjective: sft\nadapter:\n  type: lora\n"
                                        "  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj]\ntraining:\n"
                                        "  learning_rate: %3\n  max_steps: 4\n  per_device_train_batch_size: 4\n"
                                        "  seed: 42\n  cutoff_len: 64\n  val_size: 0.2\n  eval_steps: 2\n"
                                        "  threads: 1\n  sample_prompts: [say something]\n  samples_per_prompt: 2\n"
                                        "  sample_max_new_tokens: 6\n")
                             .arg(name, t.model, learningRate);
    writeTextFile(config, yaml.toUtf8());
    const CliResult r = runCli({ "train", config, "--workspace", t.workspace });
    if (r.code != 0) {
        *error = r.err + r.out.right(800);
        return -1;
    }
    for (const QString& line : r.out.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        const QJsonObject e = QJsonDocument::fromJson(line.toUtf8()).object();
        if (e.value(QStringLiteral("event")).toString() == QLatin1String("start"))
            return e.value(QStringLiteral("run_id")).toInteger();
    }
    *error = QStringLiteral("no start event in: ") + r.out.left(800);
    return -1;
}

} // namespace report_test
