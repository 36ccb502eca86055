// The plugin folders a test loads: the build's own, then any other folder on
// TUNEBENCH_PLUGIN_PATH (CTest sets it to the build's folder; the SDK test
// points it at an out-of-tree plugin, which is then tested like a built-in).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace test_plugins {

inline std::vector<std::filesystem::path> folders()
{
    namespace fs = std::filesystem;
    const fs::path own = fs::weakly_canonical(fs::path(TUNEBENCH_BINARY_DIR) / "plugins");
    std::vector<fs::path> out = { own };
    if (const char* extra = std::getenv("TUNEBENCH_PLUGIN_PATH")) {
        std::stringstream list(extra);
        std::string folder;
        while (std::getline(list, folder, ':')) {
            if (!folder.empty() && fs::weakly_canonical(folder) != own)
                out.push_back(folder);
        }
    }
    return out;
}

} // namespace test_plugins
