#include "core/method/plugin_registry.h"

#include "core/method/plugin_api.h"
#include "core/tunebench_config.h"
#include "core/util/error.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

extern char** environ;

namespace fs = std::filesystem;

namespace tunebench {

std::string_view toString(PluginKind kind)
{
    switch (kind) {
    case PluginKind::Adapter:
        return "adapter";
    case PluginKind::Objective:
        return "objective";
    case PluginKind::Reward:
        return "reward";
    }
    return "unknown";
}

std::vector<fs::path> PluginRegistry::defaultSearchPath()
{
    std::vector<fs::path> out;
    if (const char* env = std::getenv("TUNEBENCH_PLUGIN_PATH"); env && *env) {
        std::string list = env;
        std::size_t start = 0;
        while (start <= list.size()) {
            std::size_t end = list.find(':', start);
            if (end == std::string::npos)
                end = list.size();
            if (end > start)
                out.emplace_back(list.substr(start, end - start));
            start = end + 1;
        }
    }
    // Beside the running program: <build>/plugins from <build>/app, and a
    // relocated install's <prefix>/lib/tunebench/plugins from <prefix>/bin.
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        out.push_back(exe.parent_path().parent_path() / "plugins");
        out.push_back(exe.parent_path().parent_path() / "lib/tunebench/plugins");
    }
    if (const char* home = std::getenv("HOME"); home && *home)
        out.push_back(fs::path(home) / ".local/share/tunebench/plugins");
    // The install's plugin folder beside the core library, <libdir>/tunebench/plugins,
    // wherever the install went (a Debian package's /usr/lib/<multiarch>, a moved prefix);
    // the configured install folder when the library cannot tell where it is.
    static const char anchor = 0;
    Dl_info info {};
    if (dladdr(&anchor, &info) && info.dli_fname) {
        // As the loader found it, e.g. /usr/bin/../lib/<multiarch>/libtunebench-core.so.0.1.
        const fs::path libDir = fs::path(info.dli_fname).parent_path();
        const fs::path resolved = fs::weakly_canonical(libDir, ec);
        out.push_back((ec ? libDir.lexically_normal() : resolved) / "tunebench/plugins");
    }
    out.emplace_back(TUNEBENCH_PLUGIN_INSTALL_DIR);
    // A folder reached twice (the library-relative and the configured one
    // usually coincide) is searched once: its plugins would clash with themselves.
    std::vector<fs::path> unique;
    std::vector<fs::path> seen;
    for (fs::path& folder : out) {
        const fs::path key = fs::weakly_canonical(folder, ec);
        const fs::path& id = ec ? folder : key;
        if (std::find(seen.begin(), seen.end(), id) != seen.end())
            continue;
        seen.push_back(id);
        unique.push_back(std::move(folder));
    }
    return unique;
}

void PluginRegistry::load(const std::vector<fs::path>& folders)
{
    for (const fs::path& folder : folders) {
        // A relative folder would mean whatever the current directory holds, which differs between the GUI,
        // its run workers and a shell: a plugin could be picked up from a folder the user never configured.
        if (folder.is_relative()) {
            m_broken.push_back({ folder,
                "is a relative plugin folder and is not searched (folders in TUNEBENCH_PLUGIN_PATH must be "
                "absolute paths)" });
            continue;
        }
        std::error_code ec;
        if (!fs::is_directory(folder, ec))
            continue;
        std::vector<fs::path> libraries;
        for (const auto& entry : fs::directory_iterator(folder, ec)) {
            if (entry.path().extension() == ".so")
                libraries.push_back(entry.path());
        }
        std::sort(libraries.begin(), libraries.end()); // the same order on every machine
        const auto failed
            = m_probe.empty() ? std::map<fs::path, std::string>() : probeLibraries(m_probe, libraries, m_probeTimeout);
        for (const fs::path& lib : libraries) {
            if (auto it = failed.find(lib); it != failed.end())
                m_broken.push_back({ lib, it->second });
            else
                loadLibrary(lib);
        }
    }
}

void PluginRegistry::setProbe(fs::path program, double timeoutSeconds)
{
    m_probe = std::move(program);
    m_probeTimeout = timeoutSeconds;
}

namespace {

std::string signalText(int sig)
{
    const char* name = strsignal(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(", ") + name : std::string());
}

struct ProbeChild {
    pid_t pid = 0;
    int out = -1; // the read end of its stdout
};

std::optional<ProbeChild> startProbe(const fs::path& program, const std::vector<fs::path>& libraries)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return std::nullopt;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    // What a crashing library prints is not ours to show.
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args = { program.string(), "plugins", "probe" };
    for (const fs::path& lib : libraries)
        args.push_back(lib.string());
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    ProbeChild child;
    const int spawned = posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) {
        close(fds[0]);
        return std::nullopt;
    }
    child.out = fds[0];
    return child;
}

// One child over libraries: the index it died in and why, or libraries.size() when every one loaded; nullopt
// when no child could be started or it loaded nothing (not a probe program).
std::optional<std::pair<std::size_t, std::string>> probeOnce(
    const fs::path& program, const std::vector<fs::path>& libraries, double timeoutSeconds)
{
    const auto child = startProbe(program, libraries);
    if (!child)
        return std::nullopt;
    using Clock = std::chrono::steady_clock;
    const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeoutSeconds));
    std::string buffer;
    std::size_t started = 0; // "loading" lines seen
    std::size_t loaded = 0; // "loaded" lines seen
    auto deadline = Clock::now() + budget;
    bool hung = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p { child->out, POLLIN, 0 };
        const int ready = poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left)));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            kill(child->pid, SIGKILL);
            hung = true;
            break;
        }
        char chunk[4096];
        const ssize_t n = read(child->out, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; // the child ended
        buffer.append(chunk, static_cast<std::size_t>(n));
        for (std::size_t eol; (eol = buffer.find('\n')) != std::string::npos; buffer.erase(0, eol + 1)) {
            if (buffer.compare(0, 8, "loading ") == 0) {
                ++started;
                deadline = Clock::now() + budget; // each library has the whole timeout
            } else if (buffer.compare(0, 7, "loaded ") == 0) {
                ++loaded;
            }
        }
    }
    close(child->out);
    int status = 0;
    while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR) { }
    if (!hung && loaded == libraries.size() && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return std::pair<std::size_t, std::string>(libraries.size(), std::string());
    if (started == 0 && !hung)
        return std::nullopt;
    // The library it was in: the last one started, or, when it died between two, the next one.
    const std::size_t at = started > loaded ? started - 1 : std::min(started, libraries.size() - 1);
    std::string why;
    if (hung)
        why = "did not finish loading within " + std::to_string(static_cast<long long>(timeoutSeconds)) + " s";
    else if (WIFSIGNALED(status))
        why = "crashed while loading (" + signalText(WTERMSIG(status)) + ")";
    else
        why = "ended the process while loading (exit status "
            + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return std::pair<std::size_t, std::string>(at, why + "; not loaded, so it cannot take Tunebench down");
}

} // namespace

std::map<fs::path, std::string> probeLibraries(
    const fs::path& program, const std::vector<fs::path>& libraries, double timeoutSeconds)
{
    std::map<fs::path, std::string> failed;
    std::vector<fs::path> rest = libraries;
    while (!rest.empty()) {
        const auto result = probeOnce(program, rest, timeoutSeconds);
        if (!result || result->first >= rest.size())
            break;
        failed[rest[result->first]] = result->second;
        rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(result->first) + 1);
    }
    return failed;
}

int loadForProbe(const std::vector<fs::path>& libraries, std::FILE* out)
{
    for (const fs::path& lib : libraries) {
        std::fprintf(out, "loading %s\n", lib.c_str());
        std::fflush(out);
        if (void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL)) {
            auto entry = reinterpret_cast<TunebenchPluginEntryPoint>(dlsym(handle, TUNEBENCH_PLUGIN_ENTRY_POINT));
            // Only the version is read: the rest of another API's descriptor may be laid out otherwise.
            if (const TunebenchPluginDescriptor* d = entry ? entry() : nullptr) {
                volatile int version = d->apiVersion;
                (void)version;
            }
        }
        std::fprintf(out, "loaded %s\n", lib.c_str());
        std::fflush(out);
    }
    return 0;
}

bool PluginRegistry::loadLibrary(const fs::path& path)
{
    auto fail = [&](std::string reason) {
        m_broken.push_back({ path, std::move(reason) });
        return false;
    };
    // RTLD_LOCAL: plugins do not see each other's symbols. Never dlclose'd.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* err = dlerror();
        return fail(std::string("cannot be loaded: ") + (err ? err : "unknown error"));
    }
    auto entry = reinterpret_cast<TunebenchPluginEntryPoint>(dlsym(handle, TUNEBENCH_PLUGIN_ENTRY_POINT));
    if (!entry)
        return fail(std::string("is not a Tunebench plugin: it exports no ") + TUNEBENCH_PLUGIN_ENTRY_POINT + "()");
    const TunebenchPluginDescriptor* d = entry();
    if (!d)
        return fail("its entry point returned no descriptor");
    // The version is read first: nothing else in a descriptor of another API may be trusted.
    if (d->apiVersion != TUNEBENCH_PLUGIN_API_VERSION)
        return fail("was built for plugin API version " + std::to_string(d->apiVersion) + ", this Tunebench has "
            + std::to_string(TUNEBENCH_PLUGIN_API_VERSION) + "; rebuild it against this Tunebench's SDK");
    if (!d->name || !*d->name || !d->kind)
        return fail("its descriptor has no name or kind");
    PluginInfo info;
    info.name = d->name;
    info.version = d->version ? d->version : "";
    info.summary = d->summary ? d->summary : "";
    info.path = path;
    info.descriptor = d;
    const std::string kind = d->kind;
    if (kind == "adapter" && d->createAdapter)
        info.kind = PluginKind::Adapter;
    else if (kind == "objective" && d->createObjective)
        info.kind = PluginKind::Objective;
    else if (kind == "reward" && d->createReward)
        info.kind = PluginKind::Reward;
    else
        return fail("'" + info.name + "': kind '" + kind
            + "' needs its factory (an adapter createAdapter, an objective createObjective, a reward createReward)");
    try {
        info.schema = ParameterSchema::fromJson(
            nlohmann::json::parse(d->schemaJson ? d->schemaJson : "[]"), "plugin '" + info.name + "'");
    } catch (const nlohmann::json::exception& e) {
        return fail("'" + info.name + "': its parameter schema is not valid JSON: " + e.what());
    } catch (const InputError& e) {
        return fail(e.what());
    }
    if (d->peftType && *d->peftType) {
        if (info.kind != PluginKind::Adapter)
            return fail("'" + info.name + "': an " + std::string(toString(info.kind))
                + " has no PEFT form (peftType is for adapters)");
        info.peftType = d->peftType;
    }
    if (const PluginInfo* other = find(info.kind, info.name))
        return fail("another " + std::string(toString(info.kind)) + " named '" + info.name + "' was loaded first, from "
            + other->path.string());
    m_plugins.push_back(std::move(info));
    return true;
}

const PluginInfo* PluginRegistry::find(PluginKind kind, std::string_view name) const
{
    for (const PluginInfo& p : m_plugins) {
        if (p.kind == kind && p.name == name)
            return &p;
    }
    return nullptr;
}

const PluginInfo& PluginRegistry::require(PluginKind kind, std::string_view name) const
{
    if (const PluginInfo* p = find(kind, name))
        return *p;
    std::string known;
    for (const PluginInfo& p : m_plugins) {
        if (p.kind == kind)
            known += (known.empty() ? "" : ", ") + p.name;
    }
    std::string message = "no " + std::string(toString(kind)) + " named '" + std::string(name)
        + "' (available: " + (known.empty() ? "none" : known) + ")";
    for (const BrokenPlugin& b : m_broken) {
        if (b.path.filename().string().find(std::string(name)) != std::string::npos)
            message += "; " + b.path.string() + " " + b.reason;
    }
    throw InputError(message);
}

std::vector<const PluginInfo*> PluginRegistry::peftAdapters(std::string_view peftType) const
{
    std::vector<const PluginInfo*> out;
    for (const PluginInfo& p : m_plugins) {
        if (p.kind == PluginKind::Adapter && !p.peftType.empty() && (peftType.empty() || p.peftType == peftType))
            out.push_back(&p);
    }
    return out;
}

fs::path PluginInfo::conformanceFile() const
{
    fs::path file = path;
    file.replace_extension(".conformance.yaml");
    return file;
}

std::unique_ptr<Adapter> PluginRegistry::createAdapter(std::string_view name) const
{
    return std::unique_ptr<Adapter>(require(PluginKind::Adapter, name).descriptor->createAdapter());
}

std::unique_ptr<Objective> PluginRegistry::createObjective(std::string_view name) const
{
    return std::unique_ptr<Objective>(require(PluginKind::Objective, name).descriptor->createObjective());
}

std::unique_ptr<Reward> PluginRegistry::createReward(std::string_view name) const
{
    return std::unique_ptr<Reward>(require(PluginKind::Reward, name).descriptor->createReward());
}

namespace {

fs::path& defaultProbe()
{
    static fs::path program;
    return program;
}

} // namespace

void setDefaultPluginProbe(fs::path program)
{
    defaultProbe() = std::move(program);
}

const PluginRegistry& defaultPluginRegistry()
{
    static PluginRegistry registry;
    static std::once_flag once;
    std::call_once(once, [] {
        registry.setProbe(defaultProbe());
        registry.load(PluginRegistry::defaultSearchPath());
    });
    return registry;
}

} // namespace tunebench
