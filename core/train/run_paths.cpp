#include "core/train/run_paths.h"

#include "core/util/error.h"
#include "core/util/yaml_json.h"

namespace tunebench {

namespace fs = std::filesystem;
using nlohmann::json;

std::string absoluteRunPath(const std::string& path, const fs::path& folder)
{
    const fs::path p = path;
    if (path.empty() || p.is_absolute())
        return path;
    std::error_code ec;
    if (!fs::exists(folder / p, ec) && fs::exists(p, ec))
        return fs::absolute(p, ec).lexically_normal().string();
    // A file named without a folder ("sweep.yaml") has an empty parent: the working folder.
    return (fs::absolute(folder.empty() ? fs::path(".") : folder, ec) / p).lexically_normal().string();
}

void makeRunPathsAbsolute(json& config, const fs::path& folder)
{
    auto fix = [&](json& object) {
        for (const char* key : { "model", "model_name_or_path", "dataset", "data_path", "train_file",
                 "forgetting_reference", "sample_prompts", "evaluation_tasks", "init_adapter" }) {
            auto it = object.find(key);
            if (it == object.end() || !it->is_string())
                continue;
            // init_adapter may be a run id.
            if (std::string(key) == "init_adapter"
                && it->get<std::string>().find_first_not_of("0123456789") == std::string::npos)
                continue;
            *it = absoluteRunPath(it->get<std::string>(), folder);
        }
        if (auto e = object.find("evaluation"); e != object.end() && e->is_object()) {
            if (auto t = e->find("tasks"); t != e->end() && t->is_string())
                *t = absoluteRunPath(t->get<std::string>(), folder);
        }
    };
    fix(config);
    for (const char* section : { "training", "train", "trainer" }) {
        if (auto it = config.find(section); it != config.end() && it->is_object())
            fix(*it);
    }
}

json readBaseRunConfiguration(const json& base, const fs::path& folder, const std::string& file)
{
    const std::string where = file + ": key 'base': ";
    json config;
    if (base.is_string()) {
        const fs::path runFile = absoluteRunPath(base.get<std::string>(), folder);
        std::error_code ec;
        if (!fs::is_regular_file(runFile, ec))
            throw InputError(where + "no run configuration file " + runFile.string());
        config = readYamlOrJsonFile(runFile);
        if (!config.is_object())
            throw InputError(runFile.string() + ": a run configuration must be a mapping of keys to values");
        makeRunPathsAbsolute(config, runFile.parent_path());
    } else if (base.is_object()) {
        config = base;
        makeRunPathsAbsolute(config, folder);
    } else {
        throw InputError(where + "must be a run configuration (a mapping) or the path of a run file, got "
            + base.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return config;
}

} // namespace tunebench
