// Oversized inputs, each through tunebench-cli in a child process whose peak
// resident memory (wait4's ru_maxrss) is checked against the bound that
// docs/architecture.md states ("Oversized inputs"):
// - a dataset JSONL whose one line is a 100 MB record: imported;
// - a 100 MB single-line JSON run configuration: refused with a message
//   naming the file and its size, before it is parsed;
// - a 10-million-token text: tokenised (one line) and imported as a text
//   dataset;
// - a byte-level BPE tokenizer.json with a million merges: loads and encodes.
// Prints each case's time and peak RSS. Label slow.

#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Child {
    int code = -1;
    long peakMiB = 0;
    double seconds = 0;
    std::string err;
};

std::string readText(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs tunebench-cli with stdout to `out` and stderr captured; its own peak RSS from wait4.
Child runCli(const std::vector<std::string>& args, const fs::path& out, const fs::path& errFile)
{
    Child c;
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        std::vector<char*> argv { const_cast<char*>(TUNEBENCH_CLI) };
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    rusage usage {};
    wait4(pid, &status, 0, &usage);
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    c.peakMiB = usage.ru_maxrss / 1024;
    c.err = readText(errFile);
    return c;
}

void report(const char* what, const Child& c)
{
    std::printf("%-44s exit %d  %6.1f s  peak RSS %5ld MiB\n", what, c.code, c.seconds, c.peakMiB);
    std::fflush(stdout);
}

// "bcde fghi " repeated is 10 tokens a repetition with the tiny tokenizer: no merge joins these letters, the
// space is a token of its own before a letter other than t or a (the first "bcde" has no space before it, the
// text's last space stands alone).
constexpr const char* kUnit = "bcde fghi ";
constexpr std::size_t kUnitTokens = 10;

std::size_t countIds(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    std::size_t commas = 0;
    char buffer[1 << 16];
    bool any = false;
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        for (std::streamsize i = 0; i < in.gcount(); ++i) {
            commas += buffer[i] == ',';
            any = any || (buffer[i] >= '0' && buffer[i] <= '9');
        }
    }
    return any ? commas + 1 : 0;
}

// The GPT-2 byte alphabet's first n symbols (printable ASCII first), each a token.
std::vector<std::string> alphabet()
{
    return model_test::byteLevelAlphabet();
}

} // namespace

class TestOversizedInputs : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_root;
    fs::path m_tokenizer;

    fs::path path(const char* name) const { return m_root / name; }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        m_tokenizer = m_root / "tiny-tokenizer";
        model_test::writeTinyTokenizer(m_tokenizer);
        const Child c = runCli({ "workspace", "init", (m_root / "ws").string() }, path("init.out"), path("init.err"));
        QCOMPARE(c.code, 0);
    }

    // A JSONL dataset whose only line is one 100 MB record imports, holding a bounded multiple of the line.
    void hundredMegabyteJsonlLine()
    {
        const fs::path data = path("huge-line.jsonl");
        {
            std::ofstream out(data, std::ios::binary);
            out << "{\"text\": \"";
            const std::string block(1 << 20, 'a');
            for (int i = 0; i < 100; ++i)
                out << block;
            out << "\"}\n";
        }
        const Child c = runCli({ "dataset", "import", data.string(), "--workspace", (m_root / "ws").string() },
            path("line.out"), path("line.err"));
        report("dataset import, one 100 MB JSONL line", c);
        QVERIFY2(c.code == 0, c.err.c_str());
        QVERIFY(readText(path("line.out")).find("\"records\":1") != std::string::npos);
        QVERIFY2(c.peakMiB <= kJsonlLineBoundMiB, qPrintable(QString::number(c.peakMiB)));
    }

    // A 100 MB run configuration is refused before parsing, naming the file and the limit.
    void hundredMegabyteConfig()
    {
        const fs::path config = path("huge-config.json");
        {
            std::ofstream out(config, std::ios::binary);
            out << "{\"model\": \"none\", \"dataset\": \"none\", \"adapter\": \"lora\", \"name\": \"";
            const std::string block(1 << 20, 'n');
            for (int i = 0; i < 100; ++i)
                out << block;
            out << "\"}\n";
        }
        const Child c = runCli({ "estimate", config.string() }, path("config.out"), path("config.err"));
        report("estimate, a 100 MB single-line JSON config", c);
        QCOMPARE(c.code, 1);
        QVERIFY2(c.err.find(config.string()) != std::string::npos, c.err.c_str());
        QVERIFY2(c.err.find("larger than") != std::string::npos, c.err.c_str());
        QVERIFY2(c.peakMiB <= kConfigBoundMiB, qPrintable(QString::number(c.peakMiB)));
    }

    // A 10-million-token text: tokenised as one line, and imported as a text dataset.
    void tenMillionTokenText()
    {
        const std::size_t units = 10'000'000 / kUnitTokens;
        const fs::path input = path("ten-million.jsonl"); // one JSON string: what `tokenize` reads
        const fs::path text = path("ten-million.txt"); // the same text as one line of a text dataset
        {
            std::ofstream json(input, std::ios::binary);
            std::ofstream plain(text, std::ios::binary);
            std::string chunk;
            for (int i = 0; i < 1000; ++i)
                chunk += kUnit;
            json << '"';
            for (std::size_t i = 0; i < units / 1000; ++i) {
                json << chunk;
                plain << chunk;
            }
            json << "\"\n";
            plain << "\n";
        }
        Child c = runCli({ "tokenize", "--tokenizer", m_tokenizer.string(), "--input", input.string() },
            path("tokens.out"), path("tokens.err"));
        report("tokenize, 10 million tokens on one line", c);
        QVERIFY2(c.code == 0, c.err.c_str());
        QCOMPARE(countIds(path("tokens.out")), units * kUnitTokens);
        QVERIFY2(c.peakMiB <= kTokenizeBoundMiB, qPrintable(QString::number(c.peakMiB)));

        c = runCli({ "dataset", "import", text.string(), "--workspace", (m_root / "ws").string() }, path("text.out"),
            path("text.err"));
        report("dataset import, a 10-million-token text", c);
        QVERIFY2(c.code == 0, c.err.c_str());
        QVERIFY2(c.peakMiB <= kTextImportBoundMiB, qPrintable(QString::number(c.peakMiB)));
    }

    // A byte-level BPE with 1,000,000 merges (all 65,536 pairs of byte symbols, then pairs of those with a byte).
    void millionMergeTokenizer()
    {
        const fs::path dir = path("million-merges");
        fs::create_directories(dir);
        const std::vector<std::string> bytes = alphabet();
        // Merges in rank order; a merge's token has id 256 + its rank.
        std::vector<std::pair<std::string, std::string>> merges;
        merges.reserve(kMerges);
        for (const std::string& a : bytes) {
            for (const std::string& b : bytes)
                merges.emplace_back(a, b);
        }
        for (std::size_t i = 0; merges.size() < kMerges; ++i)
            merges.emplace_back(
                merges[i / bytes.size()].first + merges[i / bytes.size()].second, bytes[i % bytes.size()]);
        {
            // The vocabulary and merges are streamed into the document's skeleton: a million-entry nlohmann
            // object would cost more than the test checks.
            const nlohmann::json byteLevel = { { "type", "ByteLevel" }, { "add_prefix_space", false },
                { "trim_offsets", true }, { "use_regex", true } };
            const nlohmann::json skeleton = { { "version", "1.0" }, { "truncation", nullptr }, { "padding", nullptr },
                { "added_tokens", nlohmann::json::array() }, { "normalizer", nullptr }, { "pre_tokenizer", byteLevel },
                { "post_processor", nullptr }, { "decoder", byteLevel },
                { "model",
                    { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr },
                        { "continuing_subword_prefix", "" }, { "end_of_word_suffix", "" }, { "fuse_unk", false },
                        { "byte_fallback", false }, { "vocab", "@VOCAB@" }, { "merges", "@MERGES@" } } } };
            auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
            auto writeVocab = [&](std::ostream& out) {
                out << '{';
                for (std::size_t i = 0; i < bytes.size(); ++i)
                    out << (i ? "," : "") << quoted(bytes[i]) << ':' << i;
                for (std::size_t i = 0; i < merges.size(); ++i)
                    out << ',' << quoted(merges[i].first + merges[i].second) << ':' << 256 + i;
                out << '}';
            };
            auto writeMerges = [&](std::ostream& out) {
                out << '[';
                for (std::size_t i = 0; i < merges.size(); ++i)
                    out << (i ? "," : "") << quoted(merges[i].first + " " + merges[i].second);
                out << ']';
            };
            const std::string text = skeleton.dump();
            const std::string vocabMark = "\"@VOCAB@\"";
            const std::string mergesMark = "\"@MERGES@\"";
            const std::size_t v = text.find(vocabMark);
            const std::size_t m = text.find(mergesMark);
            QVERIFY(v != std::string::npos && m != std::string::npos);
            // Object keys are sorted in the dump: merges come before vocab.
            QVERIFY(m < v);
            std::ofstream out(dir / "tokenizer.json", std::ios::binary);
            out.write(text.data(), static_cast<std::streamsize>(m));
            writeMerges(out);
            out.write(text.data() + m + mergesMark.size(), static_cast<std::streamsize>(v - m - mergesMark.size()));
            writeVocab(out);
            out.write(
                text.data() + v + vocabMark.size(), static_cast<std::streamsize>(text.size() - v - vocabMark.size()));
        }
        const fs::path input = path("merges-input.jsonl");
        std::ofstream(input, std::ios::binary) << "\"\\u0001\\u0002\\u0003 abc\"\n";
        const Child c = runCli({ "tokenize", "--tokenizer", dir.string(), "--input", input.string() },
            path("merges.out"), path("merges.err"));
        report("tokenize with 1,000,000 merges", c);
        QVERIFY2(c.code == 0, c.err.c_str());
        // Ids: the 256 bytes, then pair (a, b) of bytes at 256 + 256 a + b, then (pair p, byte c) at
        // 65792 + 256 p + c. Bytes 1 2 3 become pair 258 (1, 2) joined with 3, one of the last merges' kind;
        // " abc" becomes "Ġa" (pair 32, 97) and "bc" (98, 99): (Ġa, b) is not among the merges.
        const std::string expected = "[" + std::to_string(65792 + 256 * 258 + 3) + ","
            + std::to_string(256 + 256 * 32 + 97) + "," + std::to_string(256 + 256 * 98 + 99) + "]\n";
        QCOMPARE(readText(path("merges.out")), expected);
        QVERIFY2(c.peakMiB <= kMergesBoundMiB, qPrintable(QString::number(c.peakMiB)));
    }

private:
    static constexpr std::size_t kMerges = 1'000'000;
    // The bounds docs/architecture.md states (the CLI with LibTorch loaded starts near 160 MiB).
    static constexpr long kJsonlLineBoundMiB = 800;
    static constexpr long kConfigBoundMiB = 256;
    static constexpr long kTokenizeBoundMiB = 512;
    static constexpr long kTextImportBoundMiB = 384;
    static constexpr long kMergesBoundMiB = 768;
};

QTEST_GUILESS_MAIN(TestOversizedInputs)
#include "test_oversized_inputs.moc"
