#include "core/store/datasets.h"

#include "core/store/database.h"

namespace tunebench {

namespace {

constexpr const char* kColumns
    = "id, name, format, source_path, records, content_hash, parent_id, operation, params_json, created_at";

DatasetRecord readDataset(const Statement& st)
{
    DatasetRecord d;
    d.id = st.int64(0);
    d.name = st.text(1);
    d.format = st.text(2);
    d.sourcePath = st.text(3);
    d.records = st.int64(4);
    d.contentHash = st.text(5);
    d.parentId = st.optInt64(6);
    d.operation = st.text(7);
    d.paramsJson = st.text(8);
    d.createdAt = st.real(9);
    return d;
}

} // namespace

DatasetStore::DatasetStore(Database& db)
    : m_db(db)
{ }

std::int64_t DatasetStore::add(const DatasetRecord& d)
{
    Statement st
        = m_db.prepare("INSERT INTO datasets (name, format, source_path, records, content_hash, parent_id, operation, "
                       "params_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, d.name)
        .bind(2, d.format)
        .bind(3, d.sourcePath)
        .bind(4, d.records)
        .bind(5, d.contentHash)
        .bind(6, d.parentId)
        .bind(7, d.operation)
        .bind(8, d.paramsJson)
        .bind(9, nowSeconds());
    st.run();
    return m_db.lastInsertRowId();
}

std::vector<DatasetRecord> DatasetStore::list() const
{
    Statement st = m_db.prepare(std::string("SELECT ") + kColumns + " FROM datasets ORDER BY id");
    std::vector<DatasetRecord> out;
    while (st.step())
        out.push_back(readDataset(st));
    return out;
}

std::optional<DatasetRecord> DatasetStore::find(std::int64_t id) const
{
    Statement st = m_db.prepare(std::string("SELECT ") + kColumns + " FROM datasets WHERE id = ?");
    st.bind(1, id);
    if (!st.step())
        return std::nullopt;
    return readDataset(st);
}

} // namespace tunebench
