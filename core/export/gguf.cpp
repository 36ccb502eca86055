#include "core/export/gguf.h"

#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

namespace tunebench::gguf {

namespace {

template <typename T> void put(std::string& out, T v)
{
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out.append(bytes, sizeof(T));
}

void putString(std::string& out, const std::string& s)
{
    put<std::uint64_t>(out, s.size());
    out += s;
}

std::uint64_t alignUp(std::uint64_t n)
{
    return (n + kAlignment - 1) / kAlignment * kAlignment;
}

std::uint16_t halfBits(float v)
{
    const at::Tensor t = at::full({ 1 }, v, at::kFloat).to(at::kHalf);
    std::uint16_t bits;
    std::memcpy(&bits, t.data_ptr(), 2);
    return bits;
}

float halfValue(std::uint16_t bits)
{
    at::Tensor t = at::empty({ 1 }, at::kHalf);
    std::memcpy(t.data_ptr(), &bits, 2);
    return t.to(at::kFloat).item<float>();
}

} // namespace

std::string encodeTensor(const at::Tensor& values, TensorType type)
{
    const at::Tensor flat = values.detach().to(at::kCPU).to(at::kFloat).contiguous().view({ -1 });
    const std::int64_t n = flat.numel();
    std::string out;
    switch (type) {
    case TensorType::F32:
        out.assign(static_cast<const char*>(flat.data_ptr()), static_cast<std::size_t>(n) * 4);
        return out;
    case TensorType::F16: {
        const at::Tensor h = flat.to(at::kHalf).contiguous();
        out.assign(static_cast<const char*>(h.data_ptr()), static_cast<std::size_t>(n) * 2);
        return out;
    }
    case TensorType::BF16: {
        const at::Tensor h = flat.to(at::kBFloat16).contiguous();
        out.assign(static_cast<const char*>(h.data_ptr()), static_cast<std::size_t>(n) * 2);
        return out;
    }
    case TensorType::Q8_0: {
        if (n % kQ8BlockSize != 0)
            throw InputError("Q8_0 needs a multiple of 32 values, got " + std::to_string(n));
        out.reserve(tensorBytes(type, n));
        const float* x = flat.data_ptr<float>();
        for (std::int64_t b = 0; b < n / kQ8BlockSize; ++b) {
            const float* block = x + b * kQ8BlockSize;
            float amax = 0;
            for (std::int64_t i = 0; i < kQ8BlockSize; ++i)
                amax = std::max(amax, std::fabs(block[i]));
            const float d = amax / 127.0f;
            const float id = d != 0 ? 1.0f / d : 0.0f;
            put<std::uint16_t>(out, halfBits(d));
            for (std::int64_t i = 0; i < kQ8BlockSize; ++i)
                put<std::int8_t>(out, static_cast<std::int8_t>(std::lround(block[i] * id)));
        }
        return out;
    }
    }
    throw InputError("unknown GGUF tensor type");
}

at::Tensor decodeTensor(const std::string& bytes, TensorType type, std::int64_t count)
{
    if (bytes.size() != tensorBytes(type, count))
        throw InputError("GGUF tensor data: expected " + std::to_string(tensorBytes(type, count)) + " bytes for "
            + std::to_string(count) + " " + tensorTypeName(type) + " values, got " + std::to_string(bytes.size()));
    switch (type) {
    case TensorType::F32: {
        at::Tensor t = at::empty({ count }, at::kFloat);
        std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
        return t;
    }
    case TensorType::F16:
    case TensorType::BF16: {
        at::Tensor t = at::empty({ count }, type == TensorType::F16 ? at::kHalf : at::kBFloat16);
        std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
        return t.to(at::kFloat);
    }
    case TensorType::Q8_0: {
        at::Tensor t = at::empty({ count }, at::kFloat);
        float* y = t.data_ptr<float>();
        for (std::int64_t b = 0; b < count / kQ8BlockSize; ++b) {
            const char* block = bytes.data() + b * kQ8BlockBytes;
            std::uint16_t dBits;
            std::memcpy(&dBits, block, 2);
            const float d = halfValue(dBits);
            for (std::int64_t i = 0; i < kQ8BlockSize; ++i)
                y[b * kQ8BlockSize + i] = d * static_cast<float>(static_cast<std::int8_t>(block[2 + i]));
        }
        return t;
    }
    }
    throw InputError("unknown GGUF tensor type");
}

// --- Writer ---

void Writer::set(const std::string& key, std::string bytes)
{
    for (auto& e : m_entries) {
        if (e.key == key) {
            e.bytes = std::move(bytes);
            return;
        }
    }
    m_entries.push_back({ key, std::move(bytes) });
}

void Writer::setUint32(const std::string& key, std::uint32_t v)
{
    std::string b;
    put(b, ValueType::Uint32);
    put(b, v);
    set(key, b);
}

void Writer::setInt32(const std::string& key, std::int32_t v)
{
    std::string b;
    put(b, ValueType::Int32);
    put(b, v);
    set(key, b);
}

void Writer::setUint64(const std::string& key, std::uint64_t v)
{
    std::string b;
    put(b, ValueType::Uint64);
    put(b, v);
    set(key, b);
}

void Writer::setFloat32(const std::string& key, float v)
{
    std::string b;
    put(b, ValueType::Float32);
    put(b, v);
    set(key, b);
}

void Writer::setBool(const std::string& key, bool v)
{
    std::string b;
    put(b, ValueType::Bool);
    put<std::uint8_t>(b, v ? 1 : 0);
    set(key, b);
}

void Writer::setString(const std::string& key, const std::string& v)
{
    std::string b;
    put(b, ValueType::String);
    putString(b, v);
    set(key, b);
}

void Writer::setStringArray(const std::string& key, const std::vector<std::string>& v)
{
    std::string b;
    put(b, ValueType::Array);
    put(b, ValueType::String);
    put<std::uint64_t>(b, v.size());
    for (const auto& s : v)
        putString(b, s);
    set(key, b);
}

void Writer::setInt32Array(const std::string& key, const std::vector<std::int32_t>& v)
{
    std::string b;
    put(b, ValueType::Array);
    put(b, ValueType::Int32);
    put<std::uint64_t>(b, v.size());
    for (auto x : v)
        put(b, x);
    set(key, b);
}

void Writer::setFloat32Array(const std::string& key, const std::vector<float>& v)
{
    std::string b;
    put(b, ValueType::Array);
    put(b, ValueType::Float32);
    put<std::uint64_t>(b, v.size());
    for (auto x : v)
        put(b, x);
    set(key, b);
}

void Writer::addTensor(const std::string& name, const at::Tensor& values, TensorType type)
{
    for (const auto& t : m_tensors) {
        if (t.name == name)
            throw InputError("GGUF: tensor '" + name + "' added twice");
    }
    if (type == TensorType::Q8_0 && (values.dim() == 0 || values.size(values.dim() - 1) % kQ8BlockSize != 0))
        throw InputError("GGUF: tensor '" + name + "' cannot be Q8_0: its rows hold "
            + std::to_string(values.dim() ? values.size(values.dim() - 1) : 0) + " values, not a multiple of 32");
    m_tensors.push_back({ name, values, type });
}

void Writer::write(const std::filesystem::path& path) const
{
    std::string head = "GGUF";
    put<std::uint32_t>(head, 3);
    put<std::uint64_t>(head, m_tensors.size());
    put<std::uint64_t>(head, m_entries.size());
    for (const auto& e : m_entries) {
        putString(head, e.key);
        head += e.bytes;
    }
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const auto& t : m_tensors) {
        putString(head, t.name);
        const auto dims = static_cast<std::uint32_t>(std::max<std::int64_t>(1, t.values.dim()));
        put<std::uint32_t>(head, dims);
        if (t.values.dim() == 0) {
            put<std::uint64_t>(head, 1);
        } else {
            for (std::int64_t d = t.values.dim() - 1; d >= 0; --d)
                put<std::uint64_t>(head, static_cast<std::uint64_t>(t.values.size(d)));
        }
        put<std::uint32_t>(head, static_cast<std::uint32_t>(t.type));
        put<std::uint64_t>(head, offset);
        offsets.push_back(offset);
        offset = alignUp(offset + tensorBytes(t.type, t.values.numel()));
    }
    head.append(alignUp(head.size()) - head.size(), '\0');

    AtomicFile out(path);
    out.write(head);
    std::uint64_t written = 0;
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        const std::string data = encodeTensor(m_tensors[i].values, m_tensors[i].type);
        out.write(data);
        written = offsets[i] + data.size();
        const std::uint64_t pad = (i + 1 < m_tensors.size() ? offsets[i + 1] : alignUp(written)) - written;
        out.write(std::string(pad, '\0'));
    }
    out.commit();
}

at::Tensor File::load(const std::string& name) const
{
    const TensorInfo* t = tensor(name);
    if (!t)
        throw InputError(path.string() + ": no tensor '" + name + "'");
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(dataOffset + t->offset));
    std::string bytes(tensorBytes(t->type, t->count()), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!in)
        throw InputError(path.string() + ": cannot read the data of tensor '" + name + "'");
    return decodeTensor(bytes, t->type, t->count()).view(t->torchShape());
}

} // namespace tunebench::gguf
