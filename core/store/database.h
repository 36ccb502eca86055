#pragma once

#include "core/util/error.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace tunebench {

// An SQLite failure; the message names the database file and the statement.
class StoreError : public Error {
public:
    using Error::Error;
};

class Database;

// A prepared statement. Bind indexes start at 1, column indexes at 0.
// Not thread-safe; use it on the thread that owns its Database.
class Statement {
public:
    Statement() = default;
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view value);
    Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Statement& bind(int index, std::nullptr_t);
    template <typename T> Statement& bind(int index, const std::optional<T>& value)
    {
        return value ? bind(index, *value) : bind(index, nullptr);
    }

    // Advances to the next row: true while a row is available, false when done.
    // Throws StoreError on failure.
    bool step();
    // Runs a statement that returns no rows, then resets it for reuse.
    void run();
    void reset();

    bool isNull(int column) const;
    std::int64_t int64(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::optional<std::int64_t> optInt64(int column) const;
    std::optional<double> optReal(int column) const;

private:
    friend class Database;
    Statement(sqlite3_stmt* stmt, const Database* db);
    [[noreturn]] void fail(int code) const;

    sqlite3_stmt* m_stmt = nullptr;
    const Database* m_db = nullptr;
};

// One SQLite connection. Move-only; owned by one thread at a time.
class Database {
public:
    enum class Mode { ReadWrite, ReadWriteCreate, ReadOnly };

    // Opens the file with WAL journaling, foreign keys and a busy timeout, so a
    // reader (the GUI) and a writer (a run's worker process) can share it.
    static Database open(const std::filesystem::path& path, Mode mode = Mode::ReadWrite);

    Database() = default;
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    bool isOpen() const { return m_db != nullptr; }
    const std::filesystem::path& path() const { return m_path; }

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql) const;
    std::int64_t lastInsertRowId() const;
    int changes() const;
    // PRAGMA user_version: the schema version of this file.
    int userVersion() const;
    // Changes whenever another connection commits; cheap to poll.
    std::int64_t dataVersion() const;
    std::string errorMessage() const;

    // BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
    class Transaction {
    public:
        explicit Transaction(Database& db);
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        ~Transaction();
        void commit();

    private:
        Database& m_db;
        bool m_done = false;
    };

private:
    friend class Statement;
    [[noreturn]] void fail(int code, std::string_view what) const;

    sqlite3* m_db = nullptr;
    std::filesystem::path m_path;
};

// Whether this process (its effective user) may write the file or folder.
bool canWrite(const std::filesystem::path& path);

// Seconds since the Unix epoch, as stored in every time column.
double nowSeconds();

} // namespace tunebench
