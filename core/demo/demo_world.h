#pragma once

// The demo's data, generated from a seed (no downloads, no third-party text):
// a small procedural world of people with a city, a job, a favourite colour and
// pets, written as plain sentences, together with arithmetic and lists. The
// corpus pretrains the demo model; the datasets fine-tune and measure it.
// Deterministic: the same seed and sizes give the same bytes on every platform
// (no std:: distributions, whose output is implementation-defined).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench::demo {

struct Person {
    std::string name;
    std::string city;
    std::string job;
    std::string colour;
    std::string pet;
    int pets = 1;
    int age = 30;
};

struct WorldSizes {
    int people = 60;
    int corpusParagraphs = 3000; // pretraining texts
    int referenceTexts = 48; // forgetting reference: general text
    int referenceProbes = 32; // forgetting reference: completions (facts and sums)
    int preferencePairs = 200;
    int probePrompts = 8; // sampling diversity
};

// SplitMix64: a small generator whose output is fixed by its definition.
class DemoRandom {
public:
    explicit DemoRandom(std::uint64_t seed)
        : m_state(seed)
    { }
    std::uint64_t next();
    int below(int n); // uniform in [0, n)
    template <typename T> const T& pick(const std::vector<T>& items)
    {
        return items[static_cast<std::size_t>(below(static_cast<int>(items.size())))];
    }

private:
    std::uint64_t m_state;
};

class DemoWorld {
public:
    DemoWorld(std::uint64_t seed, WorldSizes sizes);

    const std::vector<Person>& people() const { return m_people; }
    // People whose cards the target task trains on; the others' cards are its evaluation set.
    bool inTargetTraining(std::size_t personIndex) const;

    // Pretraining texts: {"text": ...} records of a few sentences each.
    std::vector<nlohmann::json> corpus() const;
    // The target task (SFT, instruction format): write a person's card in a
    // fixed format the corpus never shows: {"instruction", "output"} records.
    std::vector<nlohmann::json> targetTrain() const;
    std::vector<nlohmann::json> targetEval() const;
    // The target evaluation set as forgetting-style probes {"prompt", "answer"}
    // (the prompt in the trainer's Alpaca layout), scored on the answer.
    std::vector<nlohmann::json> targetEvalProbes() const;
    // What the model knew before: corpus-style texts it did not see and
    // completion probes ({"prompt": "Ana lives in", "answer": " Tobek"}).
    std::vector<nlohmann::json> reference() const;
    // Preference pairs over the target task: the right card against a card
    // with a wrong fact or in the corpus's prose.
    std::vector<nlohmann::json> preferencePairs() const;
    // Prompts sampled for diversity (one a line in the trainer's sample_prompts file form).
    std::vector<std::string> probePrompts() const;

    // Evaluation tasks (core/evaluation/eval_tasks.h) over what the corpus teaches: facts as multiple choice
    // ({"question": "X lives in", "choices": [the true city and 3 others, shuffled], "answer": index}) for every
    // person, and sums as generation ({"question": "12 plus 7 is", "answer": 19}), sumProblems of them.
    std::vector<nlohmann::json> factChoices() const;
    std::vector<nlohmann::json> sumProblems(int count = 32) const;
    // GRPO's prompts: sums as the corpus writes them ({"prompt": "12 plus 7 is", "answer": "19"}), drawn apart
    // from sumProblems' so the evaluation task's sums are not the ones trained on.
    std::vector<nlohmann::json> sumPrompts(int count = 64) const;
    // Facts the corpus never tells (each person's lucky number), as {"text": ...} records: the demo pipeline's
    // continued pretraining stage, whose forgetting the card task that follows is measured by.
    std::vector<nlohmann::json> newFacts() const;

    // The card the target task asks for.
    static std::string card(const Person& p);
    static std::string cardInstruction(const Person& p);
    // The Alpaca layout the trainer gives instruction data without a chat template.
    static std::string alpacaPrompt(const std::string& instruction);

private:
    std::string factSentence(const Person& p, DemoRandom& rng) const;
    std::string paragraph(DemoRandom& rng) const;

    std::uint64_t m_seed;
    WorldSizes m_sizes;
    std::vector<Person> m_people;
};

// Writes eval_facts.jsonl, eval_sums.jsonl and eval_tasks.yaml (the tasks "facts", multiple choice, and "sums",
// generation with the number read by a regex and compared numerically) into dir; returns the tasks file's path.
// The same world gives the same bytes.
std::filesystem::path writeEvaluationTasks(const DemoWorld& world, const std::filesystem::path& dir);

} // namespace tunebench::demo
