// Streams metrics and events into a workspace through the store's real write path
// (BatchWriter, as a training worker does) for a while, timing each commit, then prints one
// JSON line: what it sent and its commit latencies. Driven by test_store_concurrency,
// which runs several at once against one workspace while it reads.
//
//   store_stream_child WORKSPACE RUN_ID SECONDS

#include "core/store/batch_writer.h"
#include "core/store/workspace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: store_stream_child WORKSPACE RUN_ID SECONDS\n");
        return 2;
    }
    using Clock = std::chrono::steady_clock;
    std::int64_t metrics = 0, events = 0;
    std::vector<double> commitMs;
    try {
        tunebench::Workspace ws = tunebench::Workspace::open(argv[1]);
        const std::int64_t run = std::atoll(argv[2]);
        const auto end = Clock::now() + std::chrono::duration<double>(std::atof(argv[3]));
        // Short batches: more transactions competing for the write lock than a trainer's 500 ms.
        tunebench::BatchWriter writer(ws.db(), { .maxRows = 512, .maxDelay = std::chrono::milliseconds(20) });
        auto timed = [&](auto&& add) {
            const auto before = writer.batchesCommitted();
            const auto t0 = Clock::now();
            add();
            if (writer.batchesCommitted() != before)
                commitMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        };
        for (std::int64_t step = 0; Clock::now() < end; ++step) {
            for (const char* name : { "loss", "lr", "grad_norm", "tokens_per_second" }) {
                timed([&] { writer.addMetric(run, step, name, static_cast<double>(step)); });
                ++metrics;
            }
            if (step % 25 == 0) {
                timed([&] { writer.addEvent(run, "checkpoint", "{\"step\":" + std::to_string(step) + "}"); });
                ++events;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        timed([&] { writer.flush(); });
    } catch (const std::exception& e) {
        std::printf("%s\n", nlohmann::json({ { "error", e.what() } }).dump().c_str());
        return 1;
    }
    std::sort(commitMs.begin(), commitMs.end());
    const double worst = commitMs.empty() ? 0 : commitMs.back();
    const double p99 = commitMs.empty() ? 0 : commitMs[std::min(commitMs.size() - 1, commitMs.size() * 99 / 100)];
    std::printf("%s\n",
        nlohmann::json({ { "metrics", metrics }, { "events", events }, { "commits", commitMs.size() },
                           { "worst_ms", worst }, { "p99_ms", p99 } })
            .dump()
            .c_str());
    return 0;
}
