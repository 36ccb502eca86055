#include "core/sweep/sweep_spec.h"

#include "core/method/plugin_registry.h"
#include "core/train/run_paths.h"
#include "core/train/train_config.h"
#include "core/train/trainer_schema.h"
#include "core/util/error.h"
#include "core/util/splitmix64.h"
#include "core/util/yaml_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace tunebench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// More runs than this is a mistake in the file (a grid of long lists), not a sweep anyone waits for.
constexpr std::size_t kMaxRuns = 10000;

const char* const kSections[] = { "training", "train", "trainer", "adapter", "method", "objective" };

bool isSection(const std::string& name)
{
    return std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections);
}

bool isKindSection(const std::string& name)
{
    return name == "adapter" || name == "method" || name == "objective";
}

std::string show(const json& value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

class Reader {
public:
    explicit Reader(const fs::path& file)
        : m_file(file.string())
    { }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const
    {
        throw InputError(m_file + ": key '" + key + "': " + what);
    }

    std::int64_t integer(const json& v, const std::string& key, std::int64_t minimum) const
    {
        if (!v.is_number_integer())
            fail(key, "must be a whole number, got " + show(v));
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
            fail(key, "is too large: " + show(v));
        const auto n = v.get<std::int64_t>();
        if (n < minimum)
            fail(key, "must be at least " + std::to_string(minimum) + ", got " + show(v));
        return n;
    }

    double number(const json& v, const std::string& key) const
    {
        if (!v.is_number())
            fail(key, "must be a number, got " + show(v));
        const double d = v.get<double>();
        if (!std::isfinite(d))
            fail(key, "must be a finite number, got " + show(v));
        return d;
    }

    std::string text(const json& v, const std::string& key) const
    {
        if (!v.is_string())
            fail(key, "must be text, got " + show(v));
        return v.get<std::string>();
    }

    bool direction(const json& v, const std::string& key) const
    {
        const std::string d = text(v, key);
        if (d != "min" && d != "max")
            fail(key, "must be 'min' or 'max', got '" + d + "'");
        return d == "max";
    }

    // KEY or SECTION.KEY, with a section the run configuration knows.
    void dottedKey(const std::string& key, const std::string& where) const
    {
        const std::string place = where + "." + key;
        if (key.empty())
            fail(place, "is empty");
        for (char c : key) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
                fail(place, "a key is KEY or SECTION.KEY (letters, digits and '_')");
        }
        const auto dot = key.find('.');
        if (dot == std::string::npos)
            return;
        const std::string section = key.substr(0, dot);
        const std::string rest = key.substr(dot + 1);
        if (rest.empty() || rest.find('.') != std::string::npos || !isSection(section))
            fail(place, "a key is KEY or SECTION.KEY with SECTION one of training, adapter or objective");
    }

    void onlyKeys(const json& object, const std::string& where, std::initializer_list<const char*> known) const
    {
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (std::none_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; })) {
                std::string list;
                for (const char* k : known)
                    list += (list.empty() ? "" : ", ") + std::string(k);
                fail(where.empty() ? it.key() : where + "." + it.key(), "unknown key (known: " + list + ")");
            }
        }
    }

    const std::string& file() const { return m_file; }

private:
    std::string m_file;
};

SweepDistribution readDistribution(const Reader& r, const json& v, const std::string& key)
{
    if (!v.is_object())
        r.fail(key, "must be a mapping {distribution: uniform|log_uniform|choice, low, high | values}, got " + show(v));
    r.onlyKeys(v, key, { "distribution", "low", "high", "values" });
    if (!v.contains("distribution"))
        r.fail(key, "needs 'distribution' (uniform, log_uniform or choice)");
    const std::string kind = r.text(v["distribution"], key + ".distribution");
    SweepDistribution d;
    if (kind == "choice") {
        d.kind = SweepDistribution::Kind::Choice;
        if (v.contains("low") || v.contains("high"))
            r.fail(key, "a choice has 'values', not 'low' and 'high'");
        if (!v.contains("values") || !v["values"].is_array() || v["values"].empty())
            r.fail(key + ".values", "must be a non-empty list");
        d.values = v["values"];
        return d;
    }
    if (kind == "uniform")
        d.kind = SweepDistribution::Kind::Uniform;
    else if (kind == "log_uniform")
        d.kind = SweepDistribution::Kind::LogUniform;
    else
        r.fail(key + ".distribution", "must be uniform, log_uniform or choice, got '" + kind + "'");
    if (v.contains("values"))
        r.fail(key, "a " + kind + " distribution has 'low' and 'high', not 'values'");
    if (!v.contains("low") || !v.contains("high"))
        r.fail(key, "a " + kind + " distribution needs 'low' and 'high'");
    d.low = r.number(v["low"], key + ".low");
    d.high = r.number(v["high"], key + ".high");
    d.integer = v["low"].is_number_integer() && v["high"].is_number_integer();
    if (d.low > d.high)
        r.fail(key, "'low' must not be above 'high'");
    if (d.kind == SweepDistribution::Kind::LogUniform && d.low <= 0)
        r.fail(key + ".low", "must be above 0 for log_uniform");
    if (d.integer && (std::abs(d.low) > 9.0e15 || std::abs(d.high) > 9.0e15))
        r.fail(key, "whole-number bounds must stay within 9e15");
    return d;
}

json drawValue(const SweepDistribution& d, SplitMix64& rng)
{
    const double u = rng.unit();
    switch (d.kind) {
    case SweepDistribution::Kind::Choice: {
        const auto n = d.values.size();
        return d.values[std::min(n - 1, static_cast<std::size_t>(u * static_cast<double>(n)))];
    }
    case SweepDistribution::Kind::Uniform:
        if (d.integer) {
            const double span = d.high - d.low + 1;
            return static_cast<std::int64_t>(d.low + std::min(span - 1, std::floor(u * span)));
        }
        return d.low + u * (d.high - d.low);
    case SweepDistribution::Kind::LogUniform: {
        const double x = std::exp(std::log(d.low) + u * (std::log(d.high) - std::log(d.low)));
        if (d.integer)
            return static_cast<std::int64_t>(std::clamp(std::round(x), d.low, d.high));
        return std::clamp(x, d.low, d.high);
    }
    }
    return nullptr;
}

std::string pluginOf(const json& config, bool objective)
{
    const std::vector<std::string> flatKeys = objective
        ? std::vector<std::string> { "objective", "stage" }
        : std::vector<std::string> { "adapter", "method", "finetuning_type" };
    for (const auto& k : flatKeys) {
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
    return objective ? "sft" : "full";
}

// The key a dotted key sets in the run configuration's flat namespace ("adapter" for adapter.type).
std::string flatKey(const std::string& dottedKey)
{
    const auto dot = dottedKey.find('.');
    if (dot == std::string::npos)
        return dottedKey;
    const std::string section = dottedKey.substr(0, dot);
    const std::string key = dottedKey.substr(dot + 1);
    if (isKindSection(section) && (key == "type" || key == "name"))
        return section == "objective" ? "objective" : "adapter";
    return key;
}

bool knownKey(const std::string& key, const json& config, const PluginRegistry& plugins)
{
    if (trainerParameterSchema().find(key) || key == "adapter" || key == "objective" || key == "method")
        return true;
    const PluginInfo* adapter = plugins.find(PluginKind::Adapter, pluginOf(config, false));
    const PluginInfo* objective = plugins.find(PluginKind::Objective, pluginOf(config, true));
    return (adapter && adapter->schema.find(key)) || (objective && objective->schema.find(key));
}

std::string describeParams(const json& params)
{
    std::string out;
    for (auto it = params.begin(); it != params.end(); ++it)
        out += (out.empty() ? "" : ", ") + it.key() + "=" + show(it.value());
    return out;
}

} // namespace

SweepSpec SweepSpec::readFile(const fs::path& file)
{
    return fromJson(readYamlOrJsonFile(file), file);
}

SweepSpec SweepSpec::fromJson(const json& doc, const fs::path& file)
{
    const Reader r(file);
    if (!doc.is_object())
        throw InputError(r.file() + ": a sweep file must be a mapping (base, grid, random, seeds, metric ...), got "
            + std::string(doc.type_name()));
    r.onlyKeys(doc, "",
        { "name", "base", "grid", "random", "trials", "seed", "seeds", "metric", "direction", "early_stopping",
            "concurrency" });
    SweepSpec s;
    s.file = file;
    s.name = doc.contains("name") ? r.text(doc["name"], "name") : file.stem().string();
    if (s.name.empty())
        s.name = "sweep";

    const fs::path folder = file.parent_path();
    if (!doc.contains("base"))
        r.fail("base", "is required: a run configuration inline, or the path of a run YAML file");
    s.base = readBaseRunConfiguration(doc["base"], folder, file.string());

    std::set<std::string> setKeys; // flat keys the sweep sets, to find one set twice
    auto claim = [&](const std::string& key, const std::string& where) {
        if (!setKeys.insert(flatKey(key)).second)
            r.fail(where + "." + key, "sets '" + flatKey(key) + "', which another grid or random key sets too");
    };
    if (doc.contains("grid")) {
        const json& grid = doc["grid"];
        if (!grid.is_object())
            r.fail("grid", "must be a mapping of dotted keys to lists of values");
        for (auto it = grid.begin(); it != grid.end(); ++it) {
            r.dottedKey(it.key(), "grid");
            claim(it.key(), "grid");
            if (!it.value().is_array() || it.value().empty())
                r.fail("grid." + it.key(), "must be a non-empty list of values, got " + show(it.value()));
            s.grid.emplace_back(it.key(), it.value().get<std::vector<json>>());
        }
    }
    if (doc.contains("random")) {
        const json& random = doc["random"];
        if (!random.is_object())
            r.fail("random", "must be a mapping of dotted keys to distributions");
        for (auto it = random.begin(); it != random.end(); ++it) {
            r.dottedKey(it.key(), "random");
            claim(it.key(), "random");
            s.random.emplace_back(it.key(), readDistribution(r, it.value(), "random." + it.key()));
        }
        if (!doc.contains("trials"))
            r.fail("trials", "is required with 'random': how many draws");
    }
    if (doc.contains("trials")) {
        if (!doc.contains("random"))
            r.fail("trials", "is given without 'random'");
        s.trials = r.integer(doc["trials"], "trials", 1);
    }
    if (doc.contains("seed")) {
        if (!doc.contains("random"))
            r.fail("seed", "seeds the random draws, but there is no 'random' (the runs' seeds are 'seeds')");
        s.randomSeed = static_cast<std::uint64_t>(r.integer(doc["seed"], "seed", 0));
    }
    if (doc.contains("seeds")) {
        const json& seeds = doc["seeds"];
        if (!seeds.is_array() || seeds.empty())
            r.fail("seeds", "must be a non-empty list of whole numbers");
        std::set<std::uint64_t> seen;
        for (std::size_t i = 0; i < seeds.size(); ++i) {
            const auto seed = static_cast<std::uint64_t>(r.integer(seeds[i], "seeds[" + std::to_string(i) + "]", 0));
            if (!seen.insert(seed).second)
                r.fail("seeds", "seed " + std::to_string(seed) + " is listed twice");
            s.seeds.push_back(seed);
        }
        if (setKeys.count("seed"))
            r.fail("seeds", "the grid or random keys set the seed already; give one or the other");
    }
    if (doc.contains("metric"))
        s.metric = r.text(doc["metric"], "metric");
    if (s.metric.empty())
        r.fail("metric", "is empty");
    if (doc.contains("direction"))
        s.maximize = r.direction(doc["direction"], "direction");
    if (doc.contains("early_stopping")) {
        const json& e = doc["early_stopping"];
        if (!e.is_object())
            r.fail("early_stopping", "must be a mapping {rule: median|successive_halving, metric, steps: [...]}");
        r.onlyKeys(e, "early_stopping", { "rule", "metric", "direction", "steps", "min_runs", "reduction_factor" });
        SweepEarlyStopping es;
        if (!e.contains("rule"))
            r.fail("early_stopping.rule", "is required: median or successive_halving");
        const std::string rule = r.text(e["rule"], "early_stopping.rule");
        if (rule == "median")
            es.rule = SweepEarlyStopping::Rule::Median;
        else if (rule == "successive_halving")
            es.rule = SweepEarlyStopping::Rule::SuccessiveHalving;
        else
            r.fail("early_stopping.rule", "must be median or successive_halving, got '" + rule + "'");
        if (e.contains("metric"))
            es.metric = r.text(e["metric"], "early_stopping.metric");
        if (e.contains("direction"))
            es.maximize = r.direction(e["direction"], "early_stopping.direction");
        if (!e.contains("steps") || !e["steps"].is_array() || e["steps"].empty())
            r.fail("early_stopping.steps", "must be a non-empty list of steps the runs are judged at");
        for (std::size_t i = 0; i < e["steps"].size(); ++i) {
            const auto step = r.integer(e["steps"][i], "early_stopping.steps[" + std::to_string(i) + "]", 1);
            if (!es.steps.empty() && step <= es.steps.back())
                r.fail("early_stopping.steps", "must rise");
            es.steps.push_back(step);
        }
        if (e.contains("min_runs"))
            es.minRuns = r.integer(e["min_runs"], "early_stopping.min_runs", 1);
        if (e.contains("reduction_factor")) {
            es.reductionFactor = r.number(e["reduction_factor"], "early_stopping.reduction_factor");
            if (es.reductionFactor <= 1)
                r.fail("early_stopping.reduction_factor", "must be above 1");
        }
        s.earlyStopping = es;
    }
    if (doc.contains("concurrency"))
        s.concurrency = r.integer(doc["concurrency"], "concurrency", 1);

    std::size_t runs = std::max<std::size_t>(1, s.seeds.size());
    auto multiply = [&](std::size_t n, const std::string& key) {
        if (n != 0 && runs > kMaxRuns / n)
            r.fail(key, "the sweep would have more than " + std::to_string(kMaxRuns) + " runs");
        runs *= n;
    };
    for (const auto& [key, values] : s.grid)
        multiply(values.size(), "grid." + key);
    if (s.trials > 0)
        multiply(static_cast<std::size_t>(std::min<std::int64_t>(s.trials, kMaxRuns + 1)), "trials");
    return s;
}

json SweepSpec::canonicalJson() const
{
    json grid = json::object();
    for (const auto& [key, values] : this->grid)
        grid[key] = values;
    json random = json::object();
    for (const auto& [key, d] : this->random) {
        switch (d.kind) {
        case SweepDistribution::Kind::Choice:
            random[key] = { { "distribution", "choice" }, { "values", d.values } };
            break;
        case SweepDistribution::Kind::Uniform:
        case SweepDistribution::Kind::LogUniform:
            random[key] = { { "distribution", d.kind == SweepDistribution::Kind::Uniform ? "uniform" : "log_uniform" },
                { "low", d.integer ? json(static_cast<std::int64_t>(d.low)) : json(d.low) },
                { "high", d.integer ? json(static_cast<std::int64_t>(d.high)) : json(d.high) } };
            break;
        }
    }
    json j = { { "name", name }, { "base", base }, { "grid", grid }, { "random", random }, { "trials", trials },
        { "seed", randomSeed }, { "seeds", seeds }, { "metric", metric }, { "direction", maximize ? "max" : "min" } };
    if (earlyStopping) {
        const auto& e = *earlyStopping;
        j["early_stopping"]
            = { { "rule", e.rule == SweepEarlyStopping::Rule::Median ? "median" : "successive_halving" },
                  { "metric", e.metric }, { "direction", e.maximize ? "max" : "min" }, { "steps", e.steps },
                  { "min_runs", e.minRuns }, { "reduction_factor", e.reductionFactor } };
    }
    return j;
}

std::vector<SweepPoint> expandPoints(const SweepSpec& spec)
{
    // The random trials, drawn once and crossed with every grid combination.
    std::vector<json> trials;
    SplitMix64 rng(spec.randomSeed);
    for (std::int64_t t = 0; t < spec.trials; ++t) {
        json draw = json::object();
        for (const auto& [key, d] : spec.random)
            draw[key] = drawValue(d, rng);
        trials.push_back(std::move(draw));
    }
    if (trials.empty())
        trials.push_back(json::object());

    std::vector<SweepPoint> points;
    std::vector<std::size_t> at(spec.grid.size(), 0);
    while (true) {
        json combination = json::object();
        for (std::size_t k = 0; k < spec.grid.size(); ++k)
            combination[spec.grid[k].first] = spec.grid[k].second[at[k]];
        for (const json& draw : trials) {
            SweepPoint p;
            p.index = points.size();
            p.params = combination;
            for (auto it = draw.begin(); it != draw.end(); ++it)
                p.params[it.key()] = it.value();
            points.push_back(std::move(p));
        }
        // The last key changes fastest.
        std::size_t k = spec.grid.size();
        while (k > 0) {
            --k;
            if (++at[k] < spec.grid[k].second.size())
                break;
            at[k] = 0;
            if (k == 0)
                return points;
        }
        if (spec.grid.empty())
            return points;
    }
}

void setDottedKey(json& config, const std::string& dottedKey, const json& value, const std::string& source)
{
    if (!config.is_object())
        throw InputError(source + ": the run configuration is not a mapping");
    const auto dot = dottedKey.find('.');
    const std::string section = dot == std::string::npos ? std::string() : dottedKey.substr(0, dot);
    const std::string key = dot == std::string::npos ? dottedKey : dottedKey.substr(dot + 1);
    if (!section.empty() && !isSection(section))
        throw InputError(source + ": key '" + dottedKey + "': unknown section '" + section + "'");

    if (isKindSection(section) && (key == "type" || key == "name")) {
        // The plugin: in its section's `type` when the base groups it, else the flat key.
        for (const char* s : { "adapter", "method", "objective" }) {
            if ((section == "objective") != (std::string(s) == "objective"))
                continue;
            if (auto it = config.find(s); it != config.end() && it->is_object()) {
                (*it)[it->contains("name") && !it->contains("type") ? "name" : "type"] = value;
                return;
            }
        }
        const std::string flat
            = section == "objective" ? "objective" : (config.contains("method") ? "method" : "adapter");
        config[flat] = value;
        return;
    }
    // Where the base has the key already: replaced there, so it is never given twice.
    if (!isSection(key) && config.contains(key)) {
        config[key] = value;
        return;
    }
    for (const char* s : kSections) {
        if (auto it = config.find(s); it != config.end() && it->is_object() && it->contains(key)) {
            (*it)[key] = value;
            return;
        }
    }
    if (isSection(key))
        throw InputError(source + ": key '" + dottedKey + "' names a section, not a run configuration key");
    if (!section.empty()) {
        if (auto it = config.find(section); it != config.end() && it->is_object()) {
            (*it)[key] = value;
            return;
        }
    }
    config[key] = value;
}

std::vector<SweepRunConfig> expandRuns(const SweepSpec& spec, const PluginRegistry& plugins)
{
    const std::string file = spec.file.string();
    std::vector<SweepRunConfig> out;
    for (const SweepPoint& point : expandPoints(spec)) {
        const std::size_t seedCount = std::max<std::size_t>(1, spec.seeds.size());
        for (std::size_t s = 0; s < seedCount; ++s) {
            json config = spec.base;
            const std::string where = file + ": point " + std::to_string(point.index)
                + (point.params.empty() ? std::string() : " (" + describeParams(point.params) + ")");
            for (auto it = point.params.begin(); it != point.params.end(); ++it)
                setDottedKey(config, it.key(), it.value(), file);
            SweepRunConfig run;
            run.pointIndex = point.index;
            run.seedIndex = s;
            if (!spec.seeds.empty()) {
                run.seed = spec.seeds[s];
                setDottedKey(config, "training.seed", *run.seed, file);
            }
            try {
                run.config = TrainConfig::fromJson(config, plugins, where).toJson();
            } catch (const InputError& e) {
                for (auto it = point.params.begin(); it != point.params.end(); ++it) {
                    if (!knownKey(flatKey(it.key()), config, plugins))
                        throw InputError(file + ": key '" + it.key() + "' is not a run configuration key (not a "
                            + "trainer key, nor a parameter of adapter '" + pluginOf(config, false) + "' or objective '"
                            + pluginOf(config, true) + "')");
                }
                throw;
            }
            out.push_back(std::move(run));
        }
    }
    return out;
}

} // namespace tunebench
