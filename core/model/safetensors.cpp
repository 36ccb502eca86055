#include "core/model/safetensors.h"

#include "core/model/mapped_file.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

namespace tunebench {

static_assert(std::endian::native == std::endian::little,
    "safetensors data is little-endian; a big-endian host would need byte swapping");

namespace {

std::optional<at::ScalarType> torchType(SafetensorsDtype dtype)
{
    switch (dtype) {
    case SafetensorsDtype::Bool:
        return at::kBool;
    case SafetensorsDtype::U8:
        return at::kByte;
    case SafetensorsDtype::I8:
        return at::kChar;
    case SafetensorsDtype::I16:
        return at::kShort;
    case SafetensorsDtype::F16:
        return at::kHalf;
    case SafetensorsDtype::BF16:
        return at::kBFloat16;
    case SafetensorsDtype::I32:
        return at::kInt;
    case SafetensorsDtype::F32:
        return at::kFloat;
    case SafetensorsDtype::F64:
        return at::kDouble;
    case SafetensorsDtype::I64:
        return at::kLong;
    // LibTorch 1.13 has no unsigned 16/32/64-bit or float8 types.
    case SafetensorsDtype::U16:
    case SafetensorsDtype::U32:
    case SafetensorsDtype::U64:
    case SafetensorsDtype::F8E5M2:
    case SafetensorsDtype::F8E4M3:
        return std::nullopt;
    }
    return std::nullopt;
}

struct PreparedTensor {
    std::string name;
    SafetensorsDtype dtype;
    at::Tensor tensor;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

struct Prepared {
    std::string header; // the 8-byte length and the padded JSON
    std::vector<PreparedTensor> tensors;
};

Prepared prepare(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata)
{
    Prepared p;
    std::set<std::string> seen;
    for (const auto& [name, tensor] : tensors) {
        if (!seen.insert(name).second)
            throw InputError("safetensors: the tensor name '" + name + "' is given twice");
        if (name == "__metadata__")
            throw InputError("safetensors: '__metadata__' is reserved and cannot name a tensor");
        if (!tensor.defined())
            throw InputError("safetensors: tensor '" + name + "' is undefined");
        p.tensors.push_back({ name, safetensorsDtypeOf(tensor.scalar_type(), "tensor '" + name + "'"), tensor });
    }
    std::sort(p.tensors.begin(), p.tensors.end(), [](const PreparedTensor& a, const PreparedTensor& b) {
        return a.dtype != b.dtype ? a.dtype > b.dtype : a.name < b.name;
    });

    // Built by hand: the key order (metadata, then tensors in data order; dtype,
    // shape, data_offsets inside) is the reference writer's, which nlohmann's
    // sorted objects would not keep.
    std::string json = "{";
    if (!metadata.empty()) {
        json += "\"__metadata__\":" + nlohmann::json(metadata).dump();
    }
    std::uint64_t offset = 0;
    for (PreparedTensor& t : p.tensors) {
        const std::uint64_t bytes = static_cast<std::uint64_t>(t.tensor.numel()) * dtypeSize(t.dtype);
        t.begin = offset;
        t.end = offset + bytes;
        offset = t.end;
        if (json.size() > 1)
            json += ",";
        json += nlohmann::json(t.name).dump() + ":{\"dtype\":\"" + std::string(dtypeName(t.dtype)) + "\",\"shape\":[";
        for (std::int64_t i = 0; i < t.tensor.dim(); ++i) {
            if (i > 0)
                json += ',';
            json += std::to_string(t.tensor.size(i));
        }
        json += "],\"data_offsets\":[" + std::to_string(t.begin) + "," + std::to_string(t.end) + "]}";
    }
    json += "}";
    json.append((8 - json.size() % 8) % 8, ' ');

    std::uint64_t n = json.size();
    p.header.resize(8);
    for (int i = 0; i < 8; ++i) {
        p.header[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
        n >>= 8;
    }
    p.header += json;
    return p;
}

// The tensor's bytes as the file stores them: contiguous, little-endian, on the CPU.
at::Tensor hostBytes(const at::Tensor& t)
{
    return t.detach().to(at::kCPU).contiguous();
}

} // namespace

SafetensorsDtype safetensorsDtypeOf(at::ScalarType type, const std::string& what)
{
    switch (type) {
    case at::kBool:
        return SafetensorsDtype::Bool;
    case at::kByte:
        return SafetensorsDtype::U8;
    case at::kChar:
        return SafetensorsDtype::I8;
    case at::kShort:
        return SafetensorsDtype::I16;
    case at::kHalf:
        return SafetensorsDtype::F16;
    case at::kBFloat16:
        return SafetensorsDtype::BF16;
    case at::kInt:
        return SafetensorsDtype::I32;
    case at::kFloat:
        return SafetensorsDtype::F32;
    case at::kDouble:
        return SafetensorsDtype::F64;
    case at::kLong:
        return SafetensorsDtype::I64;
    default:
        throw InputError("safetensors: " + what + " has dtype " + std::string(c10::toString(type))
            + ", which the format cannot store");
    }
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path)
{
    SafetensorsFile f;
    f.m_path = path;
    f.m_file = MappedFile::open(path);
    f.m_header = std::make_shared<const SafetensorsHeader>(parseSafetensorsHeader(
        std::span<const std::uint8_t>(f.m_file->data(), f.m_file->size()), f.m_file->size(), path.string()));
    return f;
}

std::vector<std::string> SafetensorsFile::names() const
{
    std::vector<std::string> out;
    out.reserve(m_header->tensors.size());
    for (const auto& t : m_header->tensors)
        out.push_back(t.name);
    return out;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const
{
    const SafetensorsTensorInfo* info = m_header->find(name);
    if (!info)
        throw InputError(m_path.string() + ": no tensor named '" + name + "'");
    const auto type = torchType(info->dtype);
    if (!type)
        throw InputError(m_path.string() + ": tensor '" + name + "' has dtype " + std::string(dtypeName(info->dtype))
            + ", which this LibTorch has no type for");
    const auto options = at::TensorOptions().dtype(*type).device(at::kCPU);
    const std::uint64_t bytes = info->end - info->begin;
    if (bytes == 0)
        return at::empty(info->shape, options);

    std::uint8_t* data = m_file->data() + m_header->dataOffset() + info->begin;
    if (info->dtype == SafetensorsDtype::Bool) {
        const std::uint8_t* bad = std::find_if(data, data + bytes, [](std::uint8_t b) { return b > 1; });
        if (bad != data + bytes)
            throw InputError(m_path.string() + ": BOOL tensor '" + name + "' holds the byte " + std::to_string(*bad)
                + " at element " + std::to_string(bad - data) + "; a bool must be 0 or 1");
    }
    const bool aligned = reinterpret_cast<std::uintptr_t>(data) % dtypeSize(info->dtype) == 0;
    if (!aligned || info->dtype == SafetensorsDtype::Bool) {
        at::Tensor out = at::empty(info->shape, options);
        std::memcpy(out.data_ptr(), data, bytes);
        return out;
    }
    std::shared_ptr<MappedFile> keepAlive = m_file;
    return at::from_blob(
        data, info->shape, [keepAlive](void*) mutable { keepAlive.reset(); }, options);
}

NamedTensors SafetensorsFile::tensors() const
{
    NamedTensors out;
    for (const auto& t : m_header->tensors)
        out.emplace_back(t.name, tensor(t.name));
    return out;
}

std::string serializeSafetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata)
{
    Prepared p = prepare(tensors, metadata);
    std::string out = std::move(p.header);
    for (const PreparedTensor& t : p.tensors) {
        if (t.end == t.begin)
            continue;
        const at::Tensor bytes = hostBytes(t.tensor);
        out.append(static_cast<const char*>(bytes.data_ptr()), t.end - t.begin);
    }
    return out;
}

void writeSafetensors(
    const std::filesystem::path& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata)
{
    Prepared p = prepare(tensors, metadata);
    AtomicFile out(path);
    out.write(p.header.data(), p.header.size());
    for (const PreparedTensor& t : p.tensors) {
        if (t.end == t.begin)
            continue;
        const at::Tensor bytes = hostBytes(t.tensor);
        out.write(bytes.data_ptr(), static_cast<std::size_t>(t.end - t.begin));
    }
    out.commit();
}

} // namespace tunebench
