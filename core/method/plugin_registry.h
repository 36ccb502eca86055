#pragma once

#include "core/method/parameter_schema.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct TunebenchPluginDescriptor;

namespace tunebench {

class Adapter;
class Objective;
class Reward;

enum class PluginKind { Adapter, Objective, Reward };
std::string_view toString(PluginKind kind);

struct PluginInfo {
    std::string name;
    std::string version;
    PluginKind kind = PluginKind::Adapter;
    std::string summary;
    ParameterSchema schema;
    std::filesystem::path path;
    std::string peftType; // adapters with a PEFT form: its peft_type (LORA, IA3 ...); empty otherwise
    const TunebenchPluginDescriptor* descriptor = nullptr;

    // The conformance file a plugin carries beside its library
    // (<library without .so>.conformance.yaml; core/train/adapter_conformance.h).
    std::filesystem::path conformanceFile() const;
};

// A library in the search path that could not be used, and why.
struct BrokenPlugin {
    std::filesystem::path path;
    std::string reason;
};

// The method plugins found on disk. Libraries stay loaded for the life of the
// process (objects they create must not outlive their code). Not thread-safe:
// load on one thread, then share read-only.
class PluginRegistry {
public:
    // Where plugins are looked for, first to last: TUNEBENCH_PLUGIN_PATH
    // (colon-separated), beside the running program (<build>/plugins for a
    // build tree, <prefix>/lib/tunebench/plugins for a moved install), the
    // per-user folder (~/.local/share/tunebench/plugins), the install's plugin
    // folder (<libdir>/tunebench/plugins beside libtunebench-core, then the
    // configured one); a folder reached twice is listed once. A name found
    // twice is taken from the first.
    static std::vector<std::filesystem::path> defaultSearchPath();

    // Loads every *.so in the folders (missing folders are skipped; a relative one
    // is listed in broken() and not searched). A library
    // that fails (not loadable, no entry point, another API version, a bad
    // schema, a duplicate name) is listed in broken() with the reason; the
    // others load regardless. With a probe program set, the libraries are
    // loaded in a child process first (see probeLibraries): one that crashes
    // or hangs there is listed as broken and never loaded in this process.
    void load(const std::vector<std::filesystem::path>& folders);

    // A program that answers `PROGRAM plugins probe LIBRARY...` as tunebench-cli
    // does (loadForProbe on each library in turn); an empty path turns probing
    // off. timeoutSeconds bounds each library's load in the child.
    void setProbe(std::filesystem::path program, double timeoutSeconds = 30.0);
    // Loads one library; returns false (and lists it as broken) on failure.
    bool loadLibrary(const std::filesystem::path& path);

    const std::vector<PluginInfo>& plugins() const { return m_plugins; }
    const std::vector<BrokenPlugin>& broken() const { return m_broken; }
    const PluginInfo* find(PluginKind kind, std::string_view name) const;

    // Throws InputError naming the available ones when there is no such plugin.
    const PluginInfo& require(PluginKind kind, std::string_view name) const;
    std::unique_ptr<Adapter> createAdapter(std::string_view name) const;
    std::unique_ptr<Objective> createObjective(std::string_view name) const;
    std::unique_ptr<Reward> createReward(std::string_view name) const;

    // The adapters whose descriptor names a PEFT form, in load order; with a
    // type given, those of that peft_type only.
    std::vector<const PluginInfo*> peftAdapters(std::string_view peftType = {}) const;

private:
    std::vector<PluginInfo> m_plugins;
    std::vector<BrokenPlugin> m_broken;
    std::filesystem::path m_probe;
    double m_probeTimeout = 30.0;
};

// Loading a plugin runs its code (static initialisers, the entry point) in the
// loading process. probeLibraries loads the libraries one after another in a
// child process (`program plugins probe LIB...`) and returns, for each one that
// killed the child or did not finish loading within timeoutSeconds, why; the
// child is restarted after it for the rest. When the program cannot be started
// the result is empty (the libraries are then loaded directly).
std::map<std::filesystem::path, std::string> probeLibraries(
    const std::filesystem::path& program, const std::vector<std::filesystem::path>& libraries, double timeoutSeconds);

// The child's side, for `tunebench-cli plugins probe`: loads each library and
// calls its entry point, writing "loading PATH" before and "loaded PATH" after
// each to out (flushed), so the parent knows which one it was in when it died.
// Returns 0.
int loadForProbe(const std::vector<std::filesystem::path>& libraries, std::FILE* out);

// The program defaultPluginRegistry() probes with (set before its first use:
// the GUI sets tunebench-cli beside itself); empty by default.
void setDefaultPluginProbe(std::filesystem::path program);

// The registry of the default search path, loaded on first use.
const PluginRegistry& defaultPluginRegistry();

} // namespace tunebench
