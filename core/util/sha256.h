#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tunebench {

// SHA-256 (FIPS 180-4), incremental. Used for dataset content hashes.
class Sha256 {
public:
    Sha256();
    void update(std::string_view bytes);
    // Finishes and returns the digest as 64 lowercase hex digits; the object
    // must not be updated afterwards.
    std::string hexDigest();

private:
    void block(const std::uint8_t* data);

    std::array<std::uint32_t, 8> m_state;
    std::array<std::uint8_t, 64> m_buffer {};
    std::size_t m_buffered = 0;
    std::uint64_t m_length = 0;
};

std::string sha256Hex(std::string_view bytes);

// Feeds a folder's identity into h: its canonical path, then each regular file's name, size and modification
// time in name order. What cache keys of results computed from a model folder use, so that a folder written
// again (a new export, a retrained model) is a new key without reading its weights.
void hashFolderListing(Sha256& h, const std::filesystem::path& folder);

} // namespace tunebench
