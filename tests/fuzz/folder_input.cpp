#include "folder_input.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string_view>

namespace tunebench::fuzz {

std::vector<FolderFile> splitFolderInput(const std::uint8_t* data, std::size_t size, const std::string& firstFile,
    const std::vector<std::string>& allowedNames)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static constexpr std::string_view kMark = "\n#--- ";
    std::vector<FolderFile> files { { firstFile, {} } };
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t mark = text.find(kMark, pos);
        if (mark == std::string_view::npos) {
            files.back().bytes.append(text.substr(pos));
            break;
        }
        const std::size_t nameBegin = mark + kMark.size();
        const std::size_t lineEnd = text.find('\n', nameBegin);
        const std::string_view name
            = text.substr(nameBegin, lineEnd == std::string_view::npos ? 0 : lineEnd - nameBegin);
        if (lineEnd != std::string_view::npos
            && std::find(allowedNames.begin(), allowedNames.end(), name) != allowedNames.end()) {
            files.back().bytes.append(text.substr(pos, mark - pos));
            files.push_back({ std::string(name), {} });
            pos = lineEnd + 1;
        } else {
            // Not a separator: keep the newline and look further on.
            files.back().bytes.append(text.substr(pos, mark + 1 - pos));
            pos = mark + 1;
        }
    }
    // The last part of a file named twice wins.
    std::vector<FolderFile> unique;
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        if (std::none_of(unique.begin(), unique.end(), [&](const FolderFile& f) { return f.name == it->name; }))
            unique.push_back(std::move(*it));
    }
    return unique;
}

const std::filesystem::path& writeScratchFolder(const std::vector<FolderFile>& files)
{
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("tunebench-fuzz-folder-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        std::filesystem::remove_all(entry.path());
    for (const FolderFile& f : files) {
        std::ofstream out(dir / f.name, std::ios::binary | std::ios::trunc);
        out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    }
    return dir;
}

} // namespace tunebench::fuzz
