#include "core/store/artifacts.h"

#include "core/store/database.h"

namespace tunebench {

ArtifactStore::ArtifactStore(Database& db)
    : m_db(db)
{ }

std::int64_t ArtifactStore::add(const ArtifactRecord& a)
{
    Statement st
        = m_db.prepare("INSERT INTO artifacts (run_id, kind, path, meta_json, created_at) VALUES (?, ?, ?, ?, ?)");
    st.bind(1, a.runId).bind(2, a.kind).bind(3, a.path).bind(4, a.metaJson).bind(5, nowSeconds());
    st.run();
    return m_db.lastInsertRowId();
}

std::vector<ArtifactRecord> ArtifactStore::list(std::optional<std::int64_t> runId) const
{
    Statement st = m_db.prepare("SELECT id, run_id, kind, path, meta_json, created_at FROM artifacts "
                                "WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id");
    st.bind(1, runId);
    std::vector<ArtifactRecord> out;
    while (st.step())
        out.push_back({ st.int64(0), st.optInt64(1), st.text(2), st.text(3), st.text(4), st.real(5) });
    return out;
}

bool ArtifactStore::remove(std::int64_t id)
{
    Statement st = m_db.prepare("DELETE FROM artifacts WHERE id = ?");
    st.bind(1, id);
    st.run();
    return m_db.changes() > 0;
}

std::vector<SampleRecord> ArtifactStore::samples(std::int64_t runId, std::optional<std::int64_t> step) const
{
    Statement st
        = m_db.prepare("SELECT id, run_id, step, prompt_index, sample_index, prompt, text, seed, time FROM samples "
                       "WHERE run_id = ?1 AND (?2 IS NULL OR step = ?2) ORDER BY step, prompt_index, sample_index");
    st.bind(1, runId).bind(2, step);
    std::vector<SampleRecord> out;
    while (st.step()) {
        out.push_back({ st.int64(0), st.int64(1), st.int64(2), static_cast<int>(st.int64(3)),
            static_cast<int>(st.int64(4)), st.text(5), st.text(6), st.optInt64(7), st.real(8) });
    }
    return out;
}

std::vector<SampleRecord> ArtifactStore::samplesAfter(std::int64_t runId, std::int64_t afterId) const
{
    Statement st = m_db.prepare("SELECT id, run_id, step, prompt_index, sample_index, prompt, text, seed, time FROM "
                                "samples WHERE run_id = ?1 AND id > ?2 ORDER BY id");
    st.bind(1, runId).bind(2, afterId);
    std::vector<SampleRecord> out;
    while (st.step()) {
        out.push_back({ st.int64(0), st.int64(1), st.int64(2), static_cast<int>(st.int64(3)),
            static_cast<int>(st.int64(4)), st.text(5), st.text(6), st.optInt64(7), st.real(8) });
    }
    return out;
}

} // namespace tunebench
