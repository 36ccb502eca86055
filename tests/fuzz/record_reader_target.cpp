#include "record_reader_target.h"

#include "core/util/error.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace tunebench::fuzz {

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "record reader fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

const std::filesystem::path& scratchFile(FileType type)
{
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("tunebench-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    static const std::filesystem::path jsonl = dir / "input.jsonl";
    static const std::filesystem::path csv = dir / "input.csv";
    return type == FileType::Csv ? csv : jsonl;
}

} // namespace

ReaderVerdict checkRecordReader(const std::uint8_t* data, std::size_t size, FileType type)
{
    const std::filesystem::path& path = scratchFile(type);
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    std::int64_t physicalLines = 1;
    for (std::size_t i = 0; i < size; ++i)
        physicalLines += data[i] == '\n';

    ReaderVerdict verdict;
    std::int64_t lastLine = 0;
    std::vector<std::string> firstKeys;
    try {
        readRecords(
            path, type,
            [&](SourceRecord&& r) {
                if (!r.value.is_object())
                    fail("broken invariant", "a record that is not an object: " + r.value.dump());
                if (r.line < 1 || r.line < lastLine || r.line > physicalLines)
                    fail("broken invariant",
                        "record line " + std::to_string(r.line) + " after " + std::to_string(lastLine) + " of "
                            + std::to_string(physicalLines));
                lastLine = r.line;
                if (type == FileType::Csv) {
                    std::vector<std::string> keys;
                    for (auto it = r.value.begin(); it != r.value.end(); ++it) {
                        if (!it.value().is_string())
                            fail("broken invariant", "a CSV cell that is not a string");
                        keys.push_back(it.key());
                    }
                    if (verdict.records == 0)
                        firstKeys = keys;
                    else if (keys != firstKeys)
                        fail("broken invariant", "CSV records with different columns");
                }
                ++verdict.records;
                return true;
            },
            [&](RecordError&& e) {
                if (e.line < 1 || e.line > physicalLines)
                    fail("broken invariant", "error line " + std::to_string(e.line) + ": " + e.message);
                if (e.message.empty())
                    fail("broken invariant", "an error without a message");
                ++verdict.errors;
            });
    } catch (const InputError&) {
        verdict.rejected = true;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
    return verdict;
}

} // namespace tunebench::fuzz
