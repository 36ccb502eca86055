#include "core/data/dataset_import.h"
#include "core/data/dataset_select.h"

#include "core/store/database.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <cerrno>
#include <fstream>
#include <random>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// A scratch folder inside datasets/ that is removed unless released.
class ScratchFolder {
public:
    explicit ScratchFolder(const fs::path& parent)
    {
        std::random_device rd;
        for (int attempt = 0; attempt < 100; ++attempt) {
            fs::path candidate = parent / (".import-" + std::to_string(rd()));
            std::error_code ec;
            if (fs::create_directory(candidate, ec)) {
                m_path = candidate;
                return;
            }
        }
        throw Error("cannot create a scratch folder in " + parent.string());
    }
    ~ScratchFolder()
    {
        if (!m_path.empty()) {
            std::error_code ec;
            fs::remove_all(m_path, ec);
        }
    }
    const fs::path& path() const { return m_path; }
    void release() { m_path.clear(); }

private:
    fs::path m_path;
};

// Records the dataset and moves the scratch folder into datasets/<id>: the
// row and the folder appear together (the folder is renamed into place inside
// the transaction, and a failed commit removes it again).
std::int64_t commitDatasetFolder(Workspace& workspace, ScratchFolder& scratch, const DatasetRecord& record)
{
    // On disk before the row that points at them is committed.
    for (const auto& entry : fs::directory_iterator(scratch.path()))
        syncToDisk(entry.path());
    syncToDisk(scratch.path());
    std::error_code ec;
    Database& db = workspace.db();
    Database::Transaction tx(db);
    const std::int64_t id = DatasetStore(db).add(record);
    const fs::path target = workspace.datasetDir(id);
    if (fs::exists(target, ec))
        fs::remove_all(target, ec); // left by an import that died before its commit: no row owns it
    fs::rename(scratch.path(), target, ec);
    if (ec)
        throw Error("cannot move the dataset into " + target.string() + ": " + ec.message());
    scratch.release();
    syncToDisk(workspace.datasetsDir());
    try {
        tx.commit();
    } catch (...) {
        fs::remove_all(target, ec);
        throw;
    }
    return id;
}

} // namespace

// Long for a reason: read, validate, hash and record a dataset in one transaction, with the checks in the order
// their messages are reported.
ImportResult importDataset(Workspace& workspace, const fs::path& file, const ImportOptions& options)
{
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        throw InputError(file.string() + ": no such file");
    const FileType fileType = options.fileType.value_or(detectFileType(file));

    ImportResult result;
    ScratchFolder scratch(workspace.datasetsDir());
    const fs::path dataPath = scratch.path() / "data.jsonl";
    std::ofstream out(dataPath, std::ios::binary);
    if (!out)
        throw Error("cannot write " + dataPath.string());
    Sha256 hash;
    std::optional<DatasetFormat> format = options.format;
    std::vector<RecordError> recordErrors;

    auto addError = [&](RecordError&& e) {
        ++result.invalid;
        if (result.errors.size() < ImportResult::kMaxListedErrors)
            result.errors.push_back(std::move(e));
    };
    const bool finished = readRecords(
        file, fileType,
        [&](SourceRecord&& record) {
            if (!format) {
                format = detectFormat(record.value, options.mapping);
                if (!format) {
                    std::string keys;
                    for (auto it = record.value.begin(); it != record.value.end(); ++it)
                        keys += (keys.empty() ? "" : ", ") + it.key();
                    throw InputError(file.string() + ":" + std::to_string(record.line)
                        + ": cannot tell the dataset format from the fields (" + keys
                        + "); expected text, instruction/output, messages, prompt/chosen/rejected or "
                          "prompt/completion/label, or give the format and a column mapping");
                }
            }
            recordErrors.clear();
            auto normalized = normalizeRecord(record.value, record.line, *format, options.mapping, recordErrors);
            if (!normalized) {
                // One record may have several problems; it counts once as invalid.
                ++result.invalid;
                for (auto& e : recordErrors) {
                    if (result.errors.size() < ImportResult::kMaxListedErrors)
                        result.errors.push_back(std::move(e));
                }
                return true;
            }
            const std::string line = normalized->dump() + "\n";
            out.write(line.data(), static_cast<std::streamsize>(line.size()));
            hash.update(line);
            ++result.records;
            return true;
        },
        addError, options.progress);
    out.close();
    if (!out)
        throw Error("cannot write " + dataPath.string() + ": " + writeFailureText(errno));
    result.format = format.value_or(DatasetFormat::Text);
    if (!finished) {
        result.cancelled = true;
        return result;
    }
    if (result.invalid > 0 && !options.skipInvalid)
        return result;
    if (result.records == 0) {
        result.errors.push_back({ 0, "", "the file holds no valid record" });
        return result;
    }
    result.contentHash = "sha256:" + hash.hexDigest();

    DatasetRecord record;
    record.name = options.name.empty() ? file.stem().string() : options.name;
    record.format = std::string(toString(result.format));
    record.sourcePath = fs::absolute(file, ec).string();
    record.records = result.records;
    record.contentHash = result.contentHash;
    nlohmann::json params = { { "file_type", toString(fileType) }, { "skipped", result.invalid } };
    if (!options.mapping.empty())
        params["mapping"] = options.mapping;
    record.paramsJson = params.dump();

    {
        nlohmann::json meta = { { "name", record.name }, { "format", record.format }, { "source", record.sourcePath },
            { "records", result.records }, { "content_hash", record.contentHash }, { "params", params } };
        std::ofstream metaOut(scratch.path() / "meta.json", std::ios::binary);
        metaOut << meta.dump(2) << "\n";
        if (!metaOut)
            throw Error("cannot write " + (scratch.path() / "meta.json").string() + ": " + writeFailureText(errno));
    }

    const std::int64_t id = commitDatasetFolder(workspace, scratch, record);
    const fs::path target = workspace.datasetDir(id);
    result.imported = true;
    result.id = id;
    result.folder = target;
    return result;
}

std::vector<nlohmann::json> loadDatasetRecords(const Workspace& workspace, std::int64_t datasetId)
{
    const fs::path path = workspace.datasetDir(datasetId) / "data.jsonl";
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError("dataset " + std::to_string(datasetId) + ": cannot read " + path.string());
    std::vector<nlohmann::json> records;
    std::string line;
    std::int64_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.empty())
            continue;
        auto value = nlohmann::json::parse(line, nullptr, false);
        if (value.is_discarded())
            throw InputError(path.string() + ":" + std::to_string(lineNo) + ": damaged record (not valid JSON)");
        records.push_back(std::move(value));
    }
    return records;
}

DatasetRecord writeDerivedDataset(Workspace& workspace, std::int64_t parentId,
    const std::vector<nlohmann::json>& records, const std::string& operation, const nlohmann::json& params,
    const std::string& name)
{
    const std::optional<DatasetRecord> parent = DatasetStore(workspace.db()).find(parentId);
    if (!parent)
        throw InputError("no dataset with id " + std::to_string(parentId) + " in the workspace");
    if (records.empty())
        throw InputError(operation + " of dataset " + std::to_string(parentId)
            + " keeps no record; nothing to write (loosen the parameters)");
    ScratchFolder scratch(workspace.datasetsDir());
    const fs::path dataPath = scratch.path() / "data.jsonl";
    Sha256 hash;
    {
        std::ofstream out(dataPath, std::ios::binary);
        for (const nlohmann::json& r : records) {
            const std::string line = r.dump() + "\n";
            out.write(line.data(), static_cast<std::streamsize>(line.size()));
            hash.update(line);
        }
        out.close();
        if (!out)
            throw Error("cannot write " + dataPath.string() + ": " + writeFailureText(errno));
    }
    DatasetRecord record;
    record.name = name;
    record.format = parent->format;
    record.sourcePath = parent->sourcePath;
    record.records = static_cast<std::int64_t>(records.size());
    record.contentHash = "sha256:" + hash.hexDigest();
    record.parentId = parentId;
    record.operation = operation;
    record.paramsJson = params.dump();
    {
        const nlohmann::json meta = { { "name", record.name }, { "format", record.format },
            { "records", record.records }, { "content_hash", record.contentHash }, { "parent", parentId },
            { "operation", operation }, { "params", params } };
        std::ofstream metaOut(scratch.path() / "meta.json", std::ios::binary);
        metaOut << meta.dump(2) << "\n";
        if (!metaOut)
            throw Error("cannot write " + (scratch.path() / "meta.json").string() + ": " + writeFailureText(errno));
    }
    record.id = commitDatasetFolder(workspace, scratch, record);
    if (auto stored = DatasetStore(workspace.db()).find(record.id))
        return *stored;
    return record;
}

} // namespace tunebench
