#include "core/store/database.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string describe(const std::filesystem::path& path, std::string_view what, std::string_view message)
{
    std::string text = "database ";
    text += path.string();
    text += ": ";
    text += message;
    if (!what.empty()) {
        text += " (while running: ";
        text += what.substr(0, 200);
        text += ")";
    }
    return text;
}

// "file:" URI of a path (RFC 3986 percent-encoding of what SQLite's URI parser treats specially).
std::string uriOf(const fs::path& path)
{
    const std::string text = fs::absolute(path).string();
    std::string uri = "file:";
    for (unsigned char c : text) {
        if (c == '%' || c == '?' || c == '#' || c < 0x21 || c > 0x7e) {
            char buffer[4];
            std::snprintf(buffer, sizeof buffer, "%%%02X", c);
            uri += buffer;
        } else {
            uri += static_cast<char>(c);
        }
    }
    return uri;
}

} // namespace

bool canWrite(const std::filesystem::path& path)
{
    return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

Statement::Statement(sqlite3_stmt* stmt, const Database* db)
    : m_stmt(stmt)
    , m_db(db)
{ }

Statement::Statement(Statement&& other) noexcept
    : m_stmt(std::exchange(other.m_stmt, nullptr))
    , m_db(std::exchange(other.m_db, nullptr))
{ }

Statement& Statement::operator=(Statement&& other) noexcept
{
    if (this != &other) {
        sqlite3_finalize(m_stmt);
        m_stmt = std::exchange(other.m_stmt, nullptr);
        m_db = std::exchange(other.m_db, nullptr);
    }
    return *this;
}

Statement::~Statement()
{
    sqlite3_finalize(m_stmt);
}

void Statement::fail(int code) const
{
    const char* sql = m_stmt ? sqlite3_sql(m_stmt) : "";
    m_db->fail(code, sql ? sql : "");
}

Statement& Statement::bind(int index, std::int64_t value)
{
    if (int rc = sqlite3_bind_int64(m_stmt, index, value); rc != SQLITE_OK)
        fail(rc);
    return *this;
}

Statement& Statement::bind(int index, double value)
{
    if (int rc = sqlite3_bind_double(m_stmt, index, value); rc != SQLITE_OK)
        fail(rc);
    return *this;
}

Statement& Statement::bind(int index, std::string_view value)
{
    // An empty string_view may have a null data(), which SQLite would bind as NULL, not as ''.
    int rc = sqlite3_bind_text64(
        m_stmt, index, value.data() ? value.data() : "", value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK)
        fail(rc);
    return *this;
}

Statement& Statement::bind(int index, std::nullptr_t)
{
    if (int rc = sqlite3_bind_null(m_stmt, index); rc != SQLITE_OK)
        fail(rc);
    return *this;
}

bool Statement::step()
{
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    sqlite3_reset(m_stmt);
    fail(rc);
}

void Statement::run()
{
    while (step()) { }
    reset();
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::isNull(int column) const
{
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const
{
    return sqlite3_column_int64(m_stmt, column);
}

double Statement::real(int column) const
{
    return sqlite3_column_double(m_stmt, column);
}

std::string Statement::text(int column) const
{
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
    if (!data)
        return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)));
}

std::optional<std::int64_t> Statement::optInt64(int column) const
{
    if (isNull(column))
        return std::nullopt;
    return int64(column);
}

std::optional<double> Statement::optReal(int column) const
{
    if (isNull(column))
        return std::nullopt;
    return real(column);
}

Database Database::open(const std::filesystem::path& path, Mode mode)
{
    int flags = SQLITE_OPEN_FULLMUTEX;
    switch (mode) {
    case Mode::ReadWrite:
        flags |= SQLITE_OPEN_READWRITE;
        break;
    case Mode::ReadWriteCreate:
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        break;
    case Mode::ReadOnly:
        flags |= SQLITE_OPEN_READONLY;
        break;
    }
    Database db;
    db.m_path = path;
    std::string name = path.string();
    if (mode == Mode::ReadOnly && !canWrite(path.parent_path().empty() ? "." : path.parent_path())) {
        // SQLite cannot create the -shm file a WAL database is read through in a folder it
        // cannot write; without a -wal file left behind, every page is in the main file, so it
        // is read as immutable (no locks, no -shm). A -wal file left there is read the usual way.
        std::error_code ec;
        fs::path wal = path;
        wal += "-wal";
        if (!fs::exists(wal, ec) || fs::file_size(wal, ec) == 0) {
            name = uriOf(path) + "?immutable=1";
            flags |= SQLITE_OPEN_URI;
        }
    }
    int rc = sqlite3_open_v2(name.c_str(), &db.m_db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db.m_db ? sqlite3_errmsg(db.m_db) : sqlite3_errstr(rc);
        throw StoreError(describe(path, "", "cannot open: " + message));
    }
    sqlite3_extended_result_codes(db.m_db, 1);
    sqlite3_busy_timeout(db.m_db, 10000);
    if (mode != Mode::ReadOnly) {
        db.exec("PRAGMA journal_mode=WAL");
        // FULL: a committed transaction survives power loss, not only a crash.
        db.exec("PRAGMA synchronous=FULL");
    }
    db.exec("PRAGMA foreign_keys=ON");
    return db;
}

Database::Database(Database&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr))
    , m_path(std::move(other.m_path))
{ }

Database& Database::operator=(Database&& other) noexcept
{
    if (this != &other) {
        sqlite3_close_v2(m_db);
        m_db = std::exchange(other.m_db, nullptr);
        m_path = std::move(other.m_path);
    }
    return *this;
}

Database::~Database()
{
    sqlite3_close_v2(m_db);
}

void Database::fail(int code, std::string_view what) const
{
    std::string message = m_db ? sqlite3_errmsg(m_db) : sqlite3_errstr(code);
    throw StoreError(describe(m_path, what, message));
}

void Database::exec(std::string_view sql)
{
    std::string text(sql);
    char* error = nullptr;
    int rc = sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw StoreError(describe(m_path, sql, message));
    }
}

Statement Database::prepare(std::string_view sql) const
{
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(m_db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK)
        fail(rc, sql);
    return Statement(stmt, this);
}

std::int64_t Database::lastInsertRowId() const
{
    return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const
{
    return sqlite3_changes(m_db);
}

int Database::userVersion() const
{
    Statement st = prepare("PRAGMA user_version");
    st.step();
    return static_cast<int>(st.int64(0));
}

std::int64_t Database::dataVersion() const
{
    Statement st = prepare("PRAGMA data_version");
    st.step();
    return st.int64(0);
}

std::string Database::errorMessage() const
{
    return m_db ? sqlite3_errmsg(m_db) : "";
}

Database::Transaction::Transaction(Database& db)
    : m_db(db)
{
    m_db.exec("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction()
{
    if (!m_done) {
        try {
            m_db.exec("ROLLBACK");
        } catch (const StoreError&) {
            // The transaction may already be gone (e.g. after SQLITE_FULL); nothing to undo.
        }
    }
}

void Database::Transaction::commit()
{
    m_db.exec("COMMIT");
    m_done = true;
}

double nowSeconds()
{
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

} // namespace tunebench
