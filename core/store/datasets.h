#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;

struct DatasetRecord {
    std::int64_t id = 0;
    std::string name;
    std::string format; // text, instruction, chat, preference, unpaired_preference
    std::string sourcePath; // the file it was imported from
    std::int64_t records = 0;
    std::string contentHash;
    std::optional<std::int64_t> parentId; // lineage: the dataset this one was derived from
    std::string operation = "import"; // how it was made from its parent
    std::string paramsJson = "{}"; // the operation's parameters
    double createdAt = 0;
};

// The datasets table. Datasets are immutable once recorded; derived ones
// point at their parent.
class DatasetStore {
public:
    explicit DatasetStore(Database& db);

    // Records a dataset (id and createdAt of the argument are ignored); returns its id.
    std::int64_t add(const DatasetRecord& dataset);
    std::vector<DatasetRecord> list() const;
    std::optional<DatasetRecord> find(std::int64_t id) const;

private:
    Database& m_db;
};

} // namespace tunebench
