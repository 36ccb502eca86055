#pragma once

// The demo's runs in the workspace: training a configuration and merging
// runs in this process, the manifest that maps each preset to its run (so a
// second demo reuses what is finished), and the small files the demo writes.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;
class RunStore;
class Workspace;

namespace demo {

struct Preset;

using Clock = std::chrono::steady_clock;
using Progress = std::function<void(const std::string& line)>;

double secondsSince(Clock::time_point start);

// Written to PATH.tmp and renamed: a reader never sees half a file. Throws Error naming the file.
void writeTextFile(const std::filesystem::path& path, const std::string& text);
// One JSON object a line.
void writeJsonLines(const std::filesystem::path& path, const std::vector<nlohmann::json>& records);
// Throws InputError naming the file when it cannot be read or is not JSON.
nlohmann::json readJsonFile(const std::filesystem::path& path);

// runs.json in a demo build folder: preset name -> {run_id, inputs (a hash of what made the run), measures}.
class RunManifest {
public:
    // Reads the file when it exists (anything but a JSON object counts as empty).
    explicit RunManifest(std::filesystem::path file);

    // The preset's run when the manifest has it with the same inputs and the workspace has it finished.
    std::optional<std::int64_t> reusable(
        const std::string& preset, const std::string& inputs, const RunStore& runs) const;
    // The preset's run; Error when it has none (skipped or failed), for a preset that needs it.
    std::int64_t runOf(const std::string& preset) const;
    // Records the preset's new run (its measures are dropped with the old run) and saves the file.
    void recordRun(const std::string& preset, std::int64_t runId, const std::string& inputs);

    // The preset's cached measures when they were stored under `key`.
    std::optional<nlohmann::json> measures(const std::string& preset, const std::string& key) const;
    // Stores them ({"key": key, ...}) and saves the file.
    void recordMeasures(const std::string& preset, const nlohmann::json& measures);

private:
    void save() const;

    std::filesystem::path m_file;
    nlohmann::json m_entries = nlohmann::json::object();
};

// Records `config` as the workspace run "demo-<name>" and trains it in this process; returns its id. `threads` > 0
// sets the run's `threads` unless the configuration names them. A run that fails is marked failed (with a failed
// event) before the error goes on. source: what config came from, for error messages.
std::int64_t trainDemoRun(Workspace& workspace, const PluginRegistry& plugins, const std::string& name,
    nlohmann::json config, const std::string& source, std::int64_t threads, const Progress& progress);

// Merges the parents' runs as the merge preset says (mergeRuns) into the run "demo-<preset>"; returns its id.
std::int64_t mergeDemoRun(Workspace& workspace, const PluginRegistry& plugins, const Preset& preset,
    const std::vector<std::int64_t>& parentRuns, const Progress& progress);

} // namespace demo
} // namespace tunebench
