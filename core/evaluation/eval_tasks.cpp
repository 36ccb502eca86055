#include "core/evaluation/eval_tasks.h"

#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/text.h"
#include "core/util/yaml_json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string readFile(const fs::path& path, const std::string& what)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open " + what + " for reading");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Text of a scalar field: strings as written, other scalars as JSON prints them.
std::optional<std::string> scalarText(const nlohmann::json& v)
{
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_number() || v.is_boolean())
        return v.dump();
    return std::nullopt;
}

std::uint64_t splitMix64(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const std::set<std::string> kTaskKeys
    = { "name", "kind", "data", "prompt", "choices", "answer", "num_fewshot", "target_delimiter", "fewshot_delimiter",
          "regex", "group_select", "compare", "tolerance", "max_new_tokens", "until" };

// Reads one task's keys; `where` is "FILE: task 'NAME'".
class TaskReader {
public:
    TaskReader(const nlohmann::json& node, std::string where)
        : m_node(node)
        , m_where(std::move(where))
    { }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const
    {
        throw InputError(m_where + ": key '" + key + "': " + what);
    }
    bool has(const std::string& key) const { return m_node.contains(key) && !m_node[key].is_null(); }
    std::string string(const std::string& key, const std::string& fallback, bool required = false) const
    {
        if (!has(key)) {
            if (required)
                throw InputError(m_where + ": key '" + key + "' is required");
            return fallback;
        }
        if (!m_node[key].is_string())
            fail(key, "must be text, got " + m_node[key].dump());
        return m_node[key].get<std::string>();
    }
    std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) const
    {
        if (!has(key))
            return fallback;
        if (!m_node[key].is_number_integer())
            fail(key, "must be a whole number, got " + m_node[key].dump());
        const auto v = m_node[key].get<std::int64_t>();
        if (v < min || v > max)
            fail(key,
                "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got "
                    + std::to_string(v));
        return v;
    }
    double number(const std::string& key, double fallback) const
    {
        if (!has(key))
            return fallback;
        if (!m_node[key].is_number() || !(m_node[key].get<double>() >= 0))
            fail(key, "must be a number >= 0, got " + m_node[key].dump());
        return m_node[key].get<double>();
    }
    const std::string& where() const { return m_where; }

private:
    const nlohmann::json& m_node;
    std::string m_where;
};

void readRecords(EvalTask& task, const std::string& where)
{
    const std::string content = readFile(task.dataPath, "the data of " + where);
    std::istringstream lines(content);
    std::string line;
    int lineNo = 0;
    while (std::getline(lines, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string at = task.dataPath + ":" + std::to_string(lineNo) + ": ";
        EvalRecord r;
        r.line = lineNo;
        r.fields = nlohmann::json::parse(line, nullptr, false);
        if (r.fields.is_discarded() || !r.fields.is_object())
            throw InputError(at + "expected a JSON object (one record a line)");
        r.prompt = task.prompt.render(r.fields, at + "task '" + task.name + "': prompt: ");
        if (task.kind == EvalTaskKind::MultipleChoice) {
            const auto c = r.fields.find(task.choicesField);
            if (c == r.fields.end() || !c->is_array() || c->size() < 2)
                throw InputError(
                    at + "field '" + task.choicesField + "' (the task's choices) must be a list of at least two texts");
            for (const auto& v : *c) {
                if (!v.is_string())
                    throw InputError(at + "field '" + task.choicesField + "' must hold texts, got " + v.dump());
                r.choices.push_back(v.get<std::string>());
            }
            const auto a = r.fields.find(task.answerField);
            if (a == r.fields.end())
                throw InputError(at + "field '" + task.answerField + "' (the task's answer) is missing");
            if (a->is_number_integer()) {
                r.gold = a->get<int>();
                if (r.gold < 0 || r.gold >= static_cast<int>(r.choices.size()))
                    throw InputError(at + "field '" + task.answerField + "' is index " + a->dump() + " but there are "
                        + std::to_string(r.choices.size()) + " choices");
            } else if (a->is_string()) {
                const auto it = std::find(r.choices.begin(), r.choices.end(), a->get<std::string>());
                if (it == r.choices.end())
                    throw InputError(
                        at + "field '" + task.answerField + "' (" + a->dump() + ") is not one of the choices");
                r.gold = static_cast<int>(it - r.choices.begin());
            } else {
                throw InputError(at + "field '" + task.answerField + "' must be a choice or its index");
            }
        } else if (task.kind == EvalTaskKind::Generation) {
            const auto a = r.fields.find(task.answerField);
            const auto text = a == r.fields.end() ? std::nullopt : scalarText(*a);
            if (!text)
                throw InputError(at + "field '" + task.answerField + "' (the task's answer) must be text or a number");
            r.answer = *text;
            if (task.numericCompare && !answerMatches(r.answer, r.answer, true, 0))
                throw InputError(at + "field '" + task.answerField + "' (" + a->dump()
                    + ") is not a number, but the task compares numerically");
        } else if (r.prompt.empty()) {
            throw InputError(at + "the text to score is empty");
        }
        task.records.push_back(std::move(r));
    }
    if (task.records.empty())
        throw InputError(task.dataPath + ": " + where + " has no records");
    if (static_cast<std::size_t>(task.numFewshot) >= task.records.size())
        throw InputError(where + ": key 'num_fewshot': " + std::to_string(task.numFewshot) + " examples need at least "
            + std::to_string(task.numFewshot + 1) + " records, " + task.dataPath + " has "
            + std::to_string(task.records.size()));
}

EvalTask readTask(const nlohmann::json& node, const fs::path& file, std::size_t index, std::set<std::string>& names)
{
    const std::string position = file.string() + ": task " + std::to_string(index + 1);
    if (!node.is_object())
        throw InputError(position + ": expected a mapping {name, kind, data, prompt, ...}");
    const TaskReader first(node, position);
    EvalTask t;
    t.name = first.string("name", "", true);
    const bool validName = !t.name.empty() && std::all_of(t.name.begin(), t.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (!validName)
        first.fail(
            "name", "'" + t.name + "' must be letters, digits, '_', '-' or '.' (it names metrics eval/NAME/...)");
    if (!names.insert(t.name).second)
        first.fail("name", "'" + t.name + "' names two tasks; names must be unique");
    const TaskReader r(node, file.string() + ": task '" + t.name + "'");
    for (auto it = node.begin(); it != node.end(); ++it) {
        if (!kTaskKeys.count(it.key()))
            throw InputError(r.where() + ": unknown key '" + it.key()
                + "' (known: name, kind, data, prompt, choices, answer, num_fewshot, target_delimiter, "
                  "fewshot_delimiter, regex, group_select, compare, tolerance, max_new_tokens, until)");
    }
    const std::string kind = r.string("kind", "", true);
    if (kind == "multiple_choice")
        t.kind = EvalTaskKind::MultipleChoice;
    else if (kind == "generation" || kind == "generate_until")
        t.kind = EvalTaskKind::Generation;
    else if (kind == "perplexity" || kind == "loglikelihood_rolling")
        t.kind = EvalTaskKind::Perplexity;
    else
        r.fail("kind", "'" + kind + "' is not one of multiple_choice, generation, perplexity");
    const bool mc = t.kind == EvalTaskKind::MultipleChoice, gen = t.kind == EvalTaskKind::Generation;
    auto onlyFor = [&](const char* key, bool allowed, const char* kinds) {
        if (r.has(key) && !allowed)
            r.fail(key, std::string("applies to ") + kinds + " tasks only, this one is " + kind);
    };
    onlyFor("choices", mc, "multiple_choice");
    onlyFor("answer", mc || gen, "multiple_choice and generation");
    onlyFor("num_fewshot", mc || gen, "multiple_choice and generation");
    for (const char* key : { "regex", "group_select", "compare", "tolerance", "max_new_tokens", "until" })
        onlyFor(key, gen, "generation");
    const fs::path data = r.string("data", "", true);
    t.dataPath = (data.is_absolute() ? data : fs::absolute(file).parent_path() / data).lexically_normal().string();
    t.prompt = PromptTemplate(r.string("prompt", "{text}", mc || gen), r.where() + ": key 'prompt': ");
    if (mc)
        t.choicesField = r.string("choices", "", true);
    if (mc || gen)
        t.answerField = r.string("answer", "", true);
    t.numFewshot = static_cast<int>(r.integer("num_fewshot", 0, 0, 64));
    t.targetDelimiter = r.string("target_delimiter", " ");
    t.fewshotDelimiter = r.string("fewshot_delimiter", "\n\n");
    if (gen) {
        t.regex = r.string("regex", "");
        t.groupSelect = static_cast<int>(r.integer("group_select", 0, -1000, 1000));
        if (!t.regex.empty())
            extractAnswer("", t.regex, 0, r.where() + ": key 'regex'"); // compiles it, or names the error
        const std::string compare = r.string("compare", "exact");
        if (compare != "exact" && compare != "numeric")
            r.fail("compare", "'" + compare + "' is not one of exact, numeric");
        t.numericCompare = compare == "numeric";
        t.tolerance = r.number("tolerance", 1e-6);
        t.maxNewTokens = r.integer("max_new_tokens", 32, 1, 4096);
        if (r.has("until")) {
            const auto& u = node["until"];
            const bool ok = (u.is_string() && !u.get<std::string>().empty())
                || (u.is_array() && std::all_of(u.begin(), u.end(), [](const nlohmann::json& s) {
                       return s.is_string() && !s.get<std::string>().empty();
                   }));
            if (!ok)
                r.fail("until", "must be a non-empty text or a list of them");
            if (u.is_string())
                t.until.push_back(u.get<std::string>());
            else
                t.until = u.get<std::vector<std::string>>();
        } else {
            t.until.push_back(t.fewshotDelimiter);
        }
    }
    readRecords(t, r.where());
    return t;
}

} // namespace

std::string toString(EvalTaskKind kind)
{
    switch (kind) {
    case EvalTaskKind::MultipleChoice:
        return "multiple_choice";
    case EvalTaskKind::Generation:
        return "generation";
    case EvalTaskKind::Perplexity:
        return "perplexity";
    }
    return "?";
}

PromptTemplate::PromptTemplate(const std::string& text, const std::string& where)
{
    std::string literal;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
            literal += c;
            ++i;
        } else if (c == '{') {
            const auto close = text.find('}', i + 1);
            if (close == std::string::npos)
                throw InputError(
                    where + "'{' at offset " + std::to_string(i) + " is not closed (write {{ for a brace)");
            const std::string field = text.substr(i + 1, close - i - 1);
            if (field.empty() || field.find('{') != std::string::npos)
                throw InputError(where + "'{" + field + "}' at offset " + std::to_string(i) + " names no field");
            if (!literal.empty())
                m_parts.push_back({ false, std::move(literal) });
            literal.clear();
            m_parts.push_back({ true, field });
            if (std::find(m_fields.begin(), m_fields.end(), field) == m_fields.end())
                m_fields.push_back(field);
            i = close;
        } else if (c == '}') {
            throw InputError(where + "'}' at offset " + std::to_string(i) + " closes nothing (write }} for a brace)");
        } else {
            literal += c;
        }
    }
    if (!literal.empty())
        m_parts.push_back({ false, std::move(literal) });
}

std::string PromptTemplate::render(const nlohmann::json& record, const std::string& where) const
{
    std::string out;
    for (const Part& p : m_parts) {
        if (!p.field) {
            out += p.text;
            continue;
        }
        const auto it = record.find(p.text);
        if (it == record.end())
            throw InputError(where + "unknown field {" + p.text + "}: the record has no '" + p.text + "'");
        const auto text = scalarText(*it);
        if (!text)
            throw InputError(where + "field {" + p.text + "} must be text or a number, got " + it->dump());
        out += *text;
    }
    return out;
}

std::string EvalTask::target(std::size_t i) const
{
    const EvalRecord& r = records.at(i);
    return kind == EvalTaskKind::MultipleChoice ? r.choices.at(static_cast<std::size_t>(r.gold)) : r.answer;
}

std::vector<std::size_t> EvalTask::fewshotIndices(std::size_t i, std::uint64_t seed) const
{
    std::vector<std::size_t> pool;
    pool.reserve(records.size());
    for (std::size_t j = 0; j < records.size(); ++j) {
        if (j != i)
            pool.push_back(j);
    }
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(numFewshot), pool.size());
    std::uint64_t state = seed ^ (static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull);
    for (std::size_t n = 0; n < k; ++n) {
        const std::size_t pick = n + static_cast<std::size_t>(splitMix64(state) % (pool.size() - n));
        std::swap(pool[n], pool[pick]);
    }
    pool.resize(k);
    return pool;
}

std::string EvalTask::context(std::size_t i, std::uint64_t seed) const
{
    std::string out;
    for (std::size_t j : fewshotIndices(i, seed))
        out += records[j].prompt + targetDelimiter + target(j) + fewshotDelimiter;
    return out + records.at(i).prompt;
}

EvalTaskFile EvalTaskFile::load(const fs::path& path)
{
    const std::string content = readFile(path, "the tasks file");
    const nlohmann::json root = yamlToJson(content, path.string());
    EvalTaskFile file;
    file.path = fs::absolute(path).lexically_normal().string();
    if (!root.is_object() || !root.contains("tasks") || !root["tasks"].is_array() || root["tasks"].empty())
        throw InputError(path.string() + ": a tasks file is a mapping with 'tasks': a list of tasks");
    for (auto it = root.begin(); it != root.end(); ++it) {
        if (it.key() != "tasks")
            throw InputError(path.string() + ": unknown key '" + it.key() + "' (a tasks file has 'tasks' only)");
    }
    Sha256 hash;
    hash.update("tasks " + sha256Hex(content) + "\n");
    std::set<std::string> names;
    for (std::size_t i = 0; i < root["tasks"].size(); ++i) {
        file.tasks.push_back(readTask(root["tasks"][i], path, i, names));
        hash.update(
            "data " + file.tasks.back().name + " " + sha256Hex(readFile(file.tasks.back().dataPath, "data")) + "\n");
    }
    file.contentHash = hash.hexDigest();
    return file;
}

std::optional<std::string> extractAnswer(
    const std::string& text, const std::string& regex, int groupSelect, const std::string& where)
{
    if (regex.empty())
        return trimmed(text);
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    // Invalid UTF-8 in generated text (a cut multi-byte character) fails to match rather than erroring.
    pcre2_code* raw = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errorCode, &errorOffset, nullptr);
    if (!raw) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(errorCode, message, sizeof message);
        throw InputError(where + ": " + regex + " does not compile: " + reinterpret_cast<const char*>(message)
            + " (at offset " + std::to_string(errorOffset) + ")");
    }
    const std::unique_ptr<pcre2_code, void (*)(pcre2_code*)> code(raw, pcre2_code_free);
    const std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
        pcre2_match_data_create_from_pattern(code.get(), nullptr), pcre2_match_data_free);
    std::vector<std::string> matches;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t start = 0;
    while (start <= text.size()) {
        const int rc = pcre2_match(code.get(), subject, text.size(), start, 0, md.get(), nullptr);
        if (rc < 0)
            break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        // The first capture group that took part; the whole match for a regex without groups.
        std::string value = text.substr(ov[0], ov[1] - ov[0]);
        for (int g = 1; g < rc; ++g) {
            if (ov[2 * g] != PCRE2_UNSET) {
                value = text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
                break;
            }
        }
        matches.push_back(std::move(value));
        start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    if (matches.empty())
        return std::nullopt;
    const auto n = static_cast<int>(matches.size());
    const int index = groupSelect < 0 ? n + groupSelect : groupSelect;
    if (index < 0 || index >= n)
        return std::nullopt;
    return trimmed(matches[static_cast<std::size_t>(index)]);
}

bool answerMatches(const std::string& got, const std::string& expected, bool numeric, double tolerance)
{
    if (!numeric)
        return trimmed(got) == trimmed(expected);
    auto parse = [](const std::string& s) -> std::optional<double> {
        std::string t;
        for (char c : trimmed(s)) {
            if (c != ',')
                t += c;
        }
        if (t.empty())
            return std::nullopt;
        std::size_t used = 0;
        try {
            const double v = std::stod(t, &used);
            if (used != t.size() || !std::isfinite(v))
                return std::nullopt;
            return v;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    const auto a = parse(got), b = parse(expected);
    return a && b && std::abs(*a - *b) <= tolerance;
}

} // namespace tunebench
