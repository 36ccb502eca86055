#include "core/demo/demo_world.h"

#include "core/util/error.h"

#include <algorithm>
#include <fstream>
#include <set>

namespace tunebench::demo {

namespace {

const std::vector<std::string> kSyllables { "ma", "ri", "to", "ka", "lo", "ne", "su", "vi", "da", "ben", "ra", "mi",
    "sa", "el", "an", "or", "ti", "pe", "go", "lu" };
const std::vector<std::string> kCities { "Tobek", "Marlow", "Sennic", "Avora", "Quill", "Dunmere", "Pellit", "Oskar",
    "Varn", "Helio" };
const std::vector<std::string> kJobs { "baker", "farmer", "teacher", "painter", "doctor", "sailor", "builder", "singer",
    "miner", "tailor" };
const std::vector<std::string> kColours { "red", "blue", "green", "yellow", "purple", "orange", "white", "black" };
const std::vector<std::string> kPets { "cat", "dog", "bird", "fish", "goat", "horse" };
const std::vector<std::string> kPlaces { "near the sea", "by a river", "in the hills", "on a lake", "in a forest",
    "near the mountains", "on a plain", "by the coast", "in a valley", "on an island" };

std::string capitalised(std::string s)
{
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

std::string petPhrase(const Person& p)
{
    return std::to_string(p.pets) + " " + p.pet + (p.pets == 1 ? "" : "s");
}

} // namespace

std::uint64_t DemoRandom::next()
{
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int DemoRandom::below(int n)
{
    return n <= 1 ? 0 : static_cast<int>(next() % static_cast<std::uint64_t>(n));
}

DemoWorld::DemoWorld(std::uint64_t seed, WorldSizes sizes)
    : m_seed(seed)
    , m_sizes(sizes)
{
    DemoRandom rng(seed);
    std::set<std::string> names;
    while (static_cast<int>(m_people.size()) < m_sizes.people) {
        std::string name;
        const int parts = 2 + rng.below(2);
        for (int i = 0; i < parts; ++i)
            name += rng.pick(kSyllables);
        name = capitalised(name);
        if (!names.insert(name).second)
            continue;
        Person p;
        p.name = name;
        p.city = rng.pick(kCities);
        p.job = rng.pick(kJobs);
        p.colour = rng.pick(kColours);
        p.pet = rng.pick(kPets);
        p.pets = 1 + rng.below(5);
        p.age = 18 + rng.below(60);
        m_people.push_back(std::move(p));
    }
}

bool DemoWorld::inTargetTraining(std::size_t personIndex) const
{
    return personIndex % 4 != 3; // three quarters train, every fourth person evaluates
}

std::string DemoWorld::factSentence(const Person& p, DemoRandom& rng) const
{
    switch (rng.below(8)) {
    case 0:
        return p.name + " lives in " + p.city + ".";
    case 1:
        return p.name + " works as a " + p.job + ".";
    case 2:
        return p.name + " likes the colour " + p.colour + ".";
    case 3:
        return p.name + " has " + petPhrase(p) + ".";
    case 4:
        return p.name + " is " + std::to_string(p.age) + " years old.";
    case 5:
        return "In " + p.city + " lives " + p.name + ", who is a " + p.job + ".";
    case 6:
        return "The " + p.job + " " + p.name + " has " + petPhrase(p) + ".";
    default:
        return p.name + " from " + p.city + " likes " + p.colour + " things.";
    }
}

std::string DemoWorld::paragraph(DemoRandom& rng) const
{
    std::string text;
    const int sentences = 3 + rng.below(4);
    const Person& focus = rng.pick(m_people);
    for (int i = 0; i < sentences; ++i) {
        std::string s;
        switch (rng.below(10)) {
        case 0:
        case 1:
        case 2:
        case 3:
            s = factSentence(focus, rng);
            break;
        case 4:
            s = factSentence(rng.pick(m_people), rng);
            break;
        case 5: {
            const int a = rng.below(50), b = rng.below(50);
            s = std::to_string(a) + " plus " + std::to_string(b) + " is " + std::to_string(a + b) + ".";
            break;
        }
        case 6: {
            const int a = rng.below(60), b = rng.below(a + 1);
            s = std::to_string(a) + " minus " + std::to_string(b) + " is " + std::to_string(a - b) + ".";
            break;
        }
        case 7: {
            const int start = rng.below(40), step = 1 + rng.below(3);
            s = "Counting:";
            for (int k = 0; k < 5; ++k)
                s += (k ? ", " : " ") + std::to_string(start + k * step);
            s += ".";
            break;
        }
        case 8: {
            const std::string& city = rng.pick(kCities);
            s = city + " is a town "
                + kPlaces[static_cast<std::size_t>(std::find(kCities.begin(), kCities.end(), city) - kCities.begin())]
                + ".";
            break;
        }
        default: {
            const Person& other = rng.pick(m_people);
            s = focus.name + " met " + other.name + " in " + other.city + " and they talked about " + rng.pick(kPets)
                + "s.";
            break;
        }
        }
        text += (i ? " " : "") + s;
    }
    return text;
}

std::vector<nlohmann::json> DemoWorld::corpus() const
{
    DemoRandom rng(m_seed ^ 0x636f72707573ULL);
    std::vector<nlohmann::json> out;
    out.reserve(static_cast<std::size_t>(m_sizes.corpusParagraphs));
    // Every fact of every person once, so each is learnable, then random paragraphs.
    for (const Person& p : m_people) {
        out.push_back({ { "text",
            p.name + " lives in " + p.city + ". " + p.name + " works as a " + p.job + ". " + p.name
                + " likes the colour " + p.colour + ". " + p.name + " has " + petPhrase(p) + "." } });
    }
    while (static_cast<int>(out.size()) < m_sizes.corpusParagraphs)
        out.push_back({ { "text", paragraph(rng) } });
    return out;
}

std::string DemoWorld::card(const Person& p)
{
    return "name: " + p.name + " | city: " + p.city + " | job: " + p.job + " | pets: " + petPhrase(p);
}

std::string DemoWorld::cardInstruction(const Person& p)
{
    return "Write the card for " + p.name + ".";
}

std::string DemoWorld::alpacaPrompt(const std::string& instruction)
{
    return "### Instruction:\n" + instruction + "\n\n### Response:\n";
}

std::vector<nlohmann::json> DemoWorld::targetTrain() const
{
    std::vector<nlohmann::json> out;
    for (std::size_t i = 0; i < m_people.size(); ++i) {
        if (inTargetTraining(i))
            out.push_back({ { "instruction", cardInstruction(m_people[i]) }, { "output", card(m_people[i]) } });
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::targetEval() const
{
    std::vector<nlohmann::json> out;
    for (std::size_t i = 0; i < m_people.size(); ++i) {
        if (!inTargetTraining(i))
            out.push_back({ { "instruction", cardInstruction(m_people[i]) }, { "output", card(m_people[i]) } });
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::targetEvalProbes() const
{
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& r : targetEval())
        out.push_back(
            { { "prompt", alpacaPrompt(r.at("instruction").get<std::string>()) }, { "answer", r.at("output") } });
    return out;
}

std::vector<nlohmann::json> DemoWorld::reference() const
{
    DemoRandom rng(m_seed ^ 0x7265666572656eULL);
    std::vector<nlohmann::json> out;
    for (int i = 0; i < m_sizes.referenceTexts; ++i)
        out.push_back({ { "text", paragraph(rng) } });
    for (int i = 0; i < m_sizes.referenceProbes; ++i) {
        if (i % 2 == 0) {
            const Person& p = rng.pick(m_people);
            if (i % 4 == 0)
                out.push_back({ { "prompt", p.name + " lives in" }, { "answer", " " + p.city } });
            else
                out.push_back({ { "prompt", p.name + " works as a" }, { "answer", " " + p.job } });
        } else {
            const int a = rng.below(50), b = rng.below(50);
            out.push_back({ { "prompt", std::to_string(a) + " plus " + std::to_string(b) + " is" },
                { "answer", " " + std::to_string(a + b) } });
        }
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::preferencePairs() const
{
    DemoRandom rng(m_seed ^ 0x707265666572ULL);
    std::vector<nlohmann::json> out;
    std::vector<std::size_t> trained;
    for (std::size_t i = 0; i < m_people.size(); ++i) {
        if (inTargetTraining(i))
            trained.push_back(i);
    }
    for (int k = 0; k < m_sizes.preferencePairs && !trained.empty(); ++k) {
        const Person& p = m_people[trained[static_cast<std::size_t>(k) % trained.size()]];
        Person wrong = p;
        std::string rejected;
        switch (rng.below(3)) {
        case 0:
            while (wrong.city == p.city)
                wrong.city = rng.pick(kCities);
            rejected = card(wrong);
            break;
        case 1:
            while (wrong.job == p.job)
                wrong.job = rng.pick(kJobs);
            rejected = card(wrong);
            break;
        default:
            rejected = p.name + " lives in " + p.city + " and has " + petPhrase(p) + ".";
            break;
        }
        out.push_back(
            { { "prompt", alpacaPrompt(cardInstruction(p)) }, { "chosen", card(p) }, { "rejected", rejected } });
    }
    return out;
}

std::vector<std::string> DemoWorld::probePrompts() const
{
    std::vector<std::string> out;
    for (int i = 0; i < m_sizes.probePrompts && !m_people.empty(); ++i) {
        const Person& p = m_people[static_cast<std::size_t>(i * 7) % m_people.size()];
        if (i % 2 == 0)
            out.push_back(alpacaPrompt(cardInstruction(p)));
        else
            out.push_back(alpacaPrompt("Tell me about " + p.name + "."));
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::factChoices() const
{
    DemoRandom rng(m_seed ^ 0x6576616c66616374ULL);
    std::vector<nlohmann::json> out;
    for (const Person& p : m_people) {
        std::vector<std::string> choices { p.city };
        while (choices.size() < 4) {
            const std::string& other = rng.pick(kCities);
            if (std::find(choices.begin(), choices.end(), other) == choices.end())
                choices.push_back(other);
        }
        // Fisher-Yates with the world's generator, so the right city's place is fixed by the seed.
        for (std::size_t i = choices.size() - 1; i > 0; --i)
            std::swap(choices[i], choices[static_cast<std::size_t>(rng.below(static_cast<int>(i) + 1))]);
        const auto answer = std::find(choices.begin(), choices.end(), p.city) - choices.begin();
        out.push_back({ { "question", p.name + " lives in" }, { "choices", choices }, { "answer", answer } });
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::sumProblems(int count) const
{
    DemoRandom rng(m_seed ^ 0x6576616c73756dULL);
    std::vector<nlohmann::json> out;
    for (int i = 0; i < count; ++i) {
        const int a = rng.below(50), b = rng.below(50);
        out.push_back(
            { { "question", std::to_string(a) + " plus " + std::to_string(b) + " is" }, { "answer", a + b } });
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::sumPrompts(int count) const
{
    DemoRandom rng(m_seed ^ 0x6772706f73756dULL);
    std::vector<nlohmann::json> out;
    for (int i = 0; i < count; ++i) {
        const int a = rng.below(50), b = rng.below(50);
        out.push_back({ { "prompt", std::to_string(a) + " plus " + std::to_string(b) + " is" },
            { "answer", std::to_string(a + b) } });
    }
    return out;
}

std::vector<nlohmann::json> DemoWorld::newFacts() const
{
    DemoRandom rng(m_seed ^ 0x6e6577666163ULL);
    std::vector<nlohmann::json> out;
    for (const Person& p : m_people) {
        const std::string number = std::to_string(10 + rng.below(90));
        // Two wordings of one fact, as the corpus tells a fact several ways.
        out.push_back({ { "text", p.name + "'s lucky number is " + number + "." } });
        out.push_back({ { "text", "The lucky number of " + p.name + " from " + p.city + " is " + number + "." } });
    }
    return out;
}

std::filesystem::path writeEvaluationTasks(const DemoWorld& world, const std::filesystem::path& dir)
{
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out)
            throw Error("cannot write " + (dir / name).string());
    };
    auto lines = [](const std::vector<nlohmann::json>& records) {
        std::string text;
        for (const nlohmann::json& r : records)
            text += r.dump() + "\n";
        return text;
    };
    write("eval_facts.jsonl", lines(world.factChoices()));
    write("eval_sums.jsonl", lines(world.sumProblems()));
    // The corpus writes "A plus B is C." and "X lives in C.": no few-shot examples, a sum ends at its full stop.
    write("eval_tasks.yaml",
        "tasks:\n"
        "  - name: facts\n"
        "    kind: multiple_choice\n"
        "    data: eval_facts.jsonl\n"
        "    prompt: \"{question}\"\n"
        "    choices: choices\n"
        "    answer: answer\n"
        "  - name: sums\n"
        "    kind: generation\n"
        "    data: eval_sums.jsonl\n"
        "    prompt: \"{question}\"\n"
        "    answer: answer\n"
        "    regex: \"(-?[0-9]+)\"\n"
        "    compare: numeric\n"
        "    max_new_tokens: 6\n"
        "    until: [\".\", \"\\n\"]\n");
    return dir / "eval_tasks.yaml";
}

} // namespace tunebench::demo
