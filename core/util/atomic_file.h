#pragma once

// Files that are either wholly written or not there: written under a temporary name beside
// the target, flushed to disk (fsync) and renamed into place, then the folder is synced.
// A failure (a full disk, a file-size limit, a read-only folder) throws an Error naming the
// target and the system's reason, removes the temporary file and leaves an existing target
// as it was.

#include "core/util/error.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace tunebench {

class AtomicFile {
public:
    // Creates the temporary file. Throws Error naming the target when it cannot.
    explicit AtomicFile(std::filesystem::path target);
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    // Removes the temporary file unless committed.
    ~AtomicFile();

    void write(const void* data, std::size_t size);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // fsync, close, rename over the target, fsync the folder.
    void commit();

    const std::filesystem::path& target() const { return m_target; }

private:
    [[noreturn]] void fail(const std::string& what, int error);

    std::filesystem::path m_target;
    std::filesystem::path m_temporary;
    int m_fd = -1;
    bool m_committed = false;
};

// The whole of `bytes` as `target`, atomically (above).
void writeFileAtomically(const std::filesystem::path& target, std::string_view bytes);

// fsync of a file or folder, so a rename or a file written with std::ofstream is on disk.
// Throws Error naming the path.
void syncToDisk(const std::filesystem::path& path);

// "No space left on device" and the like for errno `error`, with a hint for a full disk.
std::string writeFailureText(int error);

} // namespace tunebench
