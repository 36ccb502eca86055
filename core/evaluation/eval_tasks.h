#pragma once

// Evaluation tasks (docs/architecture.md, "Evaluation tasks"): a YAML file of
// benchmark-style tasks over JSON Lines data, in the three kinds
// lm-evaluation-harness defines: multiple choice scored by log-likelihood,
// generation with an answer extracted by a regular expression, and perplexity.
// This half reads and checks the files and builds the prompts; evaluate.h runs
// a model on them.
//
//   tasks:
//     - name: capitals                  # [A-Za-z0-9_.-]+, unique in the file
//       kind: multiple_choice           # | generation | perplexity
//       data: capitals.jsonl            # relative to the tasks file
//       prompt: "{name} lives in"       # {field} of the record; {{ and }} are braces
//       choices: options                # multiple_choice: a field with a list of strings
//       answer: gold                    # the right choice (its index or text) / the expected answer
//       num_fewshot: 2                  # examples in front of the prompt (not for perplexity)
//       target_delimiter: " "           # between a prompt and its continuation (harness default)
//       fewshot_delimiter: "\n\n"       # between the few-shot examples and the prompt
//       regex: "(-?[0-9]+)"             # generation: first capture group (the whole match without one)
//       group_select: 0                 # which match: 0 the first, -1 the last
//       compare: exact                  # | numeric (|got - expected| <= tolerance)
//       tolerance: 1.0e-6
//       max_new_tokens: 16              # generation: greedy, stopped at `until`
//       until: ["\n"]                   # default: the fewshot delimiter
//
// A perplexity task's prompt is the text scored (default "{text}").

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

enum class EvalTaskKind { MultipleChoice, Generation, Perplexity };
std::string toString(EvalTaskKind kind);

// A prompt template: literal text and {field} references.
class PromptTemplate {
public:
    PromptTemplate() = default;
    // Throws InputError (prefixed with `where`) for an unclosed or empty {} or a lone }.
    PromptTemplate(const std::string& text, const std::string& where);
    // The fields the template refers to, in order of first use.
    const std::vector<std::string>& fields() const { return m_fields; }
    // Fills the template; strings as written, numbers and booleans as JSON prints them.
    // Throws InputError (prefixed with `where`) naming a field the record lacks or that holds a list or object.
    std::string render(const nlohmann::json& record, const std::string& where) const;

private:
    struct Part {
        bool field = false;
        std::string text; // literal text, or the field name
    };
    std::vector<Part> m_parts;
    std::vector<std::string> m_fields;
};

struct EvalRecord {
    int line = 0; // in the data file
    nlohmann::json fields;
    std::vector<std::string> choices; // multiple_choice
    int gold = -1; // multiple_choice: index of the right choice
    std::string answer; // generation: the expected answer as text
    std::string prompt; // the rendered prompt (the scored text for perplexity)
};

struct EvalTask {
    std::string name;
    EvalTaskKind kind = EvalTaskKind::MultipleChoice;
    std::string dataPath; // absolute
    PromptTemplate prompt;
    std::string choicesField;
    std::string answerField;
    int numFewshot = 0;
    std::string targetDelimiter = " ";
    std::string fewshotDelimiter = "\n\n";
    std::string regex;
    int groupSelect = 0;
    bool numericCompare = false;
    double tolerance = 1e-6;
    std::int64_t maxNewTokens = 32;
    std::vector<std::string> until;
    std::vector<EvalRecord> records;

    // The continuation that completes record i in a few-shot example (the right choice, or the answer).
    std::string target(std::size_t i) const;
    // The indices of the few-shot examples in front of record i: num_fewshot records other than i, drawn
    // without replacement by a partial Fisher-Yates shuffle driven by SplitMix64 seeded with
    // seed ^ (i * 0x9E3779B97F4A7C15), so a seed gives the same examples on every platform.
    std::vector<std::size_t> fewshotIndices(std::size_t i, std::uint64_t seed) const;
    // What the model sees before a continuation: each example as prompt + target_delimiter + target, joined by
    // fewshot_delimiter, then fewshot_delimiter and record i's prompt (just the prompt without examples).
    std::string context(std::size_t i, std::uint64_t seed) const;
};

struct EvalTaskFile {
    std::string path;
    std::string contentHash; // SHA-256 over the tasks file and every data file
    std::vector<EvalTask> tasks;

    // Reads and checks a tasks file and its data. Throws InputError naming the file, the task and the key
    // ("tasks.yaml: task 'sums': key 'regex': ..."), or FILE:LINE for a bad data record.
    static EvalTaskFile load(const std::filesystem::path& path);
};

// The answer a generation task reads from the model's text: the group_select-th match of the regex (its first
// capture group, or the whole match when it has none); the whole text, trimmed, without a regex. nullopt when
// the regex does not match (scored wrong, as the harness's "[invalid]"). Throws InputError for a bad regex.
std::optional<std::string> extractAnswer(
    const std::string& text, const std::string& regex, int groupSelect, const std::string& where = "regex");

// Whether an extracted answer equals the expected one: both trimmed and equal, or with `numeric` both read as
// numbers (thousands commas dropped) within the tolerance.
bool answerMatches(const std::string& got, const std::string& expected, bool numeric, double tolerance);

} // namespace tunebench
