#include "core/distributed/distributed_config.h"

#include "core/util/error.h"

#include <cstdlib>
#include <set>

namespace tunebench {

namespace {

std::int64_t integerField(const nlohmann::json& v, const std::string& where, std::int64_t low, std::int64_t high)
{
    if (!v.is_number_integer())
        throw InputError(where + " must be a whole number, got " + v.dump());
    const auto n = v.get<std::int64_t>();
    if (n < low || n > high)
        throw InputError(where + " must be between " + std::to_string(low) + " and " + std::to_string(high) + ", got "
            + std::to_string(n));
    return n;
}

std::int64_t integerVariable(const char* name, std::int64_t low, std::int64_t high)
{
    const char* text = std::getenv(name);
    char* end = nullptr;
    const long long n = std::strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n < low || n > high)
        throw InputError("environment variable " + std::string(name) + "='" + text + "' must be a whole number from "
            + std::to_string(low) + " to " + std::to_string(high));
    return n;
}

void checkBackend(const std::string& backend, const std::string& where)
{
    if (backend != "gloo" && backend != "nccl")
        throw InputError(where + " must be gloo or nccl, got '" + backend + "'");
}

} // namespace

DistributedConfig DistributedConfig::fromJson(const nlohmann::json& section, const std::string& source)
{
    if (!section.is_object())
        throw InputError(source
            + ": section 'distributed' must be a mapping {backend, nproc_per_node, nnodes, "
              "node_rank, master_addr, master_port, timeout_s}");
    DistributedConfig d;
    for (auto it = section.begin(); it != section.end(); ++it) {
        const std::string& key = it.key();
        const nlohmann::json& v = it.value();
        const std::string where = source + ": field 'distributed." + key + "'";
        if (key == "backend") {
            if (!v.is_string())
                throw InputError(where + " must be gloo or nccl");
            d.backend = v.get<std::string>();
            checkBackend(d.backend, where);
        } else if (key == "nproc_per_node") {
            d.nprocPerNode = integerField(v, where, 1, 4096);
        } else if (key == "nnodes") {
            d.nnodes = integerField(v, where, 1, 4096);
        } else if (key == "node_rank") {
            d.nodeRank = integerField(v, where, 0, 4095);
        } else if (key == "master_addr") {
            if (!v.is_string() || v.get<std::string>().empty())
                throw InputError(where + " must be a host name or address");
            d.masterAddr = v.get<std::string>();
        } else if (key == "master_port") {
            d.masterPort = integerField(v, where, 1, 65535);
        } else if (key == "timeout_s") {
            if (!v.is_number() || v.get<double>() <= 0)
                throw InputError(where + " must be a number of seconds above 0, got " + v.dump());
            d.timeoutS = v.get<double>();
        } else {
            throw InputError(source + ": unknown key 'distributed." + key
                + "' (known: backend, nproc_per_node, nnodes, node_rank, master_addr, master_port, timeout_s)");
        }
    }
    if (d.nodeRank >= d.nnodes)
        throw InputError(source + ": field 'distributed.node_rank' (" + std::to_string(d.nodeRank)
            + ") must be below 'distributed.nnodes' (" + std::to_string(d.nnodes) + ")");
    return d;
}

nlohmann::json DistributedConfig::toJson() const
{
    return { { "backend", backend }, { "nproc_per_node", nprocPerNode }, { "nnodes", nnodes },
        { "node_rank", nodeRank }, { "master_addr", masterAddr }, { "master_port", masterPort },
        { "timeout_s", timeoutS } };
}

std::optional<RankEnvironment> RankEnvironment::fromEnvironment(const DistributedConfig& fallback)
{
    if (!std::getenv("RANK") || !std::getenv("WORLD_SIZE"))
        return std::nullopt;
    RankEnvironment e;
    e.worldSize = integerVariable("WORLD_SIZE", 1, 1 << 20);
    e.rank = integerVariable("RANK", 0, e.worldSize - 1);
    e.localRank = std::getenv("LOCAL_RANK") ? integerVariable("LOCAL_RANK", 0, e.worldSize - 1) : 0;
    e.masterAddr = std::getenv("MASTER_ADDR") ? std::getenv("MASTER_ADDR") : fallback.masterAddr;
    e.masterPort = std::getenv("MASTER_PORT") ? integerVariable("MASTER_PORT", 1, 65535) : fallback.masterPort;
    e.backend = std::getenv("TUNEBENCH_DIST_BACKEND") ? std::getenv("TUNEBENCH_DIST_BACKEND") : fallback.backend;
    checkBackend(e.backend, "environment variable TUNEBENCH_DIST_BACKEND");
    e.timeoutS = fallback.timeoutS;
    if (const char* t = std::getenv("TUNEBENCH_DIST_TIMEOUT_S")) {
        char* end = nullptr;
        e.timeoutS = std::strtod(t, &end);
        if (*t == '\0' || *end != '\0' || !(e.timeoutS > 0))
            throw InputError("environment variable TUNEBENCH_DIST_TIMEOUT_S='" + std::string(t)
                + "' must be a number of seconds above 0");
    }
    return e;
}

} // namespace tunebench
