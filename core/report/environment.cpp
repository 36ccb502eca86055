#include "core/report/environment.h"

#include "core/version.h"

#include <ATen/Parallel.h>

#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace tunebench {

namespace {

// The value of the first "key<spaces>: value" line of a /proc style file.
std::string procField(const char* path, const std::string& key)
{
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0)
            continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        const auto begin = line.find_first_not_of(" \t", colon + 1);
        return begin == std::string::npos ? std::string() : line.substr(begin);
    }
    return {};
}

std::string osName()
{
    std::string name;
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("PRETTY_NAME=", 0) == 0) {
            name = line.substr(12);
            if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
                name = name.substr(1, name.size() - 2);
        }
    }
    utsname u {};
    if (uname(&u) == 0) {
        const std::string kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
        name = name.empty() ? kernel : name + " (" + kernel + ")";
    }
    return name.empty() ? std::string("unknown") : name;
}

} // namespace

std::vector<std::pair<std::string, std::string>> describeEnvironment()
{
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back("Tunebench", tunebenchVersion());
    out.emplace_back("LibTorch", torchVersion());
    out.emplace_back("SQLite", sqliteVersion());
    std::string cpu = procField("/proc/cpuinfo", "model name");
    if (cpu.empty())
        cpu = "unknown";
    out.emplace_back("CPU", cpu + " (" + std::to_string(std::thread::hardware_concurrency()) + " logical cores)");
    out.emplace_back("LibTorch threads", std::to_string(at::get_num_threads()));
    const std::string memory = procField("/proc/meminfo", "MemTotal");
    if (!memory.empty()) {
        // "131940836 kB"
        char text[32];
        std::snprintf(text, sizeof text, "%.1f GiB", std::strtod(memory.c_str(), nullptr) / (1024.0 * 1024.0));
        out.emplace_back("Memory", text);
    }
    out.emplace_back("GPU", cudaAvailable() ? "CUDA device available" : "none (CPU only)");
    out.emplace_back("OS", osName());
    return out;
}

} // namespace tunebench
