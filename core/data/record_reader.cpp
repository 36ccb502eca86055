#include "core/data/record_reader.h"

#include "core/util/error.h"

#include <fstream>
#include <vector>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

constexpr std::uint64_t kProgressEvery = 1 << 20;

std::string lower(std::string s)
{
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Reads lines (without their \n or \r\n) while counting bytes for progress.
class LineInput {
public:
    LineInput(const fs::path& path, const Progress& progress)
        : m_in(path, std::ios::binary)
        , m_progress(progress)
    {
        if (!m_in)
            throw InputError(path.string() + ": cannot open for reading");
        std::error_code ec;
        m_total = fs::file_size(path, ec);
    }

    bool next(std::string& line)
    {
        if (!std::getline(m_in, line))
            return false;
        ++m_line;
        m_done += line.size() + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        return true;
    }

    std::int64_t line() const { return m_line; }

    // False when the progress callback asked to cancel.
    bool report()
    {
        if (!m_progress || m_done - m_reported < kProgressEvery)
            return true;
        m_reported = m_done;
        return m_progress(m_done, m_total);
    }

    bool finish() { return !m_progress || m_progress(m_total, m_total); }

private:
    std::ifstream m_in;
    const Progress& m_progress;
    std::uint64_t m_total = 0;
    std::uint64_t m_done = 0;
    std::uint64_t m_reported = 0;
    std::int64_t m_line = 0;
};

bool isBlank(const std::string& s)
{
    return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

void stripBom(std::string& line, std::int64_t lineNo)
{
    if (lineNo == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0)
        line.erase(0, 3);
}

// Parses one record's JSON. Returns a discarded value and says why for text
// that is not JSON; nlohmann throws even in its non-throwing mode for numbers
// out of double's range ("1e400"), so every json exception lands here.
nlohmann::json parseRecord(const std::string& text, std::string& why)
{
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        why = std::string("not valid JSON: ") + e.what();
    } catch (const nlohmann::json::exception& e) {
        why = std::string("not usable JSON: ") + e.what();
    }
    return nlohmann::json(nlohmann::json::value_t::discarded);
}

bool readJsonl(const fs::path& path, const RecordSink& onRecord, const ErrorSink& onError, const Progress& progress)
{
    LineInput in(path, progress);
    std::string line;
    while (in.next(line)) {
        stripBom(line, in.line());
        if (isBlank(line))
            continue;
        std::string why;
        nlohmann::json value = parseRecord(line, why);
        if (value.is_discarded()) {
            onError({ in.line(), "", why });
        } else if (!value.is_object()) {
            onError({ in.line(), "", std::string("expected a JSON object, got ") + value.type_name() });
        } else if (!onRecord({ std::move(value), in.line() })) {
            return true;
        }
        if (!in.report())
            return false;
    }
    return in.finish();
}

bool readText(const fs::path& path, const RecordSink& onRecord, const Progress& progress)
{
    LineInput in(path, progress);
    std::string line;
    while (in.next(line)) {
        stripBom(line, in.line());
        if (isBlank(line))
            continue;
        if (!onRecord({ nlohmann::json { { "text", line } }, in.line() }))
            return true;
        if (!in.report())
            return false;
    }
    return in.finish();
}

// Splits delimited rows (RFC 4180 quoting: "..." with "" for a quote; quoted
// cells may hold delimiters and newlines). Returns false at end of input.
bool nextRow(
    LineInput& in, char delimiter, std::vector<std::string>& cells, std::int64_t& startLine, const fs::path& path)
{
    std::string line;
    cells.clear();
    do {
        if (!in.next(line))
            return false;
        stripBom(line, in.line());
    } while (line.empty());
    startLine = in.line();
    std::string cell;
    bool quoted = false;
    std::size_t i = 0;
    while (true) {
        if (i >= line.size()) {
            if (!quoted) {
                cells.push_back(std::move(cell));
                return true;
            }
            // A quoted cell spans lines.
            if (!in.next(line))
                throw InputError(path.string() + ":" + std::to_string(startLine)
                    + ": a quoted cell is not closed before the end of the file");
            cell += '\n';
            i = 0;
            continue;
        }
        const char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    cell += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                cell += c;
            }
        } else if (c == '"' && cell.empty()) {
            quoted = true;
        } else if (c == delimiter) {
            cells.push_back(std::move(cell));
            cell.clear();
        } else {
            cell += c;
        }
        ++i;
    }
}

bool readDelimited(const fs::path& path, char delimiter, const RecordSink& onRecord, const ErrorSink& onError,
    const Progress& progress)
{
    LineInput in(path, progress);
    std::vector<std::string> header;
    std::int64_t line = 0;
    if (!nextRow(in, delimiter, header, line, path))
        return in.finish(); // an empty file holds no records
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (header[i].empty())
            throw InputError(path.string() + ":" + std::to_string(line) + ": header column " + std::to_string(i + 1)
                + " has no name");
        for (std::size_t j = 0; j < i; ++j) {
            if (header[j] == header[i])
                throw InputError(
                    path.string() + ":" + std::to_string(line) + ": header names column '" + header[i] + "' twice");
        }
    }
    std::vector<std::string> cells;
    while (nextRow(in, delimiter, cells, line, path)) {
        if (cells.size() != header.size()) {
            onError({ line, "",
                "expected " + std::to_string(header.size()) + " cells as in the header, got "
                    + std::to_string(cells.size()) });
        } else {
            nlohmann::json obj = nlohmann::json::object();
            for (std::size_t i = 0; i < header.size(); ++i)
                obj[header[i]] = std::move(cells[i]);
            if (!onRecord({ std::move(obj), line }))
                return true;
        }
        if (!in.report())
            return false;
    }
    return in.finish();
}

// Streams the elements of a top-level JSON array: a scanner tracks strings,
// escapes and nesting to find each element's text and starting line, and only
// that text is parsed.
// Long (about 120 lines) for a reason: one streaming state machine over the bytes of a JSON array; its states
// share the position, line and depth counters that every error message names, so they stay in one function.
bool readJsonArray(const fs::path& path, const RecordSink& onRecord, const ErrorSink& onError, const Progress& progress)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open for reading");
    std::error_code ec;
    const std::uint64_t total = fs::file_size(path, ec);
    std::uint64_t done = 0;
    std::uint64_t reported = 0;
    std::int64_t line = 1;
    enum class State { BeforeArray, BeforeElement, InElement, Done } state = State::BeforeArray;
    std::int64_t elements = 0;
    std::string element;
    std::int64_t elementLine = 0;
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    char c;
    auto fail
        = [&](const std::string& what) { throw InputError(path.string() + ":" + std::to_string(line) + ": " + what); };
    auto emit = [&]() -> bool {
        std::string why;
        nlohmann::json value = parseRecord(element, why);
        if (value.is_discarded())
            onError({ elementLine, "", why });
        else if (!value.is_object())
            onError({ elementLine, "", std::string("expected a JSON object, got ") + value.type_name() });
        else if (!onRecord({ std::move(value), elementLine }))
            return false;
        element.clear();
        return true;
    };
    bool firstByte = true;
    while (in.get(c)) {
        ++done;
        if (firstByte) {
            firstByte = false;
            if (c == '\xEF') { // UTF-8 byte order mark
                in.ignore(2);
                done += 2;
                continue;
            }
        }
        if (state == State::InElement) {
            element += c;
            if (inString) {
                if (escaped)
                    escaped = false;
                else if (c == '\\')
                    escaped = true;
                else if (c == '"')
                    inString = false;
                else if (c == '\n')
                    ++line;
                continue;
            }
            if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (depth == 0) { // the array's own ']'
                    if (c == '}')
                        fail("unbalanced '}' in the array");
                    element.pop_back();
                    if (!emit())
                        return true;
                    state = State::Done;
                } else {
                    --depth;
                }
            } else if (c == ',' && depth == 0) {
                element.pop_back();
                if (!emit())
                    return true;
                state = State::BeforeElement;
            } else if (c == '\n') {
                ++line;
            }
        } else {
            if (c == '\n') {
                ++line;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r')
                continue;
            switch (state) {
            case State::BeforeArray:
                if (c != '[')
                    fail("expected a JSON array of records ('['), found '" + std::string(1, c) + "'");
                state = State::BeforeElement;
                break;
            case State::BeforeElement:
                if (c == ']') {
                    if (elements > 0)
                        fail("a comma before ']' leaves an empty element");
                    state = State::Done;
                    break;
                }
                state = State::InElement;
                elementLine = line;
                element.assign(1, c);
                inString = c == '"';
                depth = (c == '{' || c == '[') ? 1 : 0;
                ++elements;
                break;
            case State::Done:
                fail("unexpected text after the end of the array");
                break;
            case State::InElement:
                break;
            }
        }
        if (progress && done - reported >= kProgressEvery) {
            reported = done;
            if (!progress(done, total))
                return false;
        }
    }
    if (state == State::BeforeArray)
        return !progress || progress(total, total); // empty file
    if (state != State::Done)
        fail("the JSON array is not closed (missing ']')");
    return !progress || progress(total, total);
}

} // namespace

FileType detectFileType(const fs::path& path)
{
    const std::string ext = lower(path.extension().string());
    if (ext == ".jsonl" || ext == ".ndjson")
        return FileType::Jsonl;
    if (ext == ".csv")
        return FileType::Csv;
    if (ext == ".tsv" || ext == ".tab")
        return FileType::Tsv;
    if (ext == ".txt" || ext == ".text")
        return FileType::Text;
    if (ext == ".json") {
        std::ifstream in(path, std::ios::binary);
        char c;
        while (in.get(c)) {
            if (c == '[')
                return FileType::JsonArray;
            if (!std::isspace(static_cast<unsigned char>(c)) && c != '\xEF' && c != '\xBB' && c != '\xBF')
                return FileType::Jsonl;
        }
        return FileType::JsonArray;
    }
    throw InputError(path.string() + ": unknown file type '" + ext + "' (expected .jsonl, .json, .csv, .tsv or .txt)");
}

std::string_view toString(FileType type)
{
    switch (type) {
    case FileType::Jsonl:
        return "jsonl";
    case FileType::JsonArray:
        return "json";
    case FileType::Csv:
        return "csv";
    case FileType::Tsv:
        return "tsv";
    case FileType::Text:
        return "text";
    }
    return "unknown";
}

bool readRecords(
    const fs::path& path, FileType type, const RecordSink& onRecord, const ErrorSink& onError, const Progress& progress)
{
    switch (type) {
    case FileType::Jsonl:
        return readJsonl(path, onRecord, onError, progress);
    case FileType::JsonArray:
        return readJsonArray(path, onRecord, onError, progress);
    case FileType::Csv:
        return readDelimited(path, ',', onRecord, onError, progress);
    case FileType::Tsv:
        return readDelimited(path, '\t', onRecord, onError, progress);
    case FileType::Text:
        return readText(path, onRecord, progress);
    }
    return false;
}

} // namespace tunebench
