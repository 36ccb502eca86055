#include "core/pipeline/pipeline_spec.h"

#include "core/method/plugin_registry.h"
#include "core/sweep/sweep_spec.h"
#include "core/train/run_paths.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace tunebench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string show(const json& value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

class Reader {
public:
    explicit Reader(const fs::path& file)
        : m_file(file.string())
    { }

    // "FILE: key 'KEY': ..." or, inside a stage, "FILE: stage 'NAME': key 'KEY': ...".
    [[noreturn]] void fail(const std::string& key, const std::string& what) const
    {
        throw InputError(where() + ": key '" + key + "': " + what);
    }

    std::string where() const { return m_stage.empty() ? m_file : m_file + ": stage '" + m_stage + "'"; }
    void enterStage(const std::string& stage) { m_stage = stage; }

    std::string text(const json& v, const std::string& key) const
    {
        if (!v.is_string())
            fail(key, "must be text, got " + show(v));
        return v.get<std::string>();
    }

    void onlyKeys(const json& object, std::initializer_list<const char*> known) const
    {
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (std::none_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; })) {
                std::string list;
                for (const char* k : known)
                    list += (list.empty() ? "" : ", ") + std::string(k);
                fail(it.key(), "unknown key (known: " + list + ")");
            }
        }
    }

private:
    std::string m_file;
    std::string m_stage;
};

// Removes a key from the configuration's top level and its trainer sections.
void eraseEverywhere(json& config, std::initializer_list<const char*> keys)
{
    for (const char* key : keys) {
        config.erase(key);
        for (const char* section : { "training", "train", "trainer" }) {
            if (auto it = config.find(section); it != config.end() && it->is_object())
                it->erase(key);
        }
    }
}

// The first of `keys` the configuration has (top level or a trainer section), or null.
json findEverywhere(const json& config, std::initializer_list<const char*> keys)
{
    for (const char* key : keys) {
        if (auto it = config.find(key); it != config.end())
            return *it;
        for (const char* section : { "training", "train", "trainer" }) {
            auto s = config.find(section);
            if (s != config.end() && s->is_object() && s->contains(key))
                return (*s)[key];
        }
    }
    return nullptr;
}

// The plugin a configuration names for its adapter ("full" when none).
std::string adapterOf(const json& config)
{
    for (const char* k : { "adapter", "method", "finetuning_type" }) {
        auto it = config.find(k);
        if (it == config.end())
            continue;
        if (it->is_string())
            return it->get<std::string>();
        if (it->is_object()) {
            for (const char* t : { "type", "name" }) {
                if (auto n = it->find(t); n != it->end() && n->is_string())
                    return n->get<std::string>();
            }
        }
    }
    return "full";
}

bool validName(const std::string& name)
{
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

// Applies a stage's objective, adapter, dataset, evaluation and training keys to its configuration.
void applyStage(Reader& r, const json& s, PipelineStage& stage, const fs::path& folder)
{
    json& config = stage.config;
    if (s.contains("objective")) {
        json objective = s["objective"];
        const bool named = objective.is_string();
        if (!named && !(objective.is_object() && (objective.contains("type") || objective.contains("name"))))
            r.fail("objective",
                "must be an objective's name, or a mapping {type: NAME, ...its parameters}, got " + show(objective));
        const json& type = named ? objective : (objective.contains("type") ? objective["type"] : objective["name"]);
        if (!type.is_string() || type.get<std::string>().empty())
            r.fail("objective", "the objective's name must be text, got " + show(type));
        eraseEverywhere(config, { "objective", "stage" });
        if (type == "clm") {
            stage.clm = true;
            if (named)
                objective = "sft";
            else
                objective[objective.contains("type") ? "type" : "name"] = "sft";
        }
        config["objective"] = objective;
    }
    if (stage.clm) {
        // Continued pretraining: every token of raw text, packed into full rows.
        eraseEverywhere(config, { "dataset_format", "packing", "train_on_prompt", "train_on_inputs" });
        config["dataset_format"] = "text";
        config["packing"] = true;
    }
    if (s.contains("adapter")) {
        const json& adapter = s["adapter"];
        if (!adapter.is_string() && !(adapter.is_object() && (adapter.contains("type") || adapter.contains("name"))))
            r.fail("adapter",
                "must be an adapter's name, or a mapping {type: NAME, ...its parameters}, got " + show(adapter));
        eraseEverywhere(config, { "adapter", "method", "finetuning_type" });
        config["adapter"] = adapter;
    }
    if (s.contains("evaluation")) {
        const json& evaluation = s["evaluation"];
        if (!evaluation.is_object())
            r.fail("evaluation", "must be a mapping {tasks: FILE, limit: N}, got " + show(evaluation));
        eraseEverywhere(config, { "evaluation", "evaluation_tasks", "evaluation_steps", "evaluation_limit" });
        config["evaluation"] = evaluation;
    }
    if (s.contains("training")) {
        const json& training = s["training"];
        if (!training.is_object())
            r.fail("training", "must be a mapping of trainer keys to values, got " + show(training));
        for (auto it = training.begin(); it != training.end(); ++it) {
            if (it.key() == "model" || it.key() == "model_name_or_path")
                r.fail(
                    "training." + it.key(), "a stage's model is the pipeline's (base, or an earlier stage's result)");
            if (it.key().find('.') != std::string::npos || it.key() == "training" || it.key() == "adapter"
                || it.key() == "objective" || it.key() == "method")
                r.fail("training." + it.key(), "a trainer key is expected here");
            setDottedKey(config, "training." + it.key(), it.value(), r.where());
        }
    }
    makeRunPathsAbsolute(config, folder);
    if (s.contains("dataset")) {
        const json& dataset = s["dataset"];
        if (dataset.is_number_integer() && dataset.get<std::int64_t>() > 0)
            stage.dataset = std::to_string(dataset.get<std::int64_t>());
        else if (dataset.is_string() && !dataset.get<std::string>().empty())
            stage.dataset = absoluteRunPath(dataset.get<std::string>(), folder);
        else
            r.fail("dataset", "must be a dataset file or a workspace dataset id, got " + show(dataset));
    } else {
        const json id = findEverywhere(config, { "dataset_id" });
        const json file = findEverywhere(config, { "dataset", "data_path", "train_file" });
        if (id.is_number_integer() && id.get<std::int64_t>() >= 0)
            stage.dataset = std::to_string(id.get<std::int64_t>());
        else if (file.is_string() && !file.get<std::string>().empty())
            stage.dataset = file.get<std::string>();
        else
            r.fail("dataset", "is required: the stage's data (a file or a workspace dataset id), here or in the base");
    }
    // The run trains on the pipeline's split of the data (pipeline_data.h), set when the run is made.
    eraseEverywhere(config, { "dataset", "data_path", "train_file", "dataset_id", "model", "model_name_or_path" });
}

} // namespace

PipelineSpec PipelineSpec::readFile(const fs::path& file)
{
    return fromJson(readYamlOrJsonFile(file), file);
}

PipelineSpec PipelineSpec::fromJson(const json& doc, const fs::path& file)
{
    Reader r(file);
    if (!doc.is_object())
        throw InputError(file.string() + ": a pipeline file must be a mapping (name, base, held_out, stages), got "
            + std::string(doc.type_name()));
    r.onlyKeys(doc, { "name", "base", "held_out", "stages" });
    PipelineSpec p;
    p.file = file;
    p.name = doc.contains("name") ? r.text(doc["name"], "name") : file.stem().string();
    if (p.name.empty())
        p.name = "pipeline";

    std::error_code ec;
    const fs::path folder = fs::absolute(file, ec).parent_path();
    if (!doc.contains("base"))
        r.fail("base", "is required: the run configuration the stages share, inline or the path of a run file");
    p.base = readBaseRunConfiguration(doc["base"], folder, file.string());
    const json model = findEverywhere(p.base, { "model", "model_name_or_path" });
    if (!model.is_string() || model.get<std::string>().empty())
        r.fail("base", "needs 'model': the model folder the first stage starts from");
    p.model = model.get<std::string>();

    if (doc.contains("held_out")) {
        const json& h = doc["held_out"];
        if (!h.is_number() || !std::isfinite(h.get<double>()) || h.get<double>() <= 0 || h.get<double>() > 0.9)
            r.fail("held_out", "must be a number above 0 and at most 0.9, got " + show(h));
        p.heldOut = h.get<double>();
    }

    if (!doc.contains("stages") || !doc["stages"].is_array() || doc["stages"].empty())
        r.fail("stages",
            "must be a non-empty list of stages ({name, objective, dataset, adapter, training, from, "
            "merge, replay})");
    const json& stages = doc["stages"];
    std::set<std::string> names;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const json& s = stages[i];
        PipelineStage stage;
        stage.index = i;
        stage.name = "stage-" + std::to_string(i + 1);
        r.enterStage(stage.name);
        if (!s.is_object())
            throw InputError(r.where() + ": a stage must be a mapping {name, objective, dataset, ...}, got " + show(s));
        if (s.contains("name")) {
            stage.name = r.text(s["name"], "name");
            if (!validName(stage.name))
                r.fail("name", "must be 1 to 64 letters, digits, '-' or '_', got '" + stage.name + "'");
            r.enterStage(stage.name);
        }
        if (!names.insert(stage.name).second)
            r.fail("name", "another stage has this name");
        r.onlyKeys(
            s, { "name", "objective", "dataset", "adapter", "training", "evaluation", "from", "merge", "replay" });

        stage.config = p.base;
        applyStage(r, s, stage, folder);

        // Where the stage's model comes from.
        bool fromBase = i == 0;
        if (i > 0) {
            stage.from = PipelineStage::From::Stage;
            stage.fromStage = i - 1;
        }
        if (s.contains("from")) {
            const json& from = s["from"];
            if (from.is_number_integer()) {
                if (from.get<std::int64_t>() < 1)
                    r.fail("from", "a run id is a whole number from 1, got " + show(from));
                stage.from = PipelineStage::From::Run;
                stage.fromRun = from.get<std::int64_t>();
                fromBase = false;
            } else if (from.is_string()) {
                const std::string f = from.get<std::string>();
                if (f == "base") {
                    stage.from = PipelineStage::From::Base;
                    fromBase = true;
                } else if (f == "previous") {
                    // The first stage has no previous stage: it starts from the base.
                } else if (!f.empty() && f.find_first_not_of("0123456789") == std::string::npos) {
                    stage.from = PipelineStage::From::Run;
                    try {
                        stage.fromRun = std::stoll(f);
                    } catch (const std::exception&) {
                        r.fail("from", "run id '" + f + "' is too large");
                    }
                    if (stage.fromRun < 1)
                        r.fail("from", "a run id is a whole number from 1, got " + f);
                    fromBase = false;
                } else {
                    std::size_t j = 0;
                    while (j < i && p.stages[j].name != f)
                        ++j;
                    if (j >= i)
                        r.fail("from",
                            "must be previous, base, a run id or an earlier stage's name; no stage before "
                            "this one is called '"
                                + f + "'");
                    stage.from = PipelineStage::From::Stage;
                    stage.fromStage = j;
                    fromBase = false;
                }
            } else {
                r.fail("from", "must be previous, base, a run id or an earlier stage's name, got " + show(from));
            }
        }
        if (s.contains("merge")) {
            if (!s["merge"].is_boolean())
                r.fail("merge", "must be true or false, got " + show(s["merge"]));
            if (fromBase)
                r.fail("merge", "the stage starts from the base model: there is no adapter to merge or keep");
            stage.merge = s["merge"].get<bool>();
        }
        if (!stage.merge && stage.from == PipelineStage::From::Stage) {
            const PipelineStage& source = p.stages[stage.fromStage];
            if (adapterOf(source.config) != adapterOf(stage.config))
                r.fail("merge",
                    "false continues stage '" + source.name + "''s adapter '" + adapterOf(source.config)
                        + "', but this stage trains adapter '" + adapterOf(stage.config)
                        + "' (the same adapter, or merge: true)");
        }
        if (s.contains("replay")) {
            const json& replay = s["replay"];
            if (!replay.is_object())
                r.fail("replay", "must be a mapping {share, seed}, got " + show(replay));
            for (auto it = replay.begin(); it != replay.end(); ++it) {
                if (it.key() != "share" && it.key() != "seed")
                    r.fail("replay." + it.key(), "unknown key (known: share, seed)");
            }
            if (i == 0)
                r.fail("replay", "the first stage has no earlier stage to replay");
            PipelineReplay rp;
            if (!replay.contains("share"))
                r.fail("replay.share", "is required: the replayed examples per example of this stage, in (0, 1]");
            const json& share = replay["share"];
            if (!share.is_number() || !std::isfinite(share.get<double>()) || share.get<double>() <= 0
                || share.get<double>() > 1)
                r.fail("replay.share", "must be a number above 0 and at most 1, got " + show(share));
            rp.share = share.get<double>();
            if (replay.contains("seed")) {
                const json& seed = replay["seed"];
                if (!seed.is_number_integer() || (!seed.is_number_unsigned() && seed.get<std::int64_t>() < 0))
                    r.fail("replay.seed", "must be a whole number from 0, got " + show(seed));
                rp.seed = seed.get<std::uint64_t>();
            }
            stage.replay = rp;
        }
        p.stages.push_back(std::move(stage));
    }
    return p;
}

json PipelineSpec::canonicalJson() const
{
    json stagesJson = json::array();
    for (const PipelineStage& s : stages) {
        json from;
        switch (s.from) {
        case PipelineStage::From::Base:
            from = "base";
            break;
        case PipelineStage::From::Stage:
            from = { { "stage", s.fromStage } };
            break;
        case PipelineStage::From::Run:
            from = { { "run", s.fromRun } };
            break;
        }
        stagesJson.push_back({ { "name", s.name }, { "config", s.config }, { "dataset", s.dataset }, { "clm", s.clm },
            { "from", from }, { "merge", s.merge },
            { "replay", s.replay ? json({ { "share", s.replay->share }, { "seed", s.replay->seed } }) : json() } });
    }
    return { { "name", name }, { "model", model }, { "held_out", heldOut }, { "stages", stagesJson } };
}

json stageRunConfig(const PipelineSpec& spec, std::size_t stage, const std::string& model, const std::string& dataset,
    const std::string& initAdapter, const PluginRegistry& plugins)
{
    const PipelineStage& s = spec.stages.at(stage);
    json config = s.config;
    config["model"] = model;
    if (!dataset.empty() && dataset.find_first_not_of("0123456789") == std::string::npos)
        config["dataset_id"] = std::stoll(dataset);
    else
        config["dataset"] = dataset;
    if (!initAdapter.empty()) {
        eraseEverywhere(config, { "init_adapter" });
        config["init_adapter"] = initAdapter;
    }
    if (!config.contains("name"))
        config["name"] = spec.name + "/" + s.name;
    return TrainConfig::fromJson(config, plugins, spec.file.string() + ": stage '" + s.name + "'").toJson();
}

void checkStages(const PipelineSpec& spec, const PluginRegistry& plugins)
{
    for (const PipelineStage& s : spec.stages) {
        // A stage continuing an adapter gets it through init_adapter, which then must not be set by hand.
        const bool continues = !s.merge;
        stageRunConfig(spec, s.index, spec.model, s.dataset, continues ? "1" : "", plugins);
    }
}

} // namespace tunebench
