#include "core/export/gguf_export.h"

#include "core/export/peft_adapter.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <regex>

namespace tunebench {

namespace fs = std::filesystem;

namespace {

// llama_ftype values llama.cpp records in general.file_type.
std::uint32_t fileType(gguf::TensorType type)
{
    switch (type) {
    case gguf::TensorType::F32:
        return 0; // ALL_F32
    case gguf::TensorType::F16:
        return 1; // MOSTLY_F16
    case gguf::TensorType::Q8_0:
        return 7; // MOSTLY_Q8_0
    case gguf::TensorType::BF16:
        return 32; // MOSTLY_BF16
    }
    return 0;
}

// Token types of tokenizer.ggml.token_type.
enum TokenType : std::int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// The type a matrix is stored as: 1-D tensors stay F32; Q8_0 needs rows of a multiple of 32 values.
gguf::TensorType storedType(const at::Tensor& t, gguf::TensorType wanted)
{
    if (t.dim() < 2)
        return gguf::TensorType::F32;
    if (wanted == gguf::TensorType::Q8_0 && t.size(t.dim() - 1) % gguf::kQ8BlockSize != 0)
        return gguf::TensorType::F16;
    return wanted;
}

void requireLlamaFamily(const ModelConfig& c, const std::string& what)
{
    if (c.architecture != Architecture::Llama && c.architecture != Architecture::Mistral)
        throw InputError(what + ": GGUF export writes llama.cpp's llama architecture (Llama and Mistral models); this "
            + "model is " + std::string(architectureModelType(c.architecture))
            + ". Export --format merged and convert it with llama.cpp's convert_hf_to_gguf.py");
    if (c.qkvBias || c.outputBias || c.mlpBias)
        throw InputError(what
            + ": the model has attention or MLP biases (attention_bias / mlp_bias), which this GGUF "
              "writer does not write");
    if (c.ropeScaling.type != RopeScaling::Type::None)
        throw InputError(what + ": rope_scaling is set; this GGUF writer writes unscaled rotary embeddings only");
    if (c.slidingWindow && *c.slidingWindow < c.maxPositionEmbeddings)
        throw InputError(what + ": sliding_window " + std::to_string(*c.slidingWindow)
            + " is shorter than the context; llama.cpp's llama architecture has no sliding window");
}

void writeArchitecture(gguf::Writer& w, const ModelConfig& c)
{
    w.setUint32("llama.context_length", static_cast<std::uint32_t>(c.maxPositionEmbeddings));
    w.setUint32("llama.embedding_length", static_cast<std::uint32_t>(c.hiddenSize));
    w.setUint32("llama.block_count", static_cast<std::uint32_t>(c.numLayers));
    w.setUint32("llama.feed_forward_length", static_cast<std::uint32_t>(c.intermediateSize));
    w.setUint32("llama.attention.head_count", static_cast<std::uint32_t>(c.numHeads));
    w.setUint32("llama.attention.head_count_kv", static_cast<std::uint32_t>(c.numKvHeads));
    w.setFloat32("llama.rope.freq_base", static_cast<float>(c.ropeTheta));
    w.setFloat32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.normEps));
    w.setUint32("llama.rope.dimension_count", static_cast<std::uint32_t>(c.headDim));
    if (c.headDim * c.numHeads != c.hiddenSize) {
        w.setUint32("llama.attention.key_length", static_cast<std::uint32_t>(c.headDim));
        w.setUint32("llama.attention.value_length", static_cast<std::uint32_t>(c.headDim));
    }
    w.setUint32("llama.vocab_size", static_cast<std::uint32_t>(c.vocabSize));
}

nlohmann::json readJson(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return nlohmann::json();
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded())
        throw InputError(path.string() + ": not valid JSON");
    return j;
}

bool mentionsType(const nlohmann::json& tree, const std::string& type)
{
    if (tree.is_object()) {
        if (tree.value("type", std::string()) == type)
            return true;
        for (const auto& [k, v] : tree.items()) {
            if (mentionsType(v, type))
                return true;
        }
    } else if (tree.is_array()) {
        for (const auto& v : tree) {
            if (mentionsType(v, type))
                return true;
        }
    }
    return false;
}

// tokenizer.ggml.*: the vocabulary in id order (padded to the model's rows with [PADi] as convert_hf_to_gguf
// does), token types, merges (byte-level BPE) or scores (SentencePiece-style BPE), special ids, chat template.
// Long for a reason: the tokenizer metadata keys in the order llama.cpp's converter writes them.
void writeTokenizer(gguf::Writer& w, const fs::path& dir, std::int64_t rows)
{
    const fs::path file = dir / "tokenizer.json";
    const nlohmann::json doc = readJson(file);
    if (!doc.is_object())
        throw InputError(file.string() + ": missing; GGUF export writes the vocabulary from tokenizer.json");
    const auto& m = doc.value("model", nlohmann::json::object());
    if (m.value("type", std::string("BPE")) != "BPE" || !m.contains("vocab") || !m["vocab"].is_object())
        throw InputError(file.string() + ": field 'model' must be a BPE model with a vocab");
    std::vector<std::string> tokens(static_cast<std::size_t>(rows));
    std::vector<std::int32_t> types(static_cast<std::size_t>(rows), Unused);
    std::vector<bool> seen(static_cast<std::size_t>(rows), false);
    auto place = [&](std::int64_t id, const std::string& text, std::int32_t type) {
        if (id < 0 || id >= rows)
            throw InputError(file.string() + ": token id " + std::to_string(id) + " ('" + text
                + "') is outside the model's " + std::to_string(rows) + " embedding rows");
        tokens[static_cast<std::size_t>(id)] = text;
        types[static_cast<std::size_t>(id)] = type;
        seen[static_cast<std::size_t>(id)] = true;
    };
    const bool spm = m.value("byte_fallback", false)
        || mentionsType(doc.value("pre_tokenizer", nlohmann::json()), "Metaspace")
        || mentionsType(doc.value("decoder", nlohmann::json()), "Metaspace");
    const std::string unk = m.value("unk_token", nlohmann::json()).is_string() ? m["unk_token"].get<std::string>() : "";
    static const std::regex byteToken("<0x[0-9A-Fa-f]{2}>");
    for (const auto& [text, id] : m["vocab"].items()) {
        std::int32_t type = Normal;
        if (!unk.empty() && text == unk)
            type = Unknown;
        else if (spm && std::regex_match(text, byteToken))
            type = Byte;
        place(id.get<std::int64_t>(), text, type);
    }
    for (const auto& t : doc.value("added_tokens", nlohmann::json::array())) {
        const std::string text = t.value("content", std::string());
        const std::int64_t id = t.value("id", std::int64_t { -1 });
        place(id, text, t.value("special", false) ? Control : UserDefined);
        if (!unk.empty() && text == unk)
            types[static_cast<std::size_t>(id)] = Unknown;
    }
    for (std::int64_t i = 0; i < rows; ++i) {
        if (!seen[static_cast<std::size_t>(i)])
            tokens[static_cast<std::size_t>(i)] = "[PAD" + std::to_string(i) + "]";
    }
    w.setString("tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!spm)
        w.setString("tokenizer.ggml.pre", "default");
    w.setStringArray("tokenizer.ggml.tokens", tokens);
    if (spm) {
        // SentencePiece's BPE merges the pair whose piece scores highest; its pieces are numbered in merge
        // order, so -id orders them as the merges do.
        std::vector<float> scores(static_cast<std::size_t>(rows), 0.0f);
        for (std::int64_t i = 0; i < rows; ++i) {
            if (types[static_cast<std::size_t>(i)] == Normal)
                scores[static_cast<std::size_t>(i)] = -static_cast<float>(i);
        }
        w.setFloat32Array("tokenizer.ggml.scores", scores);
    }
    w.setInt32Array("tokenizer.ggml.token_type", types);
    if (!spm) {
        std::vector<std::string> merges;
        for (const auto& mg : m.value("merges", nlohmann::json::array())) {
            if (mg.is_string())
                merges.push_back(mg.get<std::string>());
            else if (mg.is_array() && mg.size() == 2)
                merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
            else
                throw InputError(file.string() + ": model.merges: expected \"a b\" or [\"a\", \"b\"] items");
        }
        w.setStringArray("tokenizer.ggml.merges", merges);
    }
    const Tokenizer tokenizer = Tokenizer::fromFolder(dir);
    if (auto id = tokenizer.bosId())
        w.setUint32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(*id));
    if (auto id = tokenizer.eosId())
        w.setUint32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(*id));
    if (!unk.empty()) {
        if (auto id = tokenizer.tokenToId(unk))
            w.setUint32("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(*id));
    }
    if (auto id = tokenizer.padId())
        w.setUint32("tokenizer.ggml.padding_token_id", static_cast<std::uint32_t>(*id));
    const auto withSpecial = tokenizer.encode("", /*addSpecialTokens=*/true);
    const bool addsBos = !withSpecial.empty() && tokenizer.bosId() && withSpecial.front() == *tokenizer.bosId();
    w.setBool("tokenizer.ggml.add_bos_token", addsBos);
    w.setBool("tokenizer.ggml.add_eos_token",
        !withSpecial.empty() && tokenizer.eosId() && withSpecial.back() == *tokenizer.eosId() && !addsBos);
    for (const ChatTemplateText& t : ChatTemplate::textsInFolder(dir))
        w.setString(t.name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + t.name, t.source);
}

const std::map<std::string, std::string>& layerNames()
{
    static const std::map<std::string, std::string> names = {
        { "self_attn.q_proj", "attn_q" },
        { "self_attn.k_proj", "attn_k" },
        { "self_attn.v_proj", "attn_v" },
        { "self_attn.o_proj", "attn_output" },
        { "mlp.gate_proj", "ffn_gate" },
        { "mlp.up_proj", "ffn_up" },
        { "mlp.down_proj", "ffn_down" },
        { "input_layernorm", "attn_norm" },
        { "post_attention_layernorm", "ffn_norm" },
    };
    return names;
}

} // namespace

gguf::TensorType ggufTypeFromString(const std::string& name)
{
    if (name == "f32")
        return gguf::TensorType::F32;
    if (name == "f16")
        return gguf::TensorType::F16;
    if (name == "bf16")
        return gguf::TensorType::BF16;
    if (name == "q8_0")
        return gguf::TensorType::Q8_0;
    throw InputError("--gguf-type: expected f32, f16, bf16 or q8_0, got '" + name + "'");
}

std::string ggufTensorName(const std::string& hf)
{
    if (hf == "model.embed_tokens.weight")
        return "token_embd.weight";
    if (hf == "model.norm.weight")
        return "output_norm.weight";
    if (hf == "lm_head.weight")
        return "output.weight";
    static const std::regex layer(R"(model\.layers\.(\d+)\.(.+)\.(weight|bias))");
    std::smatch m;
    if (!std::regex_match(hf, m, layer))
        return {};
    const auto it = layerNames().find(m[2].str());
    if (it == layerNames().end())
        return {};
    return "blk." + m[1].str() + "." + it->second + "." + m[3].str();
}

at::Tensor permuteForRope(const at::Tensor& rows, std::int64_t heads)
{
    const std::int64_t headDim = rows.size(0) / heads;
    std::vector<std::int64_t> shape = { heads, 2, headDim / 2 };
    for (std::int64_t d = 1; d < rows.dim(); ++d)
        shape.push_back(rows.size(d));
    return rows.reshape(shape).transpose(1, 2).reshape(rows.sizes());
}

at::Tensor unpermuteForRope(const at::Tensor& rows, std::int64_t heads)
{
    const std::int64_t headDim = rows.size(0) / heads;
    std::vector<std::int64_t> shape = { heads, headDim / 2, 2 };
    for (std::int64_t d = 1; d < rows.dim(); ++d)
        shape.push_back(rows.size(d));
    return rows.reshape(shape).transpose(1, 2).reshape(rows.sizes());
}

void writeGgufModel(const CausalLM& model, const fs::path& tokenizerDir, const std::string& name, gguf::TensorType type,
    const fs::path& out)
{
    const ModelConfig& c = model.config();
    requireLlamaFamily(c, out.string());
    gguf::Writer w;
    w.setString("general.architecture", "llama");
    w.setString("general.type", "model");
    w.setString("general.name", name);
    w.setUint32("general.alignment", gguf::kAlignment);
    w.setUint32("general.file_type", fileType(type));
    writeArchitecture(w, c);
    writeTokenizer(w, tokenizerDir, c.vocabSize);
    for (const auto& [hf, tensor] : model.namedParameters()) {
        const std::string g = ggufTensorName(hf);
        if (g.empty())
            throw InputError(out.string() + ": parameter '" + hf + "' has no llama.cpp tensor name");
        at::Tensor t = tensor.detach().to(at::kCPU).to(at::kFloat);
        if (g.find(".attn_q.weight") != std::string::npos)
            t = permuteForRope(t, c.numHeads);
        else if (g.find(".attn_k.weight") != std::string::npos)
            t = permuteForRope(t, c.numKvHeads);
        w.addTensor(g, t.contiguous(), storedType(t, type));
    }
    w.write(out);
}

void writeGgufLora(
    const LoraForm& lora, const ModelConfig& c, const std::string& name, gguf::TensorType type, const fs::path& out)
{
    requireLlamaFamily(c, out.string());
    if (lora.dora)
        throw InputError(out.string()
            + ": llama.cpp's LoRA adapters cannot express DoRA's magnitudes; export the "
              "merged model as GGUF instead (--format gguf)");
    gguf::Writer w;
    w.setString("general.architecture", "llama");
    w.setString("general.type", "adapter");
    w.setString("general.name", name);
    w.setUint32("general.alignment", gguf::kAlignment);
    w.setUint32("general.file_type", fileType(type));
    w.setString("adapter.type", "lora");
    // llama.cpp scales by alpha / rank (rank from lora_a), so alpha = scale * r gives the adapter's own scale
    // (rsLoRA's alpha / sqrt(r) included).
    w.setFloat32("adapter.lora.alpha", static_cast<float>(lora.scale * static_cast<double>(lora.r)));
    for (const auto& l : lora.layers) {
        const std::string g = ggufTensorName(l.module + ".weight");
        if (g.empty())
            throw InputError(out.string() + ": layer '" + l.module + "' has no llama.cpp tensor name");
        at::Tensor a = l.a.detach().to(at::kFloat);
        at::Tensor b = l.b.detach().to(at::kFloat);
        // The base weight's rows are permuted for llama.cpp's rope; B A must be permuted alike, i.e. B's rows.
        if (g.find(".attn_q.") != std::string::npos)
            b = permuteForRope(b, c.numHeads);
        else if (g.find(".attn_k.") != std::string::npos)
            b = permuteForRope(b, c.numKvHeads);
        w.addTensor(g + ".lora_a", a.contiguous(), storedType(a, type));
        w.addTensor(g + ".lora_b", b.contiguous(), storedType(b, type));
    }
    w.write(out);
}

} // namespace tunebench
