// The libFuzzer entry point of tests/fuzz, driven in the normal build by a
// deterministic mutator: the seed corpus plus files written by Tunebench's own
// writer, mutated by byte flips, truncations, length-field edits, insertions,
// deletions and JSON-aware number and dtype swaps. The entry point aborts on
// anything but a clean InputError or a header whose invariants hold, so this
// test passes when nothing crashes (run it with -DTUNEBENCH_SANITIZE=ON for ASan).

#include "core/model/safetensors.h"

#include "../fuzz/safetensors_header_target.h"

#include <QtTest>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

using namespace tunebench;
using fuzz::HeaderVerdict;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes fromString(const std::string& s)
{
    return Bytes(s.begin(), s.end());
}

std::vector<Bytes> seedCorpus()
{
    std::vector<Bytes> seeds;
    const std::filesystem::path dir
        = std::filesystem::path(TUNEBENCH_SOURCE_DIR) / "tests/fuzz/corpus/safetensors_header";
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end()); // directory order is not deterministic
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    seeds.push_back(fromString(serializeSafetensors(
        { { "model.layers.0.mlp.up_proj.weight", at::ones({ 3, 2 }) }, { "b", at::zeros({ 4 }, at::kBFloat16) },
            { "i", at::arange(3, at::kLong) }, { "flag", at::ones({ 2 }, at::kBool) } },
        { { "format", "pt" } })));
    seeds.push_back(fromString(serializeSafetensors({ { "x", at::ones({ 1 }, at::kDouble) } })));
    return seeds;
}

class Mutator {
public:
    explicit Mutator(std::uint64_t seed)
        : m_rng(seed)
    { }

    std::size_t below(std::size_t n)
    {
        return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(m_rng);
    }

    void mutate(Bytes& b)
    {
        switch (below(9)) {
        case 0: // flip a bit
            if (!b.empty())
                b[below(b.size())] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1: // set a byte
            if (!b.empty())
                b[below(b.size())] = static_cast<std::uint8_t>(below(256));
            break;
        case 2: // truncate
            b.resize(below(b.size() + 1));
            break;
        case 3:
            editLength(b);
            break;
        case 4: // insert bytes
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(below(b.size() + 1)), below(8) + 1,
                static_cast<std::uint8_t>(below(256)));
            break;
        case 5: // delete a run
            if (!b.empty()) {
                const std::size_t at = below(b.size());
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + below(16) + 1)));
            }
            break;
        case 6:
            replaceNumber(b);
            break;
        case 7:
            replaceToken(b);
            break;
        case 8: // append data, as a writer that forgot the header would
            b.resize(b.size() + below(32), 0);
            break;
        }
    }

private:
    // The 8-byte length: small nudges, extremes, the file size, random values.
    void editLength(Bytes& b)
    {
        if (b.size() < 8)
            b.resize(8, 0);
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | b[static_cast<std::size_t>(i)];
        const std::uint64_t choices[]
            = { n + 1, n - 1, n + 8, n - 8, 0, b.size(), b.size() - 8, 100'000'001ull, ~0ull, m_rng() };
        n = choices[below(std::size(choices))];
        for (int i = 0; i < 8; ++i)
            b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    }

    // A digit run in the JSON becomes another number (huge, negative, zero, fractional).
    void replaceNumber(Bytes& b)
    {
        std::vector<std::size_t> starts;
        for (std::size_t i = 8; i < b.size(); ++i) {
            if (std::isdigit(b[i]) && !std::isdigit(b[i - 1]))
                starts.push_back(i);
        }
        if (starts.empty())
            return;
        const std::size_t at = starts[below(starts.size())];
        std::size_t end = at;
        while (end < b.size() && std::isdigit(b[end]))
            ++end;
        static const char* const kNumbers[] = { "0", "1", "7", "-1", "1.5", "1e3", "4294967296", "9223372036854775807",
            "18446744073709551615", "99999999999999999999999", "24", "65" };
        const std::string n = kNumbers[below(std::size(kNumbers))];
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(end));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), n.begin(), n.end());
    }

    // A quoted token (a dtype, a key) becomes another token or JSON value.
    void replaceToken(Bytes& b)
    {
        std::vector<std::size_t> quotes;
        for (std::size_t i = 8; i < b.size(); ++i) {
            if (b[i] == '"')
                quotes.push_back(i);
        }
        if (quotes.size() < 2)
            return;
        const std::size_t q = below(quotes.size() - 1);
        static const char* const kTokens[] = { "\"F32\"", "\"F16\"", "\"BF16\"", "\"U16\"", "\"BOOL\"", "\"I64\"",
            "\"F8_E4M3\"", "\"F33\"", "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "null", "[]",
            "{}", "[[[[1]]]]", "\"\xff\"" };
        const std::string t = kTokens[below(std::size(kTokens))];
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(quotes[q]),
            b.begin() + static_cast<std::ptrdiff_t>(quotes[q + 1] + 1));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(quotes[q]), t.begin(), t.end());
    }

    std::mt19937_64 m_rng;
};

} // namespace

class TestSafetensorsFuzz : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void seedsAreValid()
    {
        for (const Bytes& seed : seedCorpus())
            QCOMPARE(fuzz::checkSafetensorsHeader(seed.data(), seed.size()), HeaderVerdict::Accepted);
    }

    void mutatedInputsNeverCrash()
    {
        const std::vector<Bytes> seeds = seedCorpus();
        Mutator mutator(20261121);
        constexpr int kIterations = 1'000'000;
        int accepted = 0;
        int rejected = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kIterations; ++i) {
            Bytes input = seeds[mutator.below(seeds.size())];
            const std::size_t rounds = 1 + mutator.below(4);
            for (std::size_t r = 0; r < rounds; ++r)
                mutator.mutate(input);
            // An exact-size heap copy, so ASan sees any read past the end.
            auto exact = std::make_unique<std::uint8_t[]>(std::max<std::size_t>(input.size(), 1));
            std::copy(input.begin(), input.end(), exact.get());
            if (fuzz::checkSafetensorsHeader(exact.get(), input.size()) == HeaderVerdict::Accepted)
                ++accepted;
            else
                ++rejected;
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        qInfo("%d mutated inputs in %.1f s (%.0f/s): %d accepted, %d rejected", kIterations, seconds,
            kIterations / seconds, accepted, rejected);
        // Both outcomes occur, or the mutator is not exercising the parser.
        QVERIFY(accepted > 1000);
        QVERIFY(rejected > kIterations / 2);
    }
};

QTEST_GUILESS_MAIN(TestSafetensorsFuzz)
#include "test_safetensors_fuzz.moc"
