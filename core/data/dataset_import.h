#pragma once

#include "core/data/dataset_format.h"
#include "core/data/record_reader.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Workspace;

struct ImportOptions {
    std::optional<FileType> fileType; // default: from the extension
    std::optional<DatasetFormat> format; // default: detected from the first record
    ColumnMapping mapping; // canonical field -> column in the file
    bool skipInvalid = false; // import the good records and list the bad ones
    std::string name; // default: the file's stem
    Progress progress; // bytes read; return false to cancel
};

struct ImportResult {
    bool imported = false;
    bool cancelled = false;
    std::optional<std::int64_t> id;
    DatasetFormat format = DatasetFormat::Text;
    std::int64_t records = 0; // records stored
    std::int64_t invalid = 0; // records refused (all of them, also past the listed ones)
    std::vector<RecordError> errors; // the first kMaxListedErrors problems, in file order
    std::string contentHash; // "sha256:..." of the stored records
    std::filesystem::path folder;

    static constexpr std::size_t kMaxListedErrors = 1000;
};

// Imports a file into the workspace: streams and validates every record,
// writes the canonical records to datasets/<id>/data.jsonl with meta.json
// beside it, and records the dataset (with its content hash) in the store.
// Nothing is imported when a record is invalid and skipInvalid is off, when
// the file holds no valid record, or when cancelled: result.imported says
// which, and errors says why. Throws InputError for a file that cannot be read
// at all or whose format cannot be determined.
ImportResult importDataset(Workspace& workspace, const std::filesystem::path& file, const ImportOptions& options);

// Reads the canonical records of an imported dataset, in order.
std::vector<nlohmann::json> loadDatasetRecords(const Workspace& workspace, std::int64_t datasetId);

} // namespace tunebench
