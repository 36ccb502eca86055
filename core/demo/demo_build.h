#pragma once

// What the demo builds before any preset runs, in
// <workspace>/demo/build-<key>/ (quick-<key> in quick mode): the generated
// data (data/), a byte-level BPE tokenizer trained on it (tokenizer/), a small
// Llama pretrained on the corpus as the workspace run demo-pretrain (model/)
// and stamp.json, written last. The key hashes everything that shapes the
// build, so a second demo with the same settings reuses it.

#include "core/demo/demo.h"
#include "core/demo/demo_world.h"
#include "core/model/model_writer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;
class Workspace;

namespace demo {

// Bumped whenever what the demo builds or measures changes, so cached builds and measures from an older binary
// are not reused.
inline constexpr const char* kDemoVersion = "tunebench-demo 1";

// Sizes of everything the demo builds; quick mode is for tests.
struct BuildPlan {
    WorldSizes world;
    std::size_t tokenizerVocab = 1024;
    RandomModelSpec model;
    nlohmann::json pretrain; // the pretraining run's configuration, without model and data
};

BuildPlan buildPlan(bool quick, std::uint64_t seed);

// The hash of what shapes a build (demo version, seed, quick, sizes, model shape, pretraining): 16 hex digits.
std::string buildKey(const BuildPlan& plan, std::uint64_t seed, bool quick);

class DemoBuild {
public:
    // Works out the folder; creates nothing.
    DemoBuild(Workspace& workspace, const PluginRegistry& plugins, const DemoOptions& options);

    const std::filesystem::path& dir() const { return m_dir; }
    std::filesystem::path dataDir() const { return m_dir / "data"; }
    std::filesystem::path modelDir() const { return m_dir / "model"; }
    // The pipeline's first stage: facts the corpus never tells (DemoWorld::newFacts), written by ensure().
    std::filesystem::path newFactsFile() const { return dataDir() / "new_facts.jsonl"; }

    // The evaluation tasks file of the demo world (writeEvaluationTasks) in dataDir(), written when missing (a
    // build stamped before the tasks existed gets them too; they follow from the seed alone).
    std::filesystem::path evaluationTasksFile() const;

    // Reuses the stamped build or makes it again (a folder without its stamp is incomplete: removed first),
    // then imports the demo datasets into the workspace (reused when already imported from the same file).
    // Returns the stages data, tokenizer and pretraining with their times (or cached).
    std::vector<DemoStage> ensure();
    bool cached() const { return m_cached; }
    // The workspace dataset of a role: corpus, target_train, target_eval, preference or grpo_sums (GRPO's
    // prompts with their sums as answers). Valid after ensure().
    std::int64_t datasetId(const std::string& role) const { return m_datasets.at(role); }

private:
    void say(const std::string& line) const;
    bool reuseStamped();
    std::vector<nlohmann::json> writeData(const DemoWorld& world);
    std::filesystem::path trainTokenizer(const DemoWorld& world, const std::vector<nlohmann::json>& corpus);
    std::int64_t pretrain(const std::filesystem::path& tokenizerDir, std::size_t texts);
    void writeStamp(std::int64_t pretrainRun);
    void importDatasets();

    Workspace& m_workspace;
    const PluginRegistry& m_plugins;
    const DemoOptions& m_options;
    BuildPlan m_plan;
    std::string m_key;
    std::filesystem::path m_dir;
    bool m_cached = false;
    std::map<std::string, std::int64_t> m_datasets;
};

} // namespace demo
} // namespace tunebench
