#pragma once

// A GGUF file read back by llama.cpp's own Python reader (the `gguf` package, through
// tests/reference/gguf_reference.py in the reference environment) and compared with
// Tunebench's reader entry by entry, and the values the reference dequantises compared with
// what was meant to be written, within the type's rounding.

#include "core/export/gguf.h"
#include "core/model/safetensors.h"
#include "support/reference.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <filesystem>
#include <map>
#include <string>

namespace gguf_reference {

struct Reading {
    nlohmann::json info; // gguf_reference.py's JSON
    std::map<std::string, at::Tensor> values; // float32, LibTorch shapes, by GGUF name
};

inline QString describe(const std::string& file, const std::string& what)
{
    return QString::fromStdString(file + ": " + what);
}

// Whether the reference's JSON value equals one of our reader's scalars of GGUF type `type`.
inline bool sameScalar(const nlohmann::json& j,
    const std::variant<std::uint64_t, std::int64_t, double, bool, std::string>& v, tunebench::gguf::ValueType type)
{
    using tunebench::gguf::ValueType;
    switch (type) {
    case ValueType::String:
        return j.is_string() && j.get<std::string>() == std::get<std::string>(v);
    case ValueType::Bool:
        return j.is_boolean() && j.get<bool>() == std::get<bool>(v);
    case ValueType::Float32:
    case ValueType::Float64:
        return j.is_number() && j.get<double>() == std::get<double>(v);
    case ValueType::Uint8:
    case ValueType::Uint16:
    case ValueType::Uint32:
    case ValueType::Uint64:
        return j.is_number_unsigned() && j.get<std::uint64_t>() == std::get<std::uint64_t>(v);
    default: // signed integers; JSON writes non-negative ones as unsigned
        return j.is_number_integer() && j.get<std::int64_t>() == std::get<std::int64_t>(v);
    }
}

// Reads FILE with gguf_reference.py (the values go through valuesFile) and checks that it sees what our
// reader sees: version, data offset, every metadata entry in order with its type and value, every tensor's
// name, GGUF shape, type, offset, and values equal to our reader's. Fills *out. A void function for Qt
// Test's macros: the caller checks QTest::currentTestFailed() afterwards. The caller has checked that a
// reference Python exists (REQUIRE_REFERENCE_PYTHON).
inline void readAndCompare(const std::filesystem::path& file, const std::filesystem::path& valuesFile, Reading* out)
{
    const std::string name = file.string();
    const reference::Result r = reference::run(
        "gguf_reference.py", { QString::fromStdString(name), "--values", QString::fromStdString(valuesFile.string()) });
    QVERIFY2(r.code == 0, qPrintable(describe(name, "gguf_reference.py failed: " + r.err.toStdString())));
    out->info = nlohmann::json::parse(r.out.toStdString());
    const nlohmann::json& j = out->info;
    const tunebench::gguf::File f = tunebench::gguf::File::read(file);

    QCOMPARE(j["version"].get<std::uint32_t>(), f.version);
    QCOMPARE(j["tensorDataOffset"].get<std::uint64_t>(), f.dataOffset);
    QCOMPARE(j["metadataOrder"].size(), f.metadata.size());
    for (std::size_t i = 0; i < f.metadata.size(); ++i) {
        const auto& [key, value] = f.metadata[i];
        QVERIFY2(j["metadataOrder"][i].get<std::string>() == key,
            qPrintable(describe(name, "metadata entry " + std::to_string(i) + " is '" + key + "' here, '"
                    + j["metadataOrder"][i].get<std::string>() + "' for gguf")));
        QVERIFY2(j["metadataTypes"][key].get<std::uint32_t>() == static_cast<std::uint32_t>(value.type),
            qPrintable(describe(name, key + ": types differ")));
        const nlohmann::json& got = j["metadata"][key];
        if (value.type == tunebench::gguf::ValueType::Array) {
            QVERIFY2(j["metadataTypes"][key + "[]"].get<std::uint32_t>() == static_cast<std::uint32_t>(value.itemType),
                qPrintable(describe(name, key + ": item types differ")));
            QVERIFY2(got.is_array() && got.size() == value.items.size(),
                qPrintable(describe(name, key + ": array lengths differ")));
            for (std::size_t k = 0; k < value.items.size(); ++k) {
                QVERIFY2(sameScalar(got[k], value.items[k], value.itemType),
                    qPrintable(describe(name, key + "[" + std::to_string(k) + "]: gguf reads " + got[k].dump())));
            }
        } else {
            QVERIFY2(sameScalar(got, value.scalar, value.type),
                qPrintable(describe(name, key + ": gguf reads " + got.dump())));
        }
    }

    QCOMPARE(j["tensors"].size(), f.tensors.size());
    const tunebench::SafetensorsFile values = tunebench::SafetensorsFile::open(valuesFile);
    QCOMPARE(values.names().size(), f.tensors.size());
    for (std::size_t i = 0; i < f.tensors.size(); ++i) {
        const tunebench::gguf::TensorInfo& t = f.tensors[i];
        const nlohmann::json& jt = j["tensors"][i];
        QCOMPARE(jt["name"].get<std::string>(), t.name);
        QCOMPARE(jt["shape"].get<std::vector<std::int64_t>>(), t.ggmlShape);
        QCOMPARE(jt["dtype"].get<std::uint32_t>(), static_cast<std::uint32_t>(t.type));
        QCOMPARE(jt["offset"].get<std::uint64_t>(), t.offset);
        const at::Tensor v = values.tensor(t.name);
        QCOMPARE(v.sizes().vec(), t.torchShape());
        // Both dequantise the same bytes with the same float32 arithmetic (Q8_0: d * q).
        QVERIFY2(at::equal(v, f.load(t.name)), qPrintable(describe(name, t.name + ": values differ from gguf's")));
        out->values[t.name] = v;
    }
}

// Checks the reference's values of `tensor` against `expected` (what was meant to be written, any float
// dtype) within the type's rounding: F32 exactly; F16 and BF16 exactly `expected` rounded to the type
// (round to nearest even, as LibTorch rounds); Q8_0 within one quantisation step d = max|x| / 127 of each
// block of 32 (d as stored, in fp16).
inline void compareValues(
    const Reading& reading, const std::string& tensor, const at::Tensor& expected, tunebench::gguf::TensorType type)
{
    using tunebench::gguf::TensorType;
    const auto it = reading.values.find(tensor);
    QVERIFY2(it != reading.values.end(), qPrintable(QString::fromStdString("gguf has no tensor " + tensor)));
    const at::Tensor got = it->second;
    const at::Tensor x = expected.to(at::kFloat).contiguous();
    QCOMPARE(got.sizes().vec(), x.sizes().vec());
    const QString label = QString::fromStdString(tensor + " (" + tunebench::gguf::tensorTypeName(type) + ")");
    at::Tensor rounded = x;
    if (type == TensorType::F16)
        rounded = x.to(at::kHalf).to(at::kFloat);
    else if (type == TensorType::BF16)
        rounded = x.to(at::kBFloat16).to(at::kFloat);
    if (type != TensorType::Q8_0) {
        QVERIFY2(at::equal(got, rounded),
            qPrintable(label + QString(": max |difference| %1 from the expected values rounded to the type")
                                   .arg((got - rounded).abs().max().item<double>())));
        return;
    }
    const at::Tensor blocks = x.reshape({ -1, tunebench::gguf::kQ8BlockSize });
    const at::Tensor step = (blocks.abs().amax(1, true) / 127.0f).to(at::kHalf).to(at::kFloat);
    const at::Tensor excess = (got.reshape(blocks.sizes()) - blocks).abs() - step;
    QVERIFY2(excess.max().item<float>() <= 0.0f,
        qPrintable(label + QString(": an error exceeds its block's quantisation step by %1")
                               .arg(excess.max().item<double>())));
}

} // namespace gguf_reference
