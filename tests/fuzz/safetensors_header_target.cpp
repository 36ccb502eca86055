#include "safetensors_header_target.h"

#include "core/model/safetensors_header.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>

namespace tunebench::fuzz {

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "safetensors header fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

void checkInvariants(const SafetensorsHeader& h, std::size_t size)
{
    if (h.dataOffset() + h.dataSize != size)
        fail("broken invariant", "header and data do not add up to the file size");
    std::uint64_t expected = 0;
    for (std::size_t i = 0; i < h.tensors.size(); ++i) {
        const SafetensorsTensorInfo& t = h.tensors[i];
        if (t.begin != expected || t.end < t.begin)
            fail("broken invariant", "tensor '" + t.name + "' does not follow the previous one");
        std::uint64_t numel = 1;
        for (auto d : t.shape) {
            if (d < 0)
                fail("broken invariant", "negative dimension in '" + t.name + "'");
            numel *= static_cast<std::uint64_t>(d); // cannot overflow: the parser checked
        }
        if (numel != t.numel || numel * dtypeSize(t.dtype) != t.end - t.begin)
            fail("broken invariant", "byte count of '" + t.name + "'");
        if (h.find(t.name) != &t)
            fail("broken invariant", "index of '" + t.name + "'");
        expected = t.end;
    }
    if (expected != h.dataSize)
        fail("broken invariant", "tensors do not cover the data region");
    if (h.index.size() != h.tensors.size())
        fail("broken invariant", "index size");
}

} // namespace

HeaderVerdict checkSafetensorsHeader(const std::uint8_t* data, std::size_t size)
{
    try {
        const SafetensorsHeader h = parseSafetensorsHeader(std::span<const std::uint8_t>(data, size), size, "fuzz");
        checkInvariants(h, size);
        return HeaderVerdict::Accepted;
    } catch (const InputError&) {
        return HeaderVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
