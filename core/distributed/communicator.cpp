// c10d's Gloo and NCCL classes are declared only under USE_C10D_GLOO / USE_C10D_NCCL, which LibTorch's
// CMake package normally passes on.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include "core/tunebench_config.h"
#if TUNEBENCH_WITH_CUDA && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL 1 // CUDA LibTorch builds carry NCCL
#endif

#include "core/distributed/communicator.h"

#include "core/store/run_workers.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if TUNEBENCH_WITH_CUDA && defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstdlib>
#include <netdb.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace tunebench {

namespace {

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::chrono::milliseconds timeoutOf(const RankEnvironment& env)
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(env.timeoutS * 1000.0));
}

std::string seconds(double s)
{
    std::string t = std::to_string(s);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.')
        t.pop_back();
    return t + " s";
}

// The local address packets to the master leave from (no packet is sent: connecting a UDP socket only
// picks the route), so that Gloo listens where the other hosts can reach it; "" when it cannot be told.
std::string localAddressToward(const std::string& master, std::int64_t port)
{
    addrinfo hints {};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(master.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
        return {};
    std::string address;
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
        sockaddr_in local {};
        socklen_t length = sizeof(local);
        char text[INET_ADDRSTRLEN] = {};
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0
            && inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text)))
            address = text;
    }
    if (fd >= 0)
        ::close(fd);
    freeaddrinfo(found);
    return address;
}

} // namespace

Communicator::Communicator(const RankEnvironment& env)
    : m_env(env)
{ }

Communicator::~Communicator() = default;

std::string Communicator::describe(std::int64_t rank) const
{
    const std::string host
        = rank >= 0 && rank < static_cast<std::int64_t>(m_hosts.size()) ? m_hosts[static_cast<std::size_t>(rank)] : "";
    return "rank " + std::to_string(rank) + (host.empty() ? "" : " (host " + host + ")");
}

std::unique_ptr<Communicator> Communicator::join(const RankEnvironment& env)
{
    std::unique_ptr<Communicator> c(new Communicator(env));
    const std::string master = env.masterAddr + ":" + std::to_string(env.masterPort);
    const std::string self = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.worldSize) + " (host "
        + thisHostName() + ")";
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.masterPort);
    o.isServer = env.rank == 0;
    o.numWorkers = static_cast<std::size_t>(env.worldSize);
    // Rank 0 waits below, on keys of its own, so that a missing rank is named.
    o.waitWorkers = false;
    o.timeout = timeoutOf(env);
    try {
        c->m_store = c10::make_intrusive<c10d::TCPStore>(env.masterAddr, o);
    } catch (const std::exception& e) {
        const std::string why = e.what();
        const std::string l = lower(why);
        if (env.rank == 0
            && (l.find("address already in use") != std::string::npos || l.find("eaddrinuse") != std::string::npos))
            throw DistributedError(self + ": the master port " + std::to_string(env.masterPort) + " on "
                + env.masterAddr + " is already in use (another run or program holds it); choose another with "
                + "--master-port or distributed.master_port");
        if (env.rank == 0)
            throw DistributedError(self + ": cannot serve the rendezvous on " + master + ": " + why.substr(0, 300));
        throw DistributedError(self + ": cannot reach the master " + master + " within " + seconds(env.timeoutS)
            + " (is rank 0 started there, and the address and port right?): " + why.substr(0, 300));
    }
    // Each rank leaves its host name; every rank then waits for all of them, so a rank that never comes
    // is named here instead of surfacing as a process group timeout.
    try {
        const std::string host = thisHostName();
        c->m_store->set(
            "tunebench/host/" + std::to_string(env.rank), std::vector<std::uint8_t>(host.begin(), host.end()));
    } catch (const std::exception& e) {
        throw DistributedError(
            self + ": the rendezvous at " + master + " failed: " + std::string(e.what()).substr(0, 300));
    }
    c->m_hosts.resize(static_cast<std::size_t>(env.worldSize));
    const auto deadline = std::chrono::steady_clock::now() + timeoutOf(env);
    for (std::int64_t r = 0; r < env.worldSize; ++r) {
        const std::string key = "tunebench/host/" + std::to_string(r);
        for (;;) {
            try {
                if (c->m_store->check({ key }))
                    break;
            } catch (const std::exception& e) {
                throw DistributedError(self + ": lost the rendezvous at " + master
                    + " (rank 0 ended?): " + std::string(e.what()).substr(0, 300));
            }
            if (std::chrono::steady_clock::now() > deadline)
                throw DistributedError(self + ": rank " + std::to_string(r) + " did not join at " + master + " within "
                    + seconds(env.timeoutS) + " (distributed.timeout_s)");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        const auto bytes = c->m_store->get(key);
        c->m_hosts[static_cast<std::size_t>(r)] = std::string(bytes.begin(), bytes.end());
    }

    try {
        if (env.backend == "nccl") {
#if TUNEBENCH_WITH_CUDA && defined(USE_C10D_NCCL)
            auto opts = c10d::ProcessGroupNCCL::Options::create();
            opts->timeout = timeoutOf(env);
            c->m_group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
                c->m_store, static_cast<int>(env.rank), static_cast<int>(env.worldSize), opts);
#else
            throw DistributedError(self
                + ": backend nccl needs a CUDA build of Tunebench (against a LibTorch with NCCL); this one "
                  "has Gloo only: set distributed.backend: gloo");
#endif
        } else {
            auto opts = c10d::ProcessGroupGloo::Options::create(timeoutOf(env));
            // GLOO_SOCKET_IFNAME names the interface as in PyTorch; else the address the master is reached from
            // (loopback for a group on one host), which the other hosts reach back.
            if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
                opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            } else {
                const std::string local = localAddressToward(env.masterAddr, env.masterPort);
                opts->devices.push_back(local.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                                      : c10d::ProcessGroupGloo::createDeviceForHostname(local));
            }
            opts->threads = 2;
            c->m_group = c10::make_intrusive<c10d::ProcessGroupGloo>(
                c->m_store, static_cast<int>(env.rank), static_cast<int>(env.worldSize), opts);
        }
    } catch (const DistributedError&) {
        throw;
    } catch (const std::exception& e) {
        throw DistributedError(
            self + ": creating the " + env.backend + " process group failed: " + std::string(e.what()).substr(0, 400));
    }
    return c;
}

void Communicator::fail(const char* what, const std::exception& e) const
{
    std::string why = e.what();
    // c10d's messages carry a C++ backtrace after the first lines.
    if (const auto cut = why.find("\nException raised from"); cut != std::string::npos)
        why.resize(cut);
    const std::string l = lower(why);
    std::string cause = "another rank ended or stopped answering";
    if (l.find("timed out") != std::string::npos || l.find("timeout") != std::string::npos)
        cause = "another rank did not answer within " + seconds(m_env.timeoutS) + " (distributed.timeout_s)";
    throw DistributedError(describe(m_env.rank) + ": " + what + " failed: " + cause + ": " + why.substr(0, 400));
}

void Communicator::allReduceSum(std::vector<at::Tensor>& tensors)
{
    wait(allReduceSumAsync(tensors), "all-reduce");
}

c10::intrusive_ptr<c10d::Work> Communicator::allReduceSumAsync(std::vector<at::Tensor>& tensors)
{
    try {
        return m_group->allreduce(tensors);
    } catch (const std::exception& e) {
        fail("all-reduce", e);
    }
}

void Communicator::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what)
{
    try {
        work->wait();
    } catch (const std::exception& e) {
        fail(what, e);
    }
}

void Communicator::broadcast(std::vector<at::Tensor>& tensors, std::int64_t root)
{
    try {
        c10d::BroadcastOptions o;
        o.rootRank = root;
        m_group->broadcast(tensors, o)->wait();
    } catch (const std::exception& e) {
        fail("broadcast", e);
    }
}

std::vector<at::Tensor> Communicator::allGather(const at::Tensor& tensor)
{
    std::vector<std::vector<at::Tensor>> out(1);
    for (std::int64_t r = 0; r < m_env.worldSize; ++r)
        out[0].push_back(at::empty_like(tensor));
    std::vector<at::Tensor> in { tensor.contiguous() };
    try {
        m_group->allgather(out, in)->wait();
    } catch (const std::exception& e) {
        fail("all-gather", e);
    }
    return out[0];
}

void Communicator::barrier()
{
    try {
        m_group->barrier()->wait();
    } catch (const std::exception& e) {
        fail("barrier", e);
    }
}

void Communicator::publish(const std::string& key, const std::string& value)
{
    try {
        m_store->set("tunebench/" + key, std::vector<std::uint8_t>(value.begin(), value.end()));
    } catch (const std::exception& e) {
        fail("the store", e);
    }
}

std::string Communicator::fetch(const std::string& key)
{
    try {
        const auto bytes = m_store->get("tunebench/" + key);
        return std::string(bytes.begin(), bytes.end());
    } catch (const std::exception& e) {
        fail("the store", e);
    }
}

} // namespace tunebench
