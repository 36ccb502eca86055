#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

class Database;

// Buffers metric rows, events and samples and writes each batch in one
// transaction. A batch is either wholly in the database or not at all: a
// process killed mid-write leaves every committed batch intact (WAL journal).
//
// Used by one thread (a run's worker). flush() happens when the buffer holds
// maxRows rows, when maxDelay has passed since the first buffered row (checked
// on each add), on explicit flush(), and in the destructor.
class BatchWriter {
public:
    struct Options {
        std::size_t maxRows = 512;
        std::chrono::milliseconds maxDelay { 500 };
    };

    BatchWriter(Database& db, Options options);
    explicit BatchWriter(Database& db)
        : BatchWriter(db, Options {})
    { }
    BatchWriter(const BatchWriter&) = delete;
    BatchWriter& operator=(const BatchWriter&) = delete;
    // Flushes what is buffered; errors there are swallowed (a destructor must
    // not throw), so call flush() first where a failure matters.
    ~BatchWriter();

    void addMetric(std::int64_t runId, std::int64_t step, std::string name, double value);
    void addMetric(std::int64_t runId, std::int64_t step, std::string name, double value, double time);
    void addEvent(std::int64_t runId, std::string kind, std::string payloadJson);
    void addSample(std::int64_t runId, std::int64_t step, int promptIndex, int sampleIndex, std::string prompt,
        std::string text, std::int64_t seed);

    // Writes the buffer in one transaction. Returns the number of rows written.
    // On failure the buffer is kept (nothing half-written) and StoreError thrown.
    std::size_t flush();

    // Writes the buffer, then removes the run's metric and sample rows of steps after `step` in one
    // transaction: a run resumed from its checkpoint at `step` computes those steps again, and a
    // second copy of each row would double them in every plot and summary. Returns the rows removed.
    std::size_t discardAfter(std::int64_t runId, std::int64_t step);

    std::size_t pending() const;
    std::uint64_t batchesCommitted() const { return m_batches; }
    std::uint64_t rowsCommitted() const { return m_rows; }

private:
    struct Metric {
        std::int64_t runId;
        std::int64_t step;
        std::string name;
        double value;
        double time;
    };
    struct Event {
        std::int64_t runId;
        double time;
        std::string kind;
        std::string payload;
    };
    struct Sample {
        std::int64_t runId;
        std::int64_t step;
        int promptIndex;
        int sampleIndex;
        std::string prompt;
        std::string text;
        std::int64_t seed;
        double time;
    };

    void added();

    Database& m_db;
    Options m_options;
    std::vector<Metric> m_metrics;
    std::vector<Event> m_events;
    std::vector<Sample> m_samples;
    std::chrono::steady_clock::time_point m_firstPending;
    std::uint64_t m_batches = 0;
    std::uint64_t m_rows = 0;
};

} // namespace tunebench
