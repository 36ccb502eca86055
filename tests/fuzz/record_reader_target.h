// The fuzz entry point for the dataset record readers (JSON Lines and CSV),
// shared by the libFuzzer binaries (clang, tests/fuzz/CMakeLists.txt) and the
// deterministic mutation test of the normal build
// (tests/data/test_record_reader_fuzz.cpp).
#pragma once

#include "core/data/record_reader.h"

#include <cstddef>
#include <cstdint>

namespace tunebench::fuzz {

struct ReaderVerdict {
    bool rejected = false; // the reader threw InputError (a broken file)
    std::size_t records = 0;
    std::size_t errors = 0;
};

// Writes data to a scratch file (the readers stream from files) and reads it
// as `type`. Checks what must hold for any input: records are JSON objects
// with lines that start at 1 and never go down, error lines lie in the file,
// every CSV record has the header's keys with string cells. Anything else
// (another exception type, a broken invariant) is a bug and aborts with a
// message on stderr.
ReaderVerdict checkRecordReader(const std::uint8_t* data, std::size_t size, FileType type);

} // namespace tunebench::fuzz
