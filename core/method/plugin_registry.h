#pragma once

#include "core/method/parameter_schema.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

struct TunebenchPluginDescriptor;

namespace tunebench {

class Adapter;
class Objective;

enum class PluginKind { Adapter, Objective };
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

    // Loads every *.so in the folders (missing folders are skipped). A library
    // that fails (not loadable, no entry point, another API version, a bad
    // schema, a duplicate name) is listed in broken() with the reason; the
    // others load regardless.
    void load(const std::vector<std::filesystem::path>& folders);
    // Loads one library; returns false (and lists it as broken) on failure.
    bool loadLibrary(const std::filesystem::path& path);

    const std::vector<PluginInfo>& plugins() const { return m_plugins; }
    const std::vector<BrokenPlugin>& broken() const { return m_broken; }
    const PluginInfo* find(PluginKind kind, std::string_view name) const;

    // Throws InputError naming the available ones when there is no such plugin.
    const PluginInfo& require(PluginKind kind, std::string_view name) const;
    std::unique_ptr<Adapter> createAdapter(std::string_view name) const;
    std::unique_ptr<Objective> createObjective(std::string_view name) const;

    // The adapters whose descriptor names a PEFT form, in load order; with a
    // type given, those of that peft_type only.
    std::vector<const PluginInfo*> peftAdapters(std::string_view peftType = {}) const;

private:
    std::vector<PluginInfo> m_plugins;
    std::vector<BrokenPlugin> m_broken;
};

// The registry of the default search path, loaded on first use.
const PluginRegistry& defaultPluginRegistry();

} // namespace tunebench
