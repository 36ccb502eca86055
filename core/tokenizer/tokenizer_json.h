#pragma once

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/decoder.h"
#include "core/tokenizer/normalizer.h"
#include "core/tokenizer/post_processor.h"
#include "core/tokenizer/pre_tokenizer.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// The parts of a tokenizer, as tokenizer.json describes them. Absent parts are null.
struct TokenizerComponents {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> preTokenizer;
    std::unique_ptr<Bpe> model;
    std::unique_ptr<PostProcessor> postProcessor;
    std::unique_ptr<Decoder> decoder;
    std::vector<AddedToken> addedTokens;
    bool byteLevel = false; // a ByteLevel pre-tokenizer is part of the chain
};

// Reads a parsed tokenizer.json. `file` names it in errors, which are
// InputErrors of the form "FILE: json.path: what was expected".
TokenizerComponents parseTokenizerJson(const nlohmann::json& root, const std::string& file);

// The pieces one at a time (each `path` is the JSON path of `node`, e.g.
// "tokenizer.json: normalizer.normalizers[1]"); exposed for tests.
std::unique_ptr<Normalizer> parseNormalizer(const nlohmann::json& node, const std::string& path);
std::unique_ptr<PreTokenizer> parsePreTokenizer(const nlohmann::json& node, const std::string& path, bool& byteLevel);
std::unique_ptr<Decoder> parseDecoder(const nlohmann::json& node, const std::string& path);
std::unique_ptr<Bpe> parseModel(const nlohmann::json& node, const std::string& path);
// A BPE model's options (unk_token, fuse_unk, byte_fallback, ...), without its vocabulary.
BpeOptions parseBpeOptions(const nlohmann::json& node, const std::string& path);
std::unique_ptr<PostProcessor> parsePostProcessor(const nlohmann::json& node, const std::string& path);
// One entry of "added_tokens" (also the AddedToken objects of tokenizer_config.json).
AddedToken parseAddedToken(const nlohmann::json& node, const std::string& path, bool requireId);

} // namespace tunebench
