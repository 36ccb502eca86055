#include "core/demo/demo_presets.h"

#include "core/merge/run_merge.h"
#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/yaml_json.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fileHash(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return sha256Hex(ss.str());
}

std::string requireString(const json& node, const std::string& key, const fs::path& file, const std::string& where)
{
    const auto it = node.find(key);
    if (it == node.end() || !it->is_string() || it->get<std::string>().empty())
        throw InputError(file.string() + ": " + where + key + ": expected a non-empty string");
    return it->get<std::string>();
}

// A number, or text that is one (as a merge flag's value would be written).
double argNumber(const json& value, const fs::path& file, const std::string& field)
{
    if (value.is_number())
        return value.get<double>();
    if (value.is_string()) {
        const std::string text = value.get<std::string>();
        std::size_t used = 0;
        double v = 0;
        try {
            v = std::stod(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != 0 && used == text.size() && std::isfinite(v))
            return v;
    }
    throw InputError(file.string() + ": " + field + ": expected a number, got " + value.dump());
}

// demo.args: the flags of `tunebench-cli merge` (without --) with their values.
void readMergeArgs(const json& args, Preset& p)
{
    if (!args.is_object())
        throw InputError(p.file.string() + ": demo.args: expected a mapping of merge flags to values");
    for (const auto& [flag, value] : args.items()) {
        const std::string field = "demo.args." + flag;
        if (flag == "eval-dataset") {
            p.evalDataset = value.is_string() ? value.get<std::string>() : value.dump();
        } else if (flag == "weights") {
            json list = json::array();
            if (value.is_array()) {
                for (const json& w : value)
                    list.push_back(argNumber(w, p.file, field));
            } else {
                std::stringstream in(value.is_string() ? value.get<std::string>() : value.dump());
                std::string item;
                while (std::getline(in, item, ','))
                    list.push_back(argNumber(item, p.file, field));
            }
            if (list.size() != p.parents.size())
                throw InputError(p.file.string() + ": " + field + ": " + std::to_string(list.size()) + " weights for "
                    + std::to_string(p.parents.size()) + " runs; give one weight per run");
            p.mergeParams[flag] = list;
        } else if (flag == "scaling" || flag == "density" || flag == "beta" || flag == "gamma" || flag == "alpha") {
            p.mergeParams[flag] = argNumber(value, p.file, field);
        } else {
            throw InputError(p.file.string() + ": " + field
                + ": unknown merge flag (expected weights, scaling, density, beta, gamma, alpha or eval-dataset)");
        }
    }
}

void readMergePreset(const json& node, const json& demo, Preset& p)
{
    p.merge = true;
    p.method = requireString(demo, "method", p.file, "demo.");
    const auto runs = demo.find("runs");
    if (runs == demo.end() || !runs->is_array() || runs->empty())
        throw InputError(p.file.string() + ": demo.runs: expected a list of preset names to merge");
    for (const json& r : *runs) {
        if (!r.is_string())
            throw InputError(p.file.string() + ": demo.runs: expected preset names (strings), got " + r.dump());
        p.parents.push_back(r.get<std::string>());
    }
    if (const auto args = demo.find("args"); args != demo.end())
        readMergeArgs(*args, p);
    const std::vector<std::string>& methods = mergeMethods();
    if (std::find(methods.begin(), methods.end(), p.method) == methods.end()) {
        std::string list;
        for (const std::string& m : methods)
            list += (list.empty() ? "" : ", ") + m;
        throw InputError(p.file.string() + ": demo.method: expected one of " + list + ", got '" + p.method + "'");
    }
    if (p.parents.size() < minimumRunsToMerge(p.method))
        throw InputError(p.file.string() + ": demo.runs: " + p.method + " merges at least "
            + std::to_string(minimumRunsToMerge(p.method)) + " runs");
    try {
        resolveMergeParameters(p.method, p.mergeParams);
    } catch (const InputError& e) {
        throw InputError(p.file.string() + ": demo.args: " + e.what());
    }
    if (node.size() != 1)
        throw InputError(p.file.string() + ": a merge preset has only name and demo");
}

// demo.seeds: distinct integers, at least one.
std::vector<std::int64_t> readSeeds(const json& demo, const fs::path& file)
{
    std::vector<std::int64_t> seeds;
    const auto it = demo.find("seeds");
    if (it == demo.end())
        return seeds;
    if (!it->is_array() || it->empty())
        throw InputError(file.string() + ": demo.seeds: expected a non-empty list of integer seeds");
    for (const json& s : *it) {
        if (!s.is_number_integer())
            throw InputError(file.string() + ": demo.seeds: expected integer seeds, got " + s.dump());
        const std::int64_t seed = s.get<std::int64_t>();
        if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end())
            throw InputError(file.string() + ": demo.seeds: seed " + std::to_string(seed) + " is listed twice");
        seeds.push_back(seed);
    }
    return seeds;
}

void readTrainPreset(const json& node, const json& demo, Preset& p)
{
    p.dataset = demo.value("dataset", "target");
    if (p.dataset != "target" && p.dataset != "preference" && p.dataset != "sums")
        throw InputError(
            p.file.string() + ": demo.dataset: expected target, preference or sums, got '" + p.dataset + "'");
    p.modelFrom = demo.value("model_from", "");
    for (const char* key : { "model", "dataset", "dataset_id" }) {
        if (node.contains(key))
            throw InputError(p.file.string() + ": " + key
                + ": the demo supplies the model and the data; say which data with demo.dataset");
    }
    p.config = node;
}

} // namespace

Preset loadPreset(const fs::path& file)
{
    Preset p;
    p.file = file;
    p.hash = fileHash(file);
    json node = readYamlOrJsonFile(file);
    if (!node.is_object())
        throw InputError(file.string() + ": expected a mapping (a run configuration with a demo section)");
    p.name = requireString(node, "name", file, "");
    const auto section = node.find("demo");
    if (section == node.end() || !section->is_object())
        throw InputError(file.string() + ": demo: expected a mapping (finding, kind, dataset ...)");
    const json demo = *section;
    node.erase("demo");
    static const std::set<std::string> known { "finding", "kind", "dataset", "model_from", "method", "runs", "args",
        "seeds" };
    for (const auto& [key, value] : demo.items()) {
        if (!known.count(key))
            throw InputError(file.string() + ": demo." + key
                + ": unknown key (expected finding, kind, dataset, model_from, method, runs, args or seeds)");
    }
    p.group = p.name;
    p.finding = demo.value("finding", "");
    const std::string kind = demo.value("kind", "train");
    if (kind == "merge") {
        if (demo.contains("seeds"))
            throw InputError(file.string() + ": demo.seeds: a merge preset has no seed (list its parents' seeds)");
        readMergePreset(node, demo, p);
    } else if (kind == "train") {
        readTrainPreset(node, demo, p);
    } else {
        throw InputError(file.string() + ": demo.kind: expected train or merge, got '" + kind + "'");
    }
    return p;
}

std::vector<Preset> expandSeeds(const Preset& preset)
{
    json demo = readYamlOrJsonFile(preset.file).value("demo", json::object());
    const std::vector<std::int64_t> seeds = readSeeds(demo, preset.file);
    if (seeds.empty())
        return { preset };
    if (!preset.config.contains("training") || !preset.config["training"].is_object())
        throw InputError(preset.file.string() + ": demo.seeds: the preset needs a training section to set the seed in");
    std::vector<Preset> out;
    for (std::size_t k = 0; k < seeds.size(); ++k) {
        Preset p = preset;
        p.name = k == 0 ? preset.name : preset.name + "_seed" + std::to_string(k + 1);
        p.seed = seeds[k];
        p.config["training"]["seed"] = seeds[k];
        // The file's hash would change for every seed when one is added; each seed's run depends only on the
        // preset without its seed list, and its own seed.
        json node = readYamlOrJsonFile(preset.file);
        node["demo"].erase("seeds");
        p.hash = sha256Hex(node.dump() + "\nseed=" + std::to_string(seeds[k]));
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<Preset> loadPresets(const fs::path& dir)
{
    if (!fs::is_directory(dir))
        throw InputError("demo presets folder " + dir.string() + " does not exist (resources/demo)");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml"))
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<Preset> presets;
    std::set<std::string> names;
    for (const fs::path& f : files) {
        for (Preset& p : expandSeeds(loadPreset(f))) {
            if (!names.insert(p.name).second)
                throw InputError(f.string() + ": name: preset '" + p.name + "' is defined twice"
                    + (p.seed ? " (a name demo.seeds gives the preset's seed " + std::to_string(*p.seed) + ")" : ""));
            for (const std::string& parent : p.parents) {
                if (!names.count(parent))
                    throw InputError(f.string() + ": demo.runs: '" + parent + "' is not a preset before this one");
            }
            if (!p.modelFrom.empty() && !names.count(p.modelFrom))
                throw InputError(
                    f.string() + ": demo.model_from: '" + p.modelFrom + "' is not a preset before this one");
            presets.push_back(std::move(p));
        }
    }
    if (presets.empty())
        throw InputError("no presets (*.yaml) in " + dir.string());
    return presets;
}

std::vector<const Preset*> selectPresets(const std::vector<Preset>& presets, const std::vector<std::string>& only)
{
    for (const std::string& name : only) {
        if (std::none_of(
                presets.begin(), presets.end(), [&](const Preset& p) { return p.name == name || p.group == name; })) {
            std::string known;
            for (const Preset& p : presets)
                known += (known.empty() ? "" : ", ") + p.name;
            throw InputError("--only: no preset named '" + name + "' (presets: " + known + ")");
        }
    }
    std::set<std::string> wanted(only.begin(), only.end());
    // Backwards, so what a wanted preset needs is wanted before its own turn comes (presets name only earlier ones).
    for (auto it = presets.rbegin(); it != presets.rend(); ++it) {
        if (!wanted.empty() && (wanted.count(it->name) || wanted.count(it->group))) {
            wanted.insert(it->name);
            wanted.insert(it->parents.begin(), it->parents.end());
            if (!it->modelFrom.empty())
                wanted.insert(it->modelFrom);
        }
    }
    std::vector<const Preset*> chosen;
    for (const Preset& p : presets) {
        if (wanted.empty() || wanted.count(p.name))
            chosen.push_back(&p);
    }
    return chosen;
}

void shortenForQuick(json& config)
{
    json* training = config.contains("training") && config["training"].is_object() ? &config["training"] : &config;
    const std::int64_t steps = training->value("max_steps", static_cast<std::int64_t>(40));
    (*training)["max_steps"] = std::max<std::int64_t>(3, steps / 15);
    if (training->contains("warmup_steps"))
        (*training)["warmup_steps"] = 1;
}

} // namespace tunebench::demo
