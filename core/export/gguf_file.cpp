#include "core/export/gguf_file.h"

#include "core/util/error.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>

namespace tunebench::gguf {

std::string tensorTypeName(TensorType type)
{
    switch (type) {
    case TensorType::F32:
        return "F32";
    case TensorType::F16:
        return "F16";
    case TensorType::Q8_0:
        return "Q8_0";
    case TensorType::BF16:
        return "BF16";
    }
    return "?";
}

std::uint64_t tensorBytes(TensorType type, std::int64_t count)
{
    const auto n = static_cast<std::uint64_t>(count);
    switch (type) {
    case TensorType::F32:
        return n * 4;
    case TensorType::F16:
    case TensorType::BF16:
        return n * 2;
    case TensorType::Q8_0:
        return n / kQ8BlockSize * kQ8BlockBytes;
    }
    return 0;
}

// --- Value ---

std::string Value::asString() const
{
    if (const auto* s = std::get_if<std::string>(&scalar))
        return *s;
    throw InputError("GGUF metadata value is not a string");
}

std::int64_t Value::asInt() const
{
    if (const auto* u = std::get_if<std::uint64_t>(&scalar))
        return static_cast<std::int64_t>(*u);
    if (const auto* i = std::get_if<std::int64_t>(&scalar))
        return *i;
    throw InputError("GGUF metadata value is not an integer");
}

double Value::asFloat() const
{
    if (const auto* d = std::get_if<double>(&scalar))
        return *d;
    throw InputError("GGUF metadata value is not a float");
}

bool Value::asBool() const
{
    if (const auto* b = std::get_if<bool>(&scalar))
        return *b;
    throw InputError("GGUF metadata value is not a bool");
}

// --- Reading ---

std::vector<std::int64_t> TensorInfo::torchShape() const
{
    return { ggmlShape.rbegin(), ggmlShape.rend() };
}

std::int64_t TensorInfo::count() const
{
    std::int64_t n = 1;
    for (auto d : ggmlShape)
        n *= d;
    return n;
}

namespace {

class Reader {
public:
    Reader(std::string bytes, std::string label)
        : m_bytes(std::move(bytes))
        , m_label(std::move(label))
    { }

    template <typename T> T get(const std::string& what)
    {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, m_bytes.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return v;
    }

    std::string string(const std::string& what)
    {
        const auto n = get<std::uint64_t>(what + " (length)");
        need(n, what);
        std::string s = m_bytes.substr(m_pos, n);
        m_pos += n;
        return s;
    }

    std::variant<std::uint64_t, std::int64_t, double, bool, std::string> scalar(ValueType t, const std::string& what)
    {
        switch (t) {
        case ValueType::Uint8:
            return std::uint64_t { get<std::uint8_t>(what) };
        case ValueType::Int8:
            return std::int64_t { get<std::int8_t>(what) };
        case ValueType::Uint16:
            return std::uint64_t { get<std::uint16_t>(what) };
        case ValueType::Int16:
            return std::int64_t { get<std::int16_t>(what) };
        case ValueType::Uint32:
            return std::uint64_t { get<std::uint32_t>(what) };
        case ValueType::Int32:
            return std::int64_t { get<std::int32_t>(what) };
        case ValueType::Float32:
            return double { get<float>(what) };
        case ValueType::Bool: {
            const auto b = get<std::uint8_t>(what);
            if (b > 1)
                fail(what + ": a bool must be 0 or 1");
            return b == 1;
        }
        case ValueType::String:
            return string(what);
        case ValueType::Uint64:
            return get<std::uint64_t>(what);
        case ValueType::Int64:
            return get<std::int64_t>(what);
        case ValueType::Float64:
            return get<double>(what);
        case ValueType::Array:
            break;
        }
        fail(what + ": unknown value type " + std::to_string(static_cast<std::uint32_t>(t)));
    }

    std::size_t pos() const { return m_pos; }
    const std::string& bytes() const { return m_bytes; }
    [[noreturn]] void fail(const std::string& message) const { throw InputError(m_label + ": " + message); }

private:
    void need(std::uint64_t n, const std::string& what) const
    {
        if (n > m_bytes.size() - m_pos)
            fail("truncated at byte " + std::to_string(m_pos) + " reading " + what);
    }
    std::string m_bytes;
    std::string m_label;
    std::size_t m_pos = 0;
};

} // namespace

File File::read(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reader r(std::move(bytes), path.string());
    File f;
    f.path = path;
    if (r.bytes().compare(0, 4, "GGUF") != 0)
        r.fail("not a GGUF file (expected the magic bytes 'GGUF' at the start)");
    r.get<std::uint32_t>("magic");
    f.version = r.get<std::uint32_t>("version");
    if (f.version != 3)
        r.fail("GGUF version " + std::to_string(f.version) + ", expected 3");
    const auto tensorCount = r.get<std::uint64_t>("tensor count");
    const auto kvCount = r.get<std::uint64_t>("metadata count");
    std::uint64_t alignment = kAlignment;
    for (std::uint64_t i = 0; i < kvCount; ++i) {
        const std::string where = "metadata entry " + std::to_string(i);
        Value v;
        const std::string key = r.string(where + " key");
        v.type = static_cast<ValueType>(r.get<std::uint32_t>(key + " type"));
        if (v.type == ValueType::Array) {
            v.itemType = static_cast<ValueType>(r.get<std::uint32_t>(key + " item type"));
            if (v.itemType == ValueType::Array)
                r.fail(key + ": nested arrays are not read");
            const auto n = r.get<std::uint64_t>(key + " length");
            for (std::uint64_t j = 0; j < n; ++j)
                v.items.push_back(r.scalar(v.itemType, key + "[" + std::to_string(j) + "]"));
        } else {
            v.scalar = r.scalar(v.type, key);
        }
        if (key == "general.alignment") {
            const bool integer
                = std::holds_alternative<std::uint64_t>(v.scalar) || std::holds_alternative<std::int64_t>(v.scalar);
            if (v.type == ValueType::Array || !integer || v.asInt() <= 0)
                r.fail("general.alignment must be a positive integer");
            alignment = static_cast<std::uint64_t>(v.asInt());
        }
        f.metadata.emplace_back(key, std::move(v));
    }
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        r.fail("general.alignment must be a power of two, got " + std::to_string(alignment));
    std::set<std::string> names;
    for (std::uint64_t i = 0; i < tensorCount; ++i) {
        TensorInfo t;
        t.name = r.string("tensor " + std::to_string(i) + " name");
        if (!names.insert(t.name).second)
            r.fail("tensor '" + t.name + "' appears twice");
        const auto dims = r.get<std::uint32_t>(t.name + " dimension count");
        if (dims == 0 || dims > 4)
            r.fail(t.name + ": " + std::to_string(dims) + " dimensions (expected 1 to 4)");
        // The element count is checked against the file's size below; here only that it can be computed.
        std::uint64_t count = 1;
        for (std::uint32_t d = 0; d < dims; ++d) {
            const auto n = r.get<std::uint64_t>(t.name + " dimension");
            if (n > static_cast<std::uint64_t>(INT64_MAX)
                || (n != 0 && count > static_cast<std::uint64_t>(INT64_MAX) / n))
                r.fail(t.name + ": dimension " + std::to_string(n) + " makes the tensor too large");
            count *= n;
            t.ggmlShape.push_back(static_cast<std::int64_t>(n));
        }
        const auto type = r.get<std::uint32_t>(t.name + " type");
        if (type != 0 && type != 1 && type != 8 && type != 30)
            r.fail(t.name + ": ggml type " + std::to_string(type) + " is not read here (F32, F16, Q8_0, BF16 are)");
        t.type = static_cast<TensorType>(type);
        if (t.type == TensorType::Q8_0 && t.ggmlShape[0] % kQ8BlockSize != 0)
            r.fail(t.name + ": Q8_0 rows of " + std::to_string(t.ggmlShape[0]) + " values (expected a multiple of "
                + std::to_string(kQ8BlockSize) + ")");
        t.offset = r.get<std::uint64_t>(t.name + " offset");
        if (t.offset % alignment != 0)
            r.fail(t.name + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment "
                + std::to_string(alignment));
        f.tensors.push_back(std::move(t));
    }
    f.dataOffset = (r.pos() + alignment - 1) / alignment * alignment;
    const std::uint64_t size = r.bytes().size();
    for (const auto& t : f.tensors) {
        // Each step checked on its own: the sum of offsets from the file may wrap around.
        const std::uint64_t count = static_cast<std::uint64_t>(t.count());
        const std::uint64_t valueBytes = t.type == TensorType::F32 ? 4 : t.type == TensorType::Q8_0 ? 1 : 2;
        if (f.dataOffset > size || t.offset > size - f.dataOffset
            || count > (size - f.dataOffset - t.offset) / valueBytes
            || tensorBytes(t.type, t.count()) > size - f.dataOffset - t.offset)
            r.fail(t.name + ": its data runs past the end of the file");
    }
    return f;
}

const Value* File::find(const std::string& key) const
{
    for (const auto& [k, v] : metadata) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

const TensorInfo* File::tensor(const std::string& name) const
{
    for (const auto& t : tensors) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

} // namespace tunebench::gguf
