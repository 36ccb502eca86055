#include "core/model/safetensors_header.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <set>

namespace tunebench {

namespace {

struct DtypeEntry {
    SafetensorsDtype dtype;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<DtypeEntry, 15> kDtypes { {
    { SafetensorsDtype::Bool, "BOOL", 1 },
    { SafetensorsDtype::U8, "U8", 1 },
    { SafetensorsDtype::I8, "I8", 1 },
    { SafetensorsDtype::F8E5M2, "F8_E5M2", 1 },
    { SafetensorsDtype::F8E4M3, "F8_E4M3", 1 },
    { SafetensorsDtype::I16, "I16", 2 },
    { SafetensorsDtype::U16, "U16", 2 },
    { SafetensorsDtype::F16, "F16", 2 },
    { SafetensorsDtype::BF16, "BF16", 2 },
    { SafetensorsDtype::I32, "I32", 4 },
    { SafetensorsDtype::U32, "U32", 4 },
    { SafetensorsDtype::F32, "F32", 4 },
    { SafetensorsDtype::F64, "F64", 8 },
    { SafetensorsDtype::I64, "I64", 8 },
    { SafetensorsDtype::U64, "U64", 8 },
} };

const DtypeEntry& entry(SafetensorsDtype dtype)
{
    return kDtypes[static_cast<std::size_t>(dtype)];
}

// Names are user data: keep messages one line and bounded.
std::string quoteName(std::string_view s)
{
    std::string out = "'";
    for (char c : s.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    if (s.size() > 200)
        out += "...";
    return out + "'";
}

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// nlohmann's parser is iterative, but a deep document still costs memory and
// a recursive destructor; a safetensors header is 3 levels deep at most
// ({name: {field: [numbers]}}). Duplicate keys would let a later entry hide an
// earlier one, so they are refused rather than silently dropped.
class HeaderShapeGuard {
public:
    explicit HeaderShapeGuard(const std::string& fileLabel)
        : m_fileLabel(fileLabel)
    { }

    bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed)
    {
        using Event = nlohmann::json::parse_event_t;
        switch (event) {
        case Event::object_start:
        case Event::array_start:
            if (m_open.size() >= 3)
                throw InputError(m_fileLabel
                    + ": safetensors header nests deeper than 3 levels; expected "
                      "{name: {dtype, shape, data_offsets}}");
            m_open.emplace_back();
            break;
        case Event::object_end:
        case Event::array_end:
            if (!m_open.empty())
                m_open.pop_back();
            break;
        case Event::key:
            if (!m_open.empty() && parsed.is_string()) {
                const std::string& key = parsed.get_ref<const std::string&>();
                if (!m_open.back().keys.insert(key).second)
                    throw InputError(m_fileLabel + ": safetensors header has the key " + quoteName(key) + " twice");
            }
            break;
        case Event::value:
            break;
        }
        return true;
    }

private:
    struct Open {
        std::set<std::string> keys; // empty for arrays
    };
    const std::string& m_fileLabel;
    std::vector<Open> m_open;
};

std::uint64_t unsignedValue(const nlohmann::json& v, const std::string& what)
{
    if (!v.is_number_unsigned())
        throw InputError(what + " must be a non-negative integer, got " + v.dump().substr(0, 100));
    return v.get<std::uint64_t>();
}

SafetensorsTensorInfo parseTensorInfo(
    const std::string& name, const nlohmann::json& value, const std::string& fileLabel)
{
    const std::string where = fileLabel + ": safetensors header: tensor " + quoteName(name);
    if (!value.is_object())
        throw InputError(
            where + " must be an object {dtype, shape, data_offsets}, got " + std::string(value.type_name()));
    auto field = [&](const char* key) -> const nlohmann::json& {
        auto it = value.find(key);
        if (it == value.end())
            throw InputError(where + " has no '" + key + "' field");
        return *it;
    };

    SafetensorsTensorInfo info;
    info.name = name;

    const nlohmann::json& dtype = field("dtype");
    if (!dtype.is_string())
        throw InputError(where + ": 'dtype' must be a string, got " + std::string(dtype.type_name()));
    auto parsedDtype = dtypeFromName(dtype.get_ref<const std::string&>());
    if (!parsedDtype)
        throw InputError(where + ": unknown dtype " + quoteName(dtype.get_ref<const std::string&>())
            + " (known: BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64)");
    info.dtype = *parsedDtype;

    const nlohmann::json& shape = field("shape");
    if (!shape.is_array())
        throw InputError(where + ": 'shape' must be an array, got " + std::string(shape.type_name()));
    if (shape.size() > kMaxSafetensorsRank)
        throw InputError(where + ": 'shape' has " + std::to_string(shape.size()) + " dimensions, more than "
            + std::to_string(kMaxSafetensorsRank));
    std::uint64_t numel = 1;
    for (const auto& d : shape) {
        const std::uint64_t dim = unsignedValue(d, where + ": every 'shape' entry");
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw InputError(where + ": 'shape' entry " + std::to_string(dim) + " is too large");
        info.shape.push_back(static_cast<std::int64_t>(dim));
        if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim)
            throw InputError(
                where + ": the element count of shape " + shape.dump().substr(0, 200) + " overflows 64 bits");
        numel *= dim;
    }
    info.numel = numel;
    const std::uint64_t elementSize = dtypeSize(info.dtype);
    if (numel > std::numeric_limits<std::uint64_t>::max() / elementSize)
        throw InputError(where + ": shape " + shapeText(info.shape) + " of " + std::string(dtypeName(info.dtype))
            + " needs more bytes than 64 bits can count");
    const std::uint64_t bytes = numel * elementSize;

    const nlohmann::json& offsets = field("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2)
        throw InputError(
            where + ": 'data_offsets' must be an array [begin, end], got " + offsets.dump().substr(0, 100));
    info.begin = unsignedValue(offsets[0], where + ": data_offsets begin");
    info.end = unsignedValue(offsets[1], where + ": data_offsets end");
    if (info.end < info.begin)
        throw InputError(where + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end)
            + "] end before they begin");
    if (info.end - info.begin != bytes)
        throw InputError(where + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end)
            + "] span " + std::to_string(info.end - info.begin) + " bytes, but shape " + shapeText(info.shape) + " of "
            + std::string(dtypeName(info.dtype)) + " needs " + std::to_string(bytes));
    return info;
}

} // namespace

std::size_t dtypeSize(SafetensorsDtype dtype)
{
    return entry(dtype).size;
}

std::string_view dtypeName(SafetensorsDtype dtype)
{
    return entry(dtype).name;
}

std::optional<SafetensorsDtype> dtypeFromName(std::string_view name)
{
    for (const auto& e : kDtypes) {
        if (e.name == name)
            return e.dtype;
    }
    return std::nullopt;
}

const SafetensorsTensorInfo* SafetensorsHeader::find(std::string_view name) const
{
    auto it = index.find(std::string(name));
    return it == index.end() ? nullptr : &tensors[it->second];
}

std::uint64_t readSafetensorsHeaderLength(
    std::span<const std::uint8_t> prefix, std::uint64_t fileSize, const std::string& fileLabel)
{
    if (prefix.size() < 8 || fileSize < 8)
        throw InputError(fileLabel + ": not a safetensors file: it is " + std::to_string(fileSize)
            + " bytes long, shorter than the 8-byte header length that starts the format");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | prefix[static_cast<std::size_t>(i)];
    if (n > kMaxSafetensorsHeaderBytes)
        throw InputError(fileLabel + ": safetensors header length " + std::to_string(n) + " exceeds the limit of "
            + std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (corrupt or not a safetensors file)");
    if (n > fileSize - 8)
        throw InputError(fileLabel + ": safetensors header length " + std::to_string(n) + " runs past the end of the "
            + std::to_string(fileSize) + "-byte file (truncated or corrupt)");
    if (n < 2)
        throw InputError(
            fileLabel + ": safetensors header length " + std::to_string(n) + " is too short for a JSON object");
    return n;
}

SafetensorsHeader parseSafetensorsHeader(
    std::span<const std::uint8_t> fileStart, std::uint64_t fileSize, const std::string& fileLabel)
{
    SafetensorsHeader header;
    header.headerLength = readSafetensorsHeaderLength(fileStart, fileSize, fileLabel);
    if (fileStart.size() - 8 < header.headerLength)
        throw InputError(fileLabel + ": safetensors header: only " + std::to_string(fileStart.size() - 8) + " of "
            + std::to_string(header.headerLength) + " header bytes are available");
    header.dataSize = fileSize - 8 - header.headerLength;

    const auto* text = reinterpret_cast<const char*>(fileStart.data() + 8);
    const std::string_view json(text, header.headerLength);
    if (json.front() != '{')
        throw InputError(fileLabel + ": safetensors header does not start with '{' (not a JSON object)");

    nlohmann::json root;
    try {
        HeaderShapeGuard guard(fileLabel);
        root = nlohmann::json::parse(json.begin(), json.end(), std::ref(guard));
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fileLabel + ": safetensors header is not valid JSON: " + e.what());
    }
    if (!root.is_object())
        throw InputError(fileLabel + ": safetensors header must be a JSON object, got " + root.type_name());

    for (const auto& [key, value] : root.items()) {
        if (key == "__metadata__") {
            if (value.is_null())
                continue;
            if (!value.is_object())
                throw InputError(fileLabel + ": safetensors header: '__metadata__' must be an object of strings, got "
                    + value.type_name());
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string())
                    throw InputError(fileLabel + ": safetensors header: '__metadata__' entry " + quoteName(mk)
                        + " must be a string, got " + mv.type_name());
                header.metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        header.tensors.push_back(parseTensorInfo(key, value, fileLabel));
    }

    std::sort(header.tensors.begin(), header.tensors.end(),
        [](const auto& a, const auto& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < header.tensors.size(); ++i) {
        const SafetensorsTensorInfo& t = header.tensors[i];
        if (t.begin != expected) {
            const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
            if (t.begin < expected)
                throw InputError(fileLabel + ": safetensors header: tensor " + quoteName(t.name) + " data_offsets "
                    + range + " overlap tensor " + quoteName(header.tensors[i - 1].name) + ", which ends at "
                    + std::to_string(expected));
            throw InputError(fileLabel + ": safetensors header: tensor " + quoteName(t.name) + " data_offsets " + range
                + " leave a gap: the previous tensor ends at " + std::to_string(expected));
        }
        if (t.end > header.dataSize)
            throw InputError(fileLabel + ": safetensors header: tensor " + quoteName(t.name) + " data_offsets ["
                + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] run past the "
                + std::to_string(header.dataSize) + " bytes of data in the file (truncated?)");
        expected = t.end;
        header.index.emplace(t.name, i);
    }
    if (expected != header.dataSize)
        throw InputError(fileLabel + ": safetensors header: the tensors cover " + std::to_string(expected) + " of the "
            + std::to_string(header.dataSize) + " data bytes; the file has "
            + std::to_string(header.dataSize - expected) + " bytes no tensor claims");
    return header;
}

} // namespace tunebench
