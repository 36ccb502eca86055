#include "core/store/metrics.h"

#include "core/store/database.h"

namespace tunebench {

MetricQuery::MetricQuery(const Database& db)
    : m_db(db)
{ }

std::vector<MetricPoint> MetricQuery::series(
    std::int64_t runId, const std::string& name, std::optional<std::int64_t> afterStep) const
{
    Statement st = m_db.prepare(
        "SELECT step, value, time FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step, rowid");
    st.bind(1, runId).bind(2, name).bind(3, afterStep.value_or(INT64_MIN));
    std::vector<MetricPoint> out;
    while (st.step())
        out.push_back({ st.int64(0), st.real(1), st.real(2) });
    return out;
}

std::vector<std::string> MetricQuery::names(std::int64_t runId) const
{
    Statement st = m_db.prepare("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name");
    st.bind(1, runId);
    std::vector<std::string> out;
    while (st.step())
        out.push_back(st.text(0));
    return out;
}

std::vector<MetricSummary> MetricQuery::summary(std::int64_t runId) const
{
    // The last value is the one at the highest step (latest row on ties).
    Statement st = m_db.prepare("SELECT m.name, COUNT(*), MIN(m.value), MAX(m.value), "
                                "  (SELECT value FROM metrics l WHERE l.run_id = m.run_id AND l.name = m.name "
                                "   ORDER BY step DESC, rowid DESC LIMIT 1), MAX(m.step) "
                                "FROM metrics m WHERE m.run_id = ? GROUP BY m.name ORDER BY m.name");
    st.bind(1, runId);
    std::vector<MetricSummary> out;
    while (st.step()) {
        MetricSummary s;
        s.name = st.text(0);
        s.count = st.int64(1);
        s.min = st.real(2);
        s.max = st.real(3);
        s.last = st.real(4);
        s.lastStep = st.int64(5);
        out.push_back(std::move(s));
    }
    return out;
}

std::int64_t MetricQuery::count(std::int64_t runId) const
{
    Statement st = m_db.prepare("SELECT COUNT(*) FROM metrics WHERE run_id = ?");
    st.bind(1, runId);
    st.step();
    return st.int64(0);
}

} // namespace tunebench
