#pragma once

// Hand-made tokenizer.json documents for the tokenizer's unit tests: a small
// vocabulary over a, b, c, d and a few merges, to which each test adds the
// component it is about.

#include "core/tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QString>

#include <fstream>
#include <string>

namespace tiny {

using nlohmann::json;

// Vocabulary: single characters, their merges and the byte tokens <0x..> for
// a few bytes; merges are given in the older "a b" string form.
inline json bpeModel()
{
    json vocab = { { "a", 0 }, { "b", 1 }, { "c", 2 }, { "d", 3 }, { "ab", 4 }, { "bc", 5 }, { "abc", 6 }, { "cd", 7 },
        { "abcd", 8 }, { "<unk>", 9 }, { " ", 10 }, { "\xE2\x96\x81", 11 },
        { "\xE2\x96\x81"
          "a",
            12 } };
    return { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr },
        { "continuing_subword_prefix", nullptr }, { "end_of_word_suffix", nullptr }, { "fuse_unk", false },
        { "byte_fallback", false }, { "vocab", vocab },
        { "merges", { "a b", "ab c", "c d", "abc d", "b c", "\xE2\x96\x81 a" } } };
}

inline json document(json model = bpeModel())
{
    return { { "version", "1.0" }, { "truncation", nullptr }, { "padding", nullptr }, { "added_tokens", json::array() },
        { "normalizer", nullptr }, { "pre_tokenizer", nullptr }, { "model", model }, { "post_processor", nullptr },
        { "decoder", nullptr } };
}

inline json addedToken(int id, const std::string& content, bool special, bool normalized = false, bool lstrip = false,
    bool rstrip = false, bool singleWord = false)
{
    return { { "id", id }, { "content", content }, { "single_word", singleWord }, { "lstrip", lstrip },
        { "rstrip", rstrip }, { "normalized", normalized }, { "special", special } };
}

inline void writeJson(const QString& path, const json& value)
{
    std::ofstream out(QFile::encodeName(path).constData(), std::ios::binary);
    out << value.dump();
}

// Writes tokenizer.json (and tokenizer_config.json when given) into dir and loads it.
inline tunebench::Tokenizer load(const QString& dir, const json& doc, const json& config = nullptr)
{
    writeJson(QDir(dir).filePath("tokenizer.json"), doc);
    if (!config.is_null())
        writeJson(QDir(dir).filePath("tokenizer_config.json"), config);
    return tunebench::Tokenizer::fromFolder(QFile::encodeName(dir).toStdString());
}

inline std::vector<std::int32_t> ids(std::initializer_list<std::int32_t> list)
{
    return std::vector<std::int32_t>(list);
}

} // namespace tiny
