// Fuzz inputs that stand for a folder of files (a tokenizer folder: tokenizer.json and
// tokenizer_config.json, or vocab.json and merges.txt). The input is the first file's bytes,
// then for each further file a separator line "#--- NAME" (newline before and after) and its
// bytes. NAME must be one of the names the target allows; any other such line is content.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench::fuzz {

struct FolderFile {
    std::string name;
    std::string bytes;
};

// Splits data into files: the first is named firstFile, the others by their separators. A file
// named twice keeps its last part.
std::vector<FolderFile> splitFolderInput(const std::uint8_t* data, std::size_t size, const std::string& firstFile,
    const std::vector<std::string>& allowedNames);

// A scratch folder of this process (created on first use), emptied and filled with files.
const std::filesystem::path& writeScratchFolder(const std::vector<FolderFile>& files);

} // namespace tunebench::fuzz
