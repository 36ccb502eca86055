// Writes metric batches into a workspace until it is killed (or a cap is hit),
// announcing each batch before it starts and after it commits. Driven by
// test_store_crash, which kills it with SIGKILL mid-batch.
//
//   store_writer_child WORKSPACE RUN_ID ROWS_PER_BATCH

#include "core/store/batch_writer.h"
#include "core/store/workspace.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: store_writer_child WORKSPACE RUN_ID ROWS_PER_BATCH\n");
        return 2;
    }
    try {
        tunebench::Workspace ws = tunebench::Workspace::open(argv[1]);
        const std::int64_t run = std::atoll(argv[2]);
        const int rows = std::atoi(argv[3]);
        tunebench::BatchWriter writer(
            ws.db(), { .maxRows = static_cast<std::size_t>(rows) + 1, .maxDelay = std::chrono::hours(1) });
        for (int batch = 0; batch < 100000; ++batch) {
            std::printf("begin %d\n", batch);
            std::fflush(stdout);
            for (int i = 0; i < rows; ++i)
                writer.addMetric(run, batch, "m" + std::to_string(i % 7), i, 0.0);
            writer.flush();
            std::printf("committed %d\n", batch);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "store_writer_child: %s\n", e.what());
        return 1;
    }
    return 0;
}
