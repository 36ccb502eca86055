// The GGUF writer (core/export/gguf): header, metadata and tensor table as the format says, read back by our own
// reader and by llama.cpp's (the `gguf` package through tests/reference/gguf_reference.py): the same metadata,
// tensors and values; F16/BF16 round trips equal LibTorch's rounding, Q8_0 dequantises within its error bound;
// llama.cpp's Q/K row permutation; refusals.

#include "core/export/gguf.h"
#include "core/export/gguf_export.h"
#include "core/util/error.h"
#include "export/gguf_reference_check.h"
#include "model/model_test_support.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

at::Tensor randn(std::vector<std::int64_t> shape, std::uint64_t seed, double scale = 1.0)
{
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::randn(shape, gen, at::kFloat) * scale;
}

std::string fileBytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

template <typename T> T readAt(const std::string& bytes, std::size_t pos)
{
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof(T));
    return v;
}

} // namespace

class TestGguf : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

    // A file with every metadata kind and a tensor of each type.
    fs::path writeSample()
    {
        gguf::Writer w;
        w.setString("general.architecture", "llama");
        w.setUint32("general.alignment", 32);
        w.setUint32("llama.block_count", 3);
        w.setInt32("test.int", -5);
        w.setUint64("test.u64", 1ull << 40);
        w.setFloat32("test.float", 0.25f);
        w.setBool("test.bool", true);
        w.setStringArray("test.strings", { "a", "", "\xC4\xA0the" });
        w.setInt32Array("test.ints", { 1, -2, 3 });
        w.setFloat32Array("test.floats", { 0.5f, -1.5f });
        w.addTensor("f32", randn({ 5, 7 }, 1), gguf::TensorType::F32);
        w.addTensor("f16", randn({ 3, 64 }, 2), gguf::TensorType::F16);
        w.addTensor("bf16", randn({ 2, 3, 4 }, 3), gguf::TensorType::BF16);
        w.addTensor("q8", randn({ 4, 96 }, 4, 3.0), gguf::TensorType::Q8_0);
        w.addTensor("norm", randn({ 9 }, 5), gguf::TensorType::F32);
        const fs::path p = path("sample.gguf");
        w.write(p);
        return p;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void headerFollowsTheFormat()
    {
        const fs::path p = writeSample();
        const std::string bytes = fileBytes(p);
        QCOMPARE(bytes.substr(0, 4), std::string("GGUF"));
        QCOMPARE(readAt<std::uint32_t>(bytes, 4), 3u);
        QCOMPARE(readAt<std::uint64_t>(bytes, 8), std::uint64_t { 5 }); // tensors
        QCOMPARE(readAt<std::uint64_t>(bytes, 16), std::uint64_t { 10 }); // metadata entries
        // The first key: u64 length, then the bytes, then the value type (8 = string).
        QCOMPARE(readAt<std::uint64_t>(bytes, 24), std::uint64_t { 20 });
        QCOMPARE(bytes.substr(32, 20), std::string("general.architecture"));
        QCOMPARE(readAt<std::uint32_t>(bytes, 52), 8u);

        const gguf::File f = gguf::File::read(p);
        QCOMPARE(f.version, 3u);
        QCOMPARE(f.dataOffset % 32, std::uint64_t { 0 });
        QCOMPARE(f.metadata.size(), std::size_t { 10 });
        QCOMPARE(f.find("general.architecture")->asString(), std::string("llama"));
        QVERIFY(f.find("llama.block_count")->type == gguf::ValueType::Uint32);
        QCOMPARE(f.find("llama.block_count")->asInt(), std::int64_t { 3 });
        QCOMPARE(f.find("test.int")->asInt(), std::int64_t { -5 });
        QCOMPARE(f.find("test.u64")->asInt(), std::int64_t { 1ll << 40 });
        QCOMPARE(f.find("test.float")->asFloat(), 0.25);
        QVERIFY(f.find("test.bool")->asBool());
        const gguf::Value* strings = f.find("test.strings");
        QVERIFY(strings->type == gguf::ValueType::Array && strings->itemType == gguf::ValueType::String);
        QCOMPARE(std::get<std::string>(strings->items[2]), std::string("\xC4\xA0the"));
        QCOMPARE(std::get<std::int64_t>(f.find("test.ints")->items[1]), std::int64_t { -2 });
        QCOMPARE(std::get<double>(f.find("test.floats")->items[1]), -1.5);
        // ggml dimension order: the LibTorch shape reversed; offsets aligned.
        QCOMPARE(f.tensor("f32")->ggmlShape, (std::vector<std::int64_t> { 7, 5 }));
        QCOMPARE(f.tensor("bf16")->ggmlShape, (std::vector<std::int64_t> { 4, 3, 2 }));
        QVERIFY(f.tensor("q8")->type == gguf::TensorType::Q8_0);
        for (const auto& t : f.tensors)
            QCOMPARE(t.offset % 32, std::uint64_t { 0 });
        // The data of the last tensor ends the file (padded to the alignment at most).
        const auto& last = f.tensors.back();
        QVERIFY(f.dataOffset + last.offset + gguf::tensorBytes(last.type, last.count()) <= bytes.size());
        QVERIFY(bytes.size() - (f.dataOffset + last.offset + gguf::tensorBytes(last.type, last.count())) < 32);
    }

    void floatTypesRoundTrip()
    {
        const fs::path p = writeSample();
        const gguf::File f = gguf::File::read(p);
        QVERIFY(at::equal(f.load("f32"), randn({ 5, 7 }, 1)));
        QVERIFY(at::equal(f.load("f16"), randn({ 3, 64 }, 2).to(at::kHalf).to(at::kFloat)));
        QVERIFY(at::equal(f.load("bf16"), randn({ 2, 3, 4 }, 3).to(at::kBFloat16).to(at::kFloat)));
        QVERIFY(at::equal(f.load("norm"), randn({ 9 }, 5)));
        // BF16 keeps the top 16 bits rounded to nearest even: 1 + 2^-8 (a tie) rounds down to 1, 1 + 3 * 2^-8 up.
        const at::Tensor ties = at::tensor({ 1.0f + 1.0f / 256, 1.0f + 3.0f / 256 });
        const at::Tensor back
            = gguf::decodeTensor(gguf::encodeTensor(ties, gguf::TensorType::BF16), gguf::TensorType::BF16, 2);
        QCOMPARE(back[0].item<float>(), 1.0f);
        QCOMPARE(back[1].item<float>(), 1.0f + 4.0f / 256);
    }

    void q8DequantisesWithinItsBound()
    {
        const fs::path p = writeSample();
        const gguf::File f = gguf::File::read(p);
        const at::Tensor x = randn({ 4, 96 }, 4, 3.0);
        const at::Tensor y = f.load("q8");
        QCOMPARE(gguf::tensorBytes(gguf::TensorType::Q8_0, 384), std::uint64_t { 12 * 34 });
        const at::Tensor xb = x.reshape({ -1, 32 });
        const at::Tensor yb = y.reshape({ -1, 32 });
        for (std::int64_t b = 0; b < xb.size(0); ++b) {
            const float d = xb[b].abs().max().item<float>() / 127.0f;
            const float d16 = at::tensor({ d }).to(at::kHalf).to(at::kFloat).item<float>();
            // round(x / d) is off by half a step at most; storing d as fp16 moves each of the 127 steps.
            const float bound = 0.5f * d16 + 127.0f * std::fabs(d16 - d) + 1e-6f;
            const float err = (xb[b] - yb[b]).abs().max().item<float>();
            QVERIFY2(err <= bound, qPrintable(QString("block %1: error %2 > bound %3").arg(b).arg(err).arg(bound)));
            QVERIFY(err > 0); // it is a quantisation, not a copy
        }
        // An all-zero block stays zero; the largest value of a block is exact up to d's rounding.
        at::Tensor z = at::zeros({ 64 });
        z[40] = 2.54f;
        const at::Tensor zq
            = gguf::decodeTensor(gguf::encodeTensor(z, gguf::TensorType::Q8_0), gguf::TensorType::Q8_0, 64);
        QVERIFY(at::equal(zq.slice(0, 0, 32), at::zeros({ 32 })));
        QVERIFY(std::fabs(zq[40].item<float>() - 2.54f) < 2e-3f);
        QVERIFY(at::equal(zq.slice(0, 32, 40), at::zeros({ 8 })));
    }

    void refusals()
    {
        gguf::Writer w;
        QVERIFY_THROWS_EXCEPTION(InputError, w.addTensor("odd", at::zeros({ 4, 33 }), gguf::TensorType::Q8_0));
        w.addTensor("t", at::zeros({ 2 }), gguf::TensorType::F32);
        QVERIFY_THROWS_EXCEPTION(InputError, w.addTensor("t", at::zeros({ 2 }), gguf::TensorType::F32));

        const fs::path p = writeSample();
        std::string bytes = fileBytes(p);
        std::ofstream(path("truncated.gguf"), std::ios::binary) << bytes.substr(0, 100);
        try {
            gguf::File::read(path("truncated.gguf"));
            QFAIL("a truncated file was read");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("truncated.gguf") && QString(e.what()).contains("truncated at byte"),
                e.what());
        }
        bytes[0] = 'X';
        std::ofstream(path("magic.gguf"), std::ios::binary) << bytes;
        try {
            gguf::File::read(path("magic.gguf"));
            QFAIL("a file without the magic was read");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("magic"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(InputError, ggufTypeFromString("q4_0"));
    }

    void ropePermutationAsLlamaCpp()
    {
        // Two heads of dimension 4: rows per head go 0, 2, 1, 3 (the halves interleave).
        const at::Tensor rows = at::arange(8, at::kFloat).unsqueeze(1).repeat({ 1, 3 });
        const at::Tensor p = permuteForRope(rows, 2);
        QVERIFY(at::equal(p.select(1, 0), at::tensor({ 0.f, 2.f, 1.f, 3.f, 4.f, 6.f, 5.f, 7.f })));
        QVERIFY(at::equal(unpermuteForRope(p, 2), rows));
        const at::Tensor w = randn({ 32, 16 }, 9);
        QVERIFY(at::equal(unpermuteForRope(permuteForRope(w, 4), 4), w));
        QCOMPARE(ggufTensorName("model.layers.3.self_attn.q_proj.weight"), std::string("blk.3.attn_q.weight"));
        QCOMPARE(
            ggufTensorName("model.layers.0.post_attention_layernorm.weight"), std::string("blk.0.ffn_norm.weight"));
        QCOMPARE(ggufTensorName("model.layers.1.mlp.down_proj.weight"), std::string("blk.1.ffn_down.weight"));
        QCOMPARE(ggufTensorName("lm_head.weight"), std::string("output.weight"));
        QCOMPARE(ggufTensorName("transformer.h.0.attn.c_attn.weight"), std::string());
    }

    void gpt2IsRefusedWithAMessage()
    {
        auto model = model_test::tinyModel(Architecture::Gpt2);
        try {
            writeGgufModel(*model, path("none"), "gpt2", gguf::TensorType::F16, path("gpt2.gguf"));
            QFAIL("GPT-2 was written");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("gpt2") && QString(e.what()).contains("convert_hf_to_gguf"), e.what());
        }
        QVERIFY(!fs::exists(path("gpt2.gguf")));
    }

    // llama.cpp's reader sees every entry and tensor as ours does, and the values as written.
    void independentReaderAgrees()
    {
        REQUIRE_REFERENCE_PYTHON(py);
        const fs::path p = writeSample();
        gguf_reference::Reading reading;
        gguf_reference::readAndCompare(p, path("sample.values.safetensors"), &reading);
        if (QTest::currentTestFailed())
            return;
        const nlohmann::json& j = reading.info;
        QCOMPARE(j["version"].get<int>(), 3);
        QCOMPARE(j["metadata"]["general.architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(j["metadata"]["llama.block_count"].get<int>(), 3);
        QCOMPARE(j["metadataTypes"]["llama.block_count"].get<int>(), 4); // UINT32
        QCOMPARE(j["metadata"]["test.int"].get<int>(), -5);
        QCOMPARE(j["metadataTypes"]["test.int"].get<int>(), 5); // INT32
        QCOMPARE(j["metadata"]["test.u64"].get<std::uint64_t>(), std::uint64_t { 1ull << 40 });
        QCOMPARE(j["metadataTypes"]["test.u64"].get<int>(), 10); // UINT64
        QCOMPARE(j["metadata"]["test.float"].get<double>(), 0.25);
        QCOMPARE(j["metadata"]["test.bool"].get<bool>(), true);
        QCOMPARE(j["metadata"]["test.strings"], (nlohmann::json { "a", "", "\xC4\xA0the" }));
        QCOMPARE(j["metadata"]["test.ints"], (nlohmann::json { 1, -2, 3 }));
        QCOMPARE(j["metadataTypes"]["test.ints[]"].get<int>(), 5); // INT32 items
        QCOMPARE(j["metadata"]["test.floats"], (nlohmann::json { 0.5, -1.5 }));
        QCOMPARE(j["metadataTypes"]["test.floats[]"].get<int>(), 6); // FLOAT32 items
        QCOMPARE(j["tensors"].size(), std::size_t { 5 });
        QCOMPARE(j["tensors"][3]["dtype"].get<int>(), 8); // Q8_0
        QCOMPARE(j["tensors"][2]["dtype"].get<int>(), 30); // BF16
        QCOMPARE(j["tensors"][2]["shape"], (nlohmann::json { 4, 3, 2 }));

        using gguf::TensorType;
        gguf_reference::compareValues(reading, "f32", randn({ 5, 7 }, 1), TensorType::F32);
        gguf_reference::compareValues(reading, "f16", randn({ 3, 64 }, 2), TensorType::F16);
        gguf_reference::compareValues(reading, "bf16", randn({ 2, 3, 4 }, 3), TensorType::BF16);
        gguf_reference::compareValues(reading, "q8", randn({ 4, 96 }, 4, 3.0), TensorType::Q8_0);
        gguf_reference::compareValues(reading, "norm", randn({ 9 }, 5), TensorType::F32);
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
