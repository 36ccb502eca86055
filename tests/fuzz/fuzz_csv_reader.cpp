// libFuzzer target: the CSV record reader on arbitrary bytes.
// Build and run: see tests/fuzz/CMakeLists.txt.

#include "record_reader_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkRecordReader(data, size, tunebench::FileType::Csv);
    return 0;
}
