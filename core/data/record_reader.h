#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace tunebench {

// The file types records are read from.
enum class FileType { Jsonl, JsonArray, Csv, Tsv, Text };

// From the extension (.jsonl/.ndjson, .json, .csv, .tsv, .txt); a .json file
// whose first non-space byte is not '[' is read as JSON Lines. Throws
// InputError for an unknown extension, naming the accepted ones.
FileType detectFileType(const std::filesystem::path& path);
std::string_view toString(FileType type);

// One record as read: a JSON object (CSV and TSV cells are strings; a text
// line is {"text": line}) and the 1-based line where it starts.
struct SourceRecord {
    nlohmann::json value;
    std::int64_t line = 0;
};

// A record-level problem found while reading or validating: where, which
// field (empty for the whole record), what was expected.
struct RecordError {
    std::int64_t line = 0;
    std::string field;
    std::string message;
};

// Called for each record; a false return stops reading.
using RecordSink = std::function<bool(SourceRecord&&)>;
// Called for records that cannot be read (bad JSON, a CSV row with the wrong
// number of cells); reading goes on with the next record.
using ErrorSink = std::function<void(RecordError&&)>;
// Bytes read so far and the file's size; a false return cancels (reading stops
// and readRecords returns false).
using Progress = std::function<bool(std::uint64_t done, std::uint64_t total)>;

// Streams the file's records in order without holding the file in memory
// (JSON arrays are split into elements by a scanner, not parsed whole).
// Throws InputError when the file cannot be opened or its structure is
// broken beyond the record level (a JSON array that never closes, a CSV header
// that is missing). Returns false when cancelled.
bool readRecords(const std::filesystem::path& path, FileType type, const RecordSink& onRecord, const ErrorSink& onError,
    const Progress& progress = {});

} // namespace tunebench
