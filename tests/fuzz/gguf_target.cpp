#include "gguf_target.h"

#include "core/export/gguf_file.h"
#include "core/util/error.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <string>

namespace tunebench::fuzz {

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "gguf fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

const std::filesystem::path& scratchFile()
{
    static const std::filesystem::path file = [] {
        auto d = std::filesystem::temp_directory_path() / ("tunebench-fuzz-gguf-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d / "input.gguf";
    }();
    return file;
}

void checkAccessors(const gguf::Value& v)
{
    // Each accessor either gives the value or says it is another type.
    try {
        (void)v.asString();
    } catch (const InputError&) { }
    try {
        (void)v.asInt();
    } catch (const InputError&) { }
    try {
        (void)v.asFloat();
    } catch (const InputError&) { }
    try {
        (void)v.asBool();
    } catch (const InputError&) { }
}

void checkFile(const gguf::File& f, std::size_t size)
{
    if (f.version != 3)
        fail("broken invariant", "version " + std::to_string(f.version));
    std::uint64_t alignment = gguf::kAlignment;
    for (const auto& [key, value] : f.metadata) {
        checkAccessors(value);
        if (f.find(key) == nullptr)
            fail("broken invariant", "metadata key '" + key + "' not found");
        if (key == "general.alignment")
            alignment = static_cast<std::uint64_t>(value.asInt());
    }
    if (f.dataOffset % alignment != 0 || f.dataOffset > size + alignment)
        fail("broken invariant", "data offset " + std::to_string(f.dataOffset));
    std::set<std::string> names;
    for (const gguf::TensorInfo& t : f.tensors) {
        if (!names.insert(t.name).second)
            fail("broken invariant", "tensor '" + t.name + "' twice");
        if (f.tensor(t.name) != &t)
            fail("broken invariant", "tensor '" + t.name + "' not found by name");
        if (t.ggmlShape.empty() || t.ggmlShape.size() > 4)
            fail("broken invariant", "tensor '" + t.name + "' dimensions");
        if (t.offset % alignment != 0)
            fail("broken invariant", "tensor '" + t.name + "' offset not aligned");
        // The element count, computed here without overflow (a build without UBSan would not see one in count()).
        std::uint64_t elements = 1;
        for (const std::int64_t d : t.ggmlShape) {
            if (d < 0 || __builtin_mul_overflow(elements, static_cast<std::uint64_t>(d), &elements))
                fail("broken invariant", "tensor '" + t.name + "' has more elements than a 64-bit count holds");
        }
        if (elements > size)
            fail("broken invariant", "tensor '" + t.name + "' has more elements than the file has bytes");
        const std::uint64_t bytes = gguf::tensorBytes(t.type, t.count());
        if (t.offset > size || bytes > size || f.dataOffset + t.offset + bytes > size)
            fail("broken invariant", "tensor '" + t.name + "' data runs past the end of the file");
        if (t.torchShape().size() != t.ggmlShape.size())
            fail("broken invariant", "tensor '" + t.name + "' torch shape");
        (void)gguf::tensorTypeName(t.type);
    }
}

} // namespace

GgufVerdict checkGguf(const std::uint8_t* data, std::size_t size)
{
    const std::filesystem::path& path = scratchFile();
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const gguf::File f = gguf::File::read(path);
        checkFile(f, size);
        return GgufVerdict::Accepted;
    } catch (const InputError& e) {
        if (std::string(e.what()).find(path.string()) == std::string::npos)
            fail("error names no file", e.what());
        return GgufVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
