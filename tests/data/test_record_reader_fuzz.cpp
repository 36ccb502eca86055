// The JSONL and CSV readers' fuzz entry point (tests/fuzz/record_reader_target.h)
// driven by a deterministic mutator in the normal build: the seed corpus,
// mutated by byte flips, truncations, insertions of structural bytes (quotes,
// commas, newlines, braces, a BOM), deletions and line duplications. The entry
// point aborts on anything but records and errors whose invariants hold or a
// clean InputError, so this test passes when nothing crashes (run it with
// -DTUNEBENCH_SANITIZE=ON for ASan).

#include "../fuzz/record_reader_target.h"

#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

using namespace tunebench;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::vector<Bytes> seeds(const std::string& folder)
{
    std::vector<std::filesystem::path> files;
    for (const auto& entry :
        std::filesystem::directory_iterator(std::filesystem::path(TUNEBENCH_SOURCE_DIR) / "tests/fuzz/corpus" / folder))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<Bytes> out;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
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
        static const std::vector<std::string> pieces = { "\"", ",", "\n", "\r\n", "{", "}", "[", "]", ":", "\\", "\"\"",
            "\xEF\xBB\xBF", "\\ud800", "\xC3", "\xFF", std::string(1, '\0'), "null", "1e400", "{\"a\":" };
        switch (below(6)) {
        case 0:
            if (!b.empty())
                b[below(b.size())] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1:
            b.resize(below(b.size() + 1));
            break;
        case 2: {
            const std::string& p = pieces[below(pieces.size())];
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(below(b.size() + 1)), p.begin(), p.end());
            break;
        }
        case 3:
            if (!b.empty()) {
                const std::size_t at = below(b.size());
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + below(8) + 1)));
            }
            break;
        case 4: { // duplicate a slice (a line, a cell)
            if (b.empty())
                break;
            const std::size_t from = below(b.size());
            const std::size_t len = std::min(b.size() - from, below(40) + 1);
            const Bytes slice(
                b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(below(b.size() + 1)), slice.begin(), slice.end());
            break;
        }
        case 5:
            if (!b.empty())
                b[below(b.size())] = static_cast<std::uint8_t>(below(256));
            break;
        }
    }

private:
    std::mt19937_64 m_rng;
};

} // namespace

class TestRecordReaderFuzz : public QObject {
    Q_OBJECT

    void run(const std::string& folder, FileType type)
    {
        const std::vector<Bytes> corpus = seeds(folder);
        QVERIFY(!corpus.empty());
        std::size_t accepted = 0, rejected = 0, records = 0, errors = 0;
        for (const Bytes& seed : corpus) {
            const auto v = fuzz::checkRecordReader(seed.data(), seed.size(), type);
            records += v.records;
        }
        QVERIFY(records > 0); // the seeds are mostly readable
        Mutator m(type == FileType::Csv ? 11 : 7);
        for (int i = 0; i < 3000; ++i) {
            Bytes b = corpus[m.below(corpus.size())];
            const std::size_t rounds = m.below(4) + 1;
            for (std::size_t r = 0; r < rounds; ++r)
                m.mutate(b);
            const auto v = fuzz::checkRecordReader(b.data(), b.size(), type);
            (v.rejected ? rejected : accepted) += 1;
            records += v.records;
            errors += v.errors;
        }
        qInfo("%s: %zu inputs read, %zu rejected, %zu records, %zu record errors", folder.c_str(), accepted, rejected,
            records, errors);
        QVERIFY(accepted > 0);
        QVERIFY(errors > 0); // the mutations reach the error paths
    }

private Q_SLOTS:
    void jsonl() { run("jsonl_reader", FileType::Jsonl); }
    void csv() { run("csv_reader", FileType::Csv); }
};

QTEST_GUILESS_MAIN(TestRecordReaderFuzz)
#include "test_record_reader_fuzz.moc"
