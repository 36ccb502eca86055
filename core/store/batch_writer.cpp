#include "core/store/batch_writer.h"

#include "core/store/database.h"

namespace tunebench {

BatchWriter::BatchWriter(Database& db, Options options)
    : m_db(db)
    , m_options(options)
{
    m_metrics.reserve(m_options.maxRows);
}

BatchWriter::~BatchWriter()
{
    try {
        flush();
    } catch (const Error&) {
        // Documented: the caller flushes explicitly where a failure matters.
    }
}

std::size_t BatchWriter::pending() const
{
    return m_metrics.size() + m_events.size() + m_samples.size();
}

void BatchWriter::addMetric(std::int64_t runId, std::int64_t step, std::string name, double value)
{
    addMetric(runId, step, std::move(name), value, nowSeconds());
}

void BatchWriter::addMetric(std::int64_t runId, std::int64_t step, std::string name, double value, double time)
{
    m_metrics.push_back({ runId, step, std::move(name), value, time });
    added();
}

void BatchWriter::addEvent(std::int64_t runId, std::string kind, std::string payloadJson)
{
    m_events.push_back({ runId, nowSeconds(), std::move(kind), std::move(payloadJson) });
    added();
}

void BatchWriter::addSample(std::int64_t runId, std::int64_t step, int promptIndex, int sampleIndex, std::string prompt,
    std::string text, std::int64_t seed)
{
    m_samples.push_back(
        { runId, step, promptIndex, sampleIndex, std::move(prompt), std::move(text), seed, nowSeconds() });
    added();
}

void BatchWriter::added()
{
    const std::size_t n = pending();
    const auto now = std::chrono::steady_clock::now();
    if (n == 1)
        m_firstPending = now;
    if (n >= m_options.maxRows || now - m_firstPending >= m_options.maxDelay)
        flush();
}

std::size_t BatchWriter::flush()
{
    const std::size_t n = pending();
    if (n == 0)
        return 0;
    Database::Transaction tx(m_db);
    if (!m_metrics.empty()) {
        Statement st = m_db.prepare("INSERT INTO metrics (run_id, step, name, value, time) VALUES (?, ?, ?, ?, ?)");
        for (const Metric& m : m_metrics) {
            st.bind(1, m.runId).bind(2, m.step).bind(3, m.name).bind(4, m.value).bind(5, m.time);
            st.run();
        }
    }
    if (!m_events.empty()) {
        Statement st = m_db.prepare("INSERT INTO events (run_id, time, kind, payload_json) VALUES (?, ?, ?, ?)");
        for (const Event& e : m_events) {
            st.bind(1, e.runId).bind(2, e.time).bind(3, e.kind).bind(4, e.payload);
            st.run();
        }
    }
    if (!m_samples.empty()) {
        Statement st
            = m_db.prepare("INSERT INTO samples (run_id, step, prompt_index, sample_index, prompt, text, seed, time) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        for (const Sample& s : m_samples) {
            st.bind(1, s.runId)
                .bind(2, s.step)
                .bind(3, s.promptIndex)
                .bind(4, s.sampleIndex)
                .bind(5, s.prompt)
                .bind(6, s.text)
                .bind(7, s.seed)
                .bind(8, s.time);
            st.run();
        }
    }
    tx.commit();
    m_metrics.clear();
    m_events.clear();
    m_samples.clear();
    ++m_batches;
    m_rows += n;
    return n;
}

std::size_t BatchWriter::discardAfter(std::int64_t runId, std::int64_t step)
{
    flush();
    Database::Transaction tx(m_db);
    std::size_t removed = 0;
    for (const char* sql :
        { "DELETE FROM metrics WHERE run_id = ? AND step > ?", "DELETE FROM samples WHERE run_id = ? AND step > ?" }) {
        Statement st = m_db.prepare(sql);
        st.bind(1, runId).bind(2, step);
        st.run();
        removed += static_cast<std::size_t>(m_db.changes());
    }
    tx.commit();
    return removed;
}

} // namespace tunebench
