#include "core/conformance/adapter_conformance.h"

#include "core/export/peft_adapter.h"
#include "core/method/adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_writer.h"
#include "core/train/optimizer.h"
#include "core/util/error.h"
#include "core/util/text.h"
#include "core/util/yaml_json.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <set>

namespace tunebench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::int64_t kVocab = 48;
constexpr std::int64_t kSteps = 12;

// --- Reading the file ---

struct Field {
    const fs::path& file;
    std::string path; // "rows[2].trainable"

    Field operator[](const std::string& key) const { return { file, path.empty() ? key : path + "." + key }; }
    Field operator[](std::size_t i) const { return { file, path + "[" + std::to_string(i) + "]" }; }
    [[noreturn]] void fail(const std::string& expected) const
    {
        throw InputError(file.string() + ": " + path + ": expected " + expected);
    }
};

const json* member(const json& object, const std::string& key)
{
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

const json& requireObject(const json& value, const Field& where)
{
    if (!value.is_object())
        where.fail("a mapping");
    return value;
}

void refuseUnknown(const json& object, const Field& where, const std::set<std::string>& known)
{
    for (const auto& [key, value] : object.items()) {
        if (!known.count(key)) {
            std::string list;
            for (const std::string& k : known)
                list += (list.empty() ? "" : ", ") + k;
            throw InputError(where.file.string() + ": " + where[key].path + ": unknown key (known: " + list + ")");
        }
    }
}

bool isArchitecture(const std::string& name)
{
    for (const std::string& a : conformanceArchitectures()) {
        if (a == name)
            return true;
    }
    return false;
}

std::string architectureList()
{
    std::string list;
    for (const std::string& a : conformanceArchitectures())
        list += (list.empty() ? "" : " or ") + a;
    return list;
}

ConformanceRow readRow(const json& value, const Field& where)
{
    requireObject(value, where);
    std::set<std::string> known = { "name", "params", "architectures", "trainable", "identity_at_init", "learning_rate",
        "staged", "lr_scales" };
    for (const std::string& a : conformanceArchitectures())
        known.insert(a);
    refuseUnknown(value, where, known);
    ConformanceRow row;
    const json* name = member(value, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty())
        where["name"].fail("a name for the row");
    row.name = name->get<std::string>();
    json common = json::object();
    if (const json* p = member(value, "params"))
        common = requireObject(*p, where["params"]);
    std::vector<std::string> archs = conformanceArchitectures();
    if (const json* list = member(value, "architectures")) {
        if (!list->is_array() || list->empty())
            where["architectures"].fail("a list of " + architectureList());
        archs.clear();
        for (std::size_t i = 0; i < list->size(); ++i) {
            if (!(*list)[i].is_string() || !isArchitecture((*list)[i].get<std::string>()))
                where["architectures"][i].fail(architectureList());
            archs.push_back((*list)[i].get<std::string>());
        }
    }
    const json* trainable = member(value, "trainable");
    if (!trainable || !trainable->is_object())
        where["trainable"].fail("a mapping of architecture to the number of trainable values");
    for (const std::string& a : archs) {
        json params = common;
        if (const json* extra = member(value, a))
            params.update(requireObject(*extra, where[a]));
        row.params[a] = params;
        const json* count = member(*trainable, a);
        if (!count || !count->is_number_integer() || count->get<std::int64_t>() <= 0)
            where["trainable"][a].fail("the number of trainable values on the " + a + " model (a whole number > 0)");
        row.trainable[a] = count->get<std::int64_t>();
    }
    if (const json* scales = member(value, "lr_scales")) {
        requireObject(*scales, where["lr_scales"]);
        for (const auto& [arch, names] : scales->items()) {
            if (!row.params.count(arch))
                where["lr_scales"][arch].fail("an architecture the row runs on");
            requireObject(names, where["lr_scales"][arch]);
            for (const auto& [tensor, scale] : names.items()) {
                if (!scale.is_number())
                    where["lr_scales"][arch][tensor].fail("a number");
                row.lrScales[arch][tensor] = scale.get<double>();
            }
        }
    }
    if (const json* v = member(value, "identity_at_init")) {
        if (!v->is_boolean())
            where["identity_at_init"].fail("true or false");
        row.identityAtInit = v->get<bool>();
    }
    if (const json* v = member(value, "staged")) {
        if (!v->is_boolean())
            where["staged"].fail("true or false");
        row.staged = v->get<bool>();
    }
    if (const json* v = member(value, "learning_rate")) {
        if (!v->is_number() || !(v->get<double>() > 0))
            where["learning_rate"].fail("a number above 0");
        row.learningRate = v->get<double>();
    }
    return row;
}

ConformanceRefusal readRefusal(const json& value, const Field& where)
{
    requireObject(value, where);
    refuseUnknown(value, where, { "architecture", "params", "message" });
    ConformanceRefusal r;
    const json* arch = member(value, "architecture");
    if (!arch || !arch->is_string() || !isArchitecture(arch->get<std::string>()))
        where["architecture"].fail(architectureList());
    r.architecture = arch->get<std::string>();
    const json* params = member(value, "params");
    r.params = params ? requireObject(*params, where["params"]) : json::object();
    const json* message = member(value, "message");
    if (!message || !message->is_string() || message->get<std::string>().empty())
        where["message"].fail("the text the error message must contain");
    r.message = message->get<std::string>();
    return r;
}

// --- Checking ---

at::Tensor conformanceIds()
{
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
    return at::randint(0, kVocab - 1, { 4, 12 }, g, at::TensorOptions().dtype(at::kLong));
}

at::Tensor logitsOf(const CausalLM& model, const at::Tensor& ids)
{
    at::NoGradGuard noGrad;
    ForwardInput in;
    in.inputIds = ids;
    return model.forward(in).logits;
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

at::Tensor sftLoss(const CausalLM& model, const at::Tensor& ids)
{
    ForwardInput in;
    in.inputIds = ids;
    const at::Tensor logits = model.forward(in).logits;
    const std::int64_t t = ids.size(1) - 1;
    return at::cross_entropy_loss(
        logits.narrow(1, 0, t).reshape({ -1, logits.size(-1) }), ids.narrow(1, 1, t).reshape({ -1 }));
}

std::unique_ptr<Adapter> attachTo(CausalLM& model, const PluginRegistry& plugins, const std::string& adapter,
    const json& params, const std::string& label)
{
    json given = params;
    const json resolved = plugins.require(PluginKind::Adapter, adapter).schema.resolve(given, label);
    auto a = plugins.createAdapter(adapter);
    model.setRequiresGrad(false);
    a->attach({ model, resolved, 5, {} });
    return a;
}

// The row's checks in order; each failure is noted and, where later checks depend on the state, ends the row.
class RowCheck {
public:
    RowCheck(const ConformanceSpec& spec, const ConformanceRow& row, const std::string& arch,
        const PluginRegistry& plugins, ConformanceResult& result)
        : m_spec(spec)
        , m_row(row)
        , m_arch(arch)
        , m_plugins(plugins)
        , m_result(result)
        , m_label(spec.file.string() + ": row '" + row.name + "' (" + arch + ")")
    { }

    void run()
    {
        m_model = conformanceModel(m_arch);
        m_ids = conformanceIds();
        m_base = logitsOf(*m_model, m_ids);
        for (const auto& [name, t] : m_model->namedParameters())
            m_before[name] = t.detach().clone();
        m_adapter = attachTo(*m_model, m_plugins, m_spec.adapter, m_row.params.at(m_arch), m_label);
        if (m_row.identityAtInit) {
            const double d = maxAbsDiff(logitsOf(*m_model, m_ids), m_base);
            if (!(d < 1e-6))
                fail("the outputs changed at initialisation by " + formatNumber(d) + " (identity_at_init: true)");
        }
        if (!countTrainable() || !train())
            return;
        checkUntouched();
        m_tuned = logitsOf(*m_model, m_ids);
        checkRestore();
        checkDisable();
        checkPeft();
        checkMerge();
    }

private:
    void fail(const std::string& what) { m_result.failures.push_back(what); }

    bool countTrainable()
    {
        m_adapter->beginStage(0);
        m_groups = m_adapter->parameterGroups(0.01);
        std::int64_t count = 0;
        for (const auto& g : m_groups) {
            for (const auto& p : g.parameters) {
                if (!p.tensor.requires_grad()) {
                    if (!m_row.staged)
                        fail("parameterGroups lists " + p.name
                            + ", which does not require grad (staged: true allows that)");
                    m_frozenListed.insert(p.name);
                }
                m_listed.insert(p.name);
                count += p.tensor.numel();
            }
        }
        m_result.trainable = count;
        checkLrScales();
        if (count == 0 || m_frozenListed.size() >= m_listed.size()) {
            fail("nothing trains");
            return false;
        }
        if (count != m_row.trainable.at(m_arch))
            fail(std::to_string(count) + " trainable values, the row states "
                + std::to_string(m_row.trainable.at(m_arch)));
        return true;
    }

    void checkLrScales()
    {
        auto expected = m_row.lrScales.find(m_arch);
        if (expected == m_row.lrScales.end())
            return;
        for (const auto& [name, scale] : expected->second) {
            bool found = false;
            for (const auto& g : m_groups) {
                for (const auto& p : g.parameters) {
                    if (p.name != name)
                        continue;
                    found = true;
                    if (std::abs(g.lrScale - scale) > 1e-12)
                        fail(name + " trains at learning-rate scale " + formatNumber(g.lrScale) + ", the row states "
                            + formatNumber(scale));
                }
            }
            if (!found)
                fail("lr_scales names " + name + ", which parameterGroups does not list");
        }
    }

    // The trainer's protocol: afterStep after each optimiser step, a fresh optimiser when it returns true.
    bool train()
    {
        auto optimizer = makeAdamW(m_groups);
        m_result.lossBefore = sftLoss(*m_model, m_ids).item<double>();
        for (std::int64_t step = 0; step < kSteps; ++step) {
            optimizer->zeroGrad();
            sftLoss(*m_model, m_ids).backward();
            optimizer->step(m_row.learningRate);
            if (m_adapter->afterStep(step + 1)) {
                m_groups = m_adapter->parameterGroups(0.01);
                optimizer = makeAdamW(m_groups);
            }
        }
        m_result.lossAfter = sftLoss(*m_model, m_ids).item<double>();
        if (!(m_result.lossAfter < m_result.lossBefore)) {
            fail("the loss did not fall in " + std::to_string(kSteps) + " steps: " + formatNumber(m_result.lossBefore)
                + " -> " + formatNumber(m_result.lossAfter));
            return false;
        }
        return true;
    }

    void checkUntouched()
    {
        for (const auto& [name, t] : m_model->namedParameters()) {
            if (at::equal(m_before.at(name), t.detach()))
                continue;
            if (!m_listed.count(name))
                fail(name + " changed but parameterGroups never listed it");
            else if (m_frozenListed.count(name))
                fail(name + " changed while frozen in this stage");
        }
    }

    void checkRestore()
    {
        auto fresh = conformanceModel(m_arch);
        auto b = attachTo(*fresh, m_plugins, m_spec.adapter, m_row.params.at(m_arch), m_label);
        b->restoreState(m_adapter->state());
        const double d = maxAbsDiff(logitsOf(*fresh, m_ids), m_tuned);
        if (!(d < 1e-6))
            fail("the state restored into a fresh attachment gives outputs " + formatNumber(d) + " away");
    }

    void checkDisable()
    {
        if (!m_adapter->canDisable())
            return;
        m_adapter->setEnabled(false);
        if (maxAbsDiff(logitsOf(*m_model, m_ids), m_base) != 0.0)
            fail("switched off, the outputs are not the base model's");
        m_adapter->setEnabled(true);
        if (maxAbsDiff(logitsOf(*m_model, m_ids), m_tuned) != 0.0)
            fail("switched back on, the outputs differ from before");
    }

    // The PEFT form read back as an import reads a folder: whichever plugin takes it, attached to a fresh model.
    void checkPeft()
    {
        const PluginInfo& info = m_plugins.require(PluginKind::Adapter, m_spec.adapter);
        if (info.peftType.empty())
            return;
        m_result.peftType = info.peftType;
        auto fresh = conformanceModel(m_arch);
        json given = m_row.params.at(m_arch);
        const json resolved = info.schema.resolve(given, m_label);
        PeftForm form = m_adapter->toPeft(resolved, m_adapter->state(), fresh->config());
        json config = form.config;
        config["peft_type"] = info.peftType;
        const PeftAdapterData data = peftAdapterData(config, form.tensors, *fresh, m_plugins, m_label + " as PEFT");
        fresh->setRequiresGrad(false);
        auto imported = m_plugins.createAdapter(data.adapter);
        imported->attach({ *fresh, data.params, 0, {} });
        imported->restoreState(data.state);
        m_result.peftDifference = maxAbsDiff(logitsOf(*fresh, m_ids), m_tuned);
        if (!(m_result.peftDifference < 1e-5))
            fail("its PEFT form, read back as the " + data.adapter + " plugin, gives outputs "
                + formatNumber(m_result.peftDifference) + " away");
    }

    void checkMerge()
    {
        if (!m_adapter->canMerge())
            return;
        m_adapter->merge();
        for (const Linear* l : m_model->linears()) {
            if (l->hook())
                fail("a hook is left on " + l->name() + " after merging");
        }
        m_result.mergeDifference = maxAbsDiff(logitsOf(*m_model, m_ids), m_tuned);
        if (!(m_result.mergeDifference < 1e-5))
            fail("merged, the bare model's outputs are " + formatNumber(m_result.mergeDifference) + " away");
    }

    const ConformanceSpec& m_spec;
    const ConformanceRow& m_row;
    const std::string& m_arch;
    const PluginRegistry& m_plugins;
    ConformanceResult& m_result;
    std::string m_label;
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Adapter> m_adapter;
    std::vector<ParameterGroup> m_groups;
    std::set<std::string> m_listed;
    std::set<std::string> m_frozenListed; // listed, but not trained in this stage (HFT's other half)
    std::map<std::string, at::Tensor> m_before;
    at::Tensor m_ids;
    at::Tensor m_base;
    at::Tensor m_tuned;
};

} // namespace

ConformanceSpec readConformanceSpec(const fs::path& file)
{
    if (!fs::exists(file))
        throw InputError(file.string()
            + ": missing; an adapter plugin carries its conformance rows in conformance.yaml beside its sources "
              "(see core/conformance/adapter_conformance.h)");
    const json doc = readYamlOrJsonFile(file);
    const Field root { file, "" };
    if (!doc.is_object())
        throw InputError(file.string() + ": expected a mapping with adapter, rows, run");
    refuseUnknown(doc, root, { "adapter", "rows", "refusals", "run", "merged_export" });
    ConformanceSpec spec;
    spec.file = file;
    const json* adapter = member(doc, "adapter");
    if (!adapter || !adapter->is_string() || adapter->get<std::string>().empty())
        root["adapter"].fail("the plugin's name");
    spec.adapter = adapter->get<std::string>();
    const json* rows = member(doc, "rows");
    if (!rows || !rows->is_array() || rows->empty())
        root["rows"].fail("a list of at least one row");
    for (std::size_t i = 0; i < rows->size(); ++i)
        spec.rows.push_back(readRow((*rows)[i], root["rows"][i]));
    if (const json* refusals = member(doc, "refusals")) {
        if (!refusals->is_array())
            root["refusals"].fail("a list");
        for (std::size_t i = 0; i < refusals->size(); ++i)
            spec.refusals.push_back(readRefusal((*refusals)[i], root["refusals"][i]));
    }
    const json* run = member(doc, "run");
    if (!run || !run->is_object())
        root["run"].fail("the adapter section of a run configuration (a mapping, without type)");
    if (run->contains("type"))
        root["run"]["type"].fail("no type: it is the adapter's own name");
    spec.run = *run;
    if (const json* merged = member(doc, "merged_export")) {
        if (!merged->is_boolean())
            root["merged_export"].fail("true or false");
        spec.mergedExport = merged->get<bool>();
    }
    return spec;
}

const std::vector<std::string>& conformanceArchitectures()
{
    static const std::vector<std::string> names = { "llama", "gpt2" };
    return names;
}

std::unique_ptr<CausalLM> conformanceModel(const std::string& architecture, std::uint64_t seed)
{
    RandomModelSpec spec;
    spec.architecture = architecture == "gpt2" ? Architecture::Gpt2 : Architecture::Llama;
    spec.vocabSize = kVocab;
    spec.hiddenSize = 16;
    spec.numLayers = 2;
    spec.numHeads = 4;
    if (spec.architecture != Architecture::Gpt2)
        spec.numKvHeads = 2;
    spec.intermediateSize = 32;
    return createRandomCausalLM(randomModelConfig(spec), seed);
}

ConformanceResult checkConformanceRow(const ConformanceSpec& spec, const ConformanceRow& row,
    const std::string& architecture, const PluginRegistry& plugins)
{
    ConformanceResult result;
    result.row = row.name;
    result.architecture = architecture;
    try {
        RowCheck(spec, row, architecture, plugins, result).run();
    } catch (const std::exception& e) {
        result.failures.push_back(std::string("error: ") + e.what());
    }
    return result;
}

ConformanceResult checkConformanceRefusal(const ConformanceSpec& spec, std::size_t index, const PluginRegistry& plugins)
{
    const ConformanceRefusal& refusal = spec.refusals.at(index);
    ConformanceResult result;
    result.row = "refusal " + std::to_string(index + 1);
    result.architecture = refusal.architecture;
    auto model = conformanceModel(refusal.architecture);
    try {
        attachTo(*model, plugins, spec.adapter, refusal.params, "");
        result.failures.push_back("parameters " + refusal.params.dump() + " were not refused");
    } catch (const InputError& e) {
        if (std::string(e.what()).find(refusal.message) == std::string::npos)
            result.failures.push_back(
                "refused with \"" + std::string(e.what()) + "\", which does not contain \"" + refusal.message + "\"");
    } catch (const std::exception& e) {
        result.failures.push_back("refused with another error than InputError: " + std::string(e.what()));
    }
    return result;
}

std::vector<ConformanceResult> checkConformance(const ConformanceSpec& spec, const PluginRegistry& plugins)
{
    std::vector<ConformanceResult> out;
    for (const ConformanceRow& row : spec.rows) {
        for (const auto& [arch, params] : row.params)
            out.push_back(checkConformanceRow(spec, row, arch, plugins));
    }
    for (std::size_t i = 0; i < spec.refusals.size(); ++i)
        out.push_back(checkConformanceRefusal(spec, i, plugins));
    return out;
}

} // namespace tunebench
