// A whole file mapped into memory (POSIX mmap), for zero-copy tensor loading.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

namespace tunebench {

class MappedFile {
public:
    // Maps the file privately and copy-on-write: pages are read from the file on
    // first touch, and a write to a page (an in-place update of a tensor that
    // shares the mapping) changes this process's copy only, never the file.
    // Throws InputError naming the file when it cannot be opened or is empty.
    static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::uint8_t* data() const { return m_data; }
    std::uint64_t size() const { return m_size; }
    const std::filesystem::path& path() const { return m_path; }

private:
    MappedFile(std::filesystem::path path, std::uint8_t* data, std::uint64_t size);

    std::filesystem::path m_path;
    std::uint8_t* m_data = nullptr;
    std::uint64_t m_size = 0;
};

} // namespace tunebench
