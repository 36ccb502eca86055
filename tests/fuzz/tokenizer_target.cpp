#include "tokenizer_target.h"

#include "folder_input.h"

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <vector>

namespace tunebench::fuzz {

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "tokenizer fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

const std::vector<std::string> kFiles = { "tokenizer.json", "tokenizer_config.json", "config.json", "added_tokens.json",
    "special_tokens_map.json", "vocab.json", "merges.txt" };

void checkIds(const Tokenizer& tok, const std::vector<std::int32_t>& ids, const std::string& what)
{
    for (const std::int32_t id : ids) {
        if (id < 0 || static_cast<std::size_t>(id) >= tok.vocabSize())
            fail("broken invariant",
                what + ": id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(tok.vocabSize()));
    }
}

void exercise(const Tokenizer& tok)
{
    std::vector<std::string> texts = { "", "Hello, world! 123", " leading  spaces\tand\ttabs\n\nnewlines ",
        "caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xA7",
        "\xF0\x9F\x98\x80 emoji \xE2\x80\x94 dash", "<|endoftext|><s></s>[INST]",
        "a\r\nb\xC2\xA0"
        "c" };
    for (const char* special : { "bos", "eos", "pad" }) {
        const std::optional<std::int32_t> id = special[0] == 'b' ? tok.bosId()
            : special[0] == 'e'                                  ? tok.eosId()
                                                                 : tok.padId();
        if (!id)
            continue;
        if (static_cast<std::size_t>(*id) >= tok.vocabSize() || *id < 0)
            fail("broken invariant", std::string(special) + " id outside the vocabulary");
        // Appended piece by piece: GCC 12 at -O3 warns (wrongly) about "x" + token + "y".
        std::string text = "x";
        text.append(tok.idToToken(*id));
        text.push_back('y');
        texts.push_back(std::move(text));
    }
    for (const std::string& text : texts) {
        std::vector<std::int32_t> ids;
        try {
            ids = tok.encode(text, false);
        } catch (const InputError&) {
            continue; // e.g. a character no token covers and no unk_token
        }
        checkIds(tok, ids, "encode");
        (void)tok.decode(ids, false);
        (void)tok.decode(ids, true);
        for (const std::int32_t id : ids)
            (void)tok.idToToken(id);
        try {
            const auto withSpecial = tok.encode(text, true);
            checkIds(tok, withSpecial, "encode with special tokens");
            const auto pair = tok.encodePair(text, "second", true);
            checkIds(tok, pair, "encodePair");
            (void)tok.decode(pair, true);
        } catch (const InputError&) { }
    }
    // Ids a model may produce that the tokenizer does not know are skipped, never fatal.
    const std::vector<std::int32_t> odd
        = { -1, 0, static_cast<std::int32_t>(tok.vocabSize()), 2147483647, -2147483647 - 1 };
    (void)tok.decode(odd, false);
    (void)tok.decode(odd, true);
    for (const std::int32_t id : odd)
        (void)tok.idToToken(id);
}

} // namespace

TokenizerVerdict checkTokenizerFolder(const std::uint8_t* data, std::size_t size, const std::string& firstFile)
{
    const std::vector<FolderFile> files = splitFolderInput(data, size, firstFile, kFiles);
    const std::filesystem::path& dir = writeScratchFolder(files);
    std::optional<Tokenizer> tok;
    try {
        tok.emplace(Tokenizer::fromFolder(dir));
    } catch (const InputError& e) {
        const std::string message = e.what();
        bool named = message.find(dir.string()) != std::string::npos;
        for (const FolderFile& f : files)
            named = named || message.find(f.name) != std::string::npos;
        if (!named)
            fail("error names no file", message);
        return TokenizerVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception while loading", e.what());
    } catch (...) {
        fail("unexpected exception while loading", "not a std::exception");
    }
    try {
        exercise(*tok);
    } catch (const std::exception& e) {
        fail("unexpected exception after loading", e.what());
    } catch (...) {
        fail("unexpected exception after loading", "not a std::exception");
    }
    return TokenizerVerdict::Loaded;
}

} // namespace tunebench::fuzz
