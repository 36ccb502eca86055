// The paths inside a run configuration that another file (a sweep's or a pipeline's) holds or
// names: made absolute, since each run's worker works in its own run folder.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace tunebench {

// A relative path is folder's neighbour when it is there, else the working folder's when it is
// there, else folder's neighbour (for the check that reads it to name). Empty and absolute paths
// are returned as they are; folder may itself be relative.
std::string absoluteRunPath(const std::string& path, const std::filesystem::path& folder);

// The path keys of a run configuration (model, dataset, its aliases, forgetting_reference,
// sample_prompts, evaluation_tasks and evaluation.tasks, init_adapter unless it is a run id), at its
// top level and in its trainer sections, through absoluteRunPath.
void makeRunPathsAbsolute(nlohmann::json& config, const std::filesystem::path& folder);

// A sweep or pipeline file's `base:`: a run configuration inline (its paths against folder, the
// file's own) or the path of a run file (its paths against that file's folder). Throws InputError
// "FILE: key 'base': ..." for a missing run file, one that is not a mapping, or another value.
nlohmann::json readBaseRunConfiguration(
    const nlohmann::json& base, const std::filesystem::path& folder, const std::string& file);

} // namespace tunebench
