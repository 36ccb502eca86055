#pragma once

#include <span>
#include <string_view>

namespace tunebench {

class Database;

// One step of the workspace schema: the SQL that takes a database from
// version - 1 to version. Steps are applied in order, each in its own
// transaction, and never edited once released: a change is a new step.
struct Migration {
    int version;
    std::string_view description;
    std::string_view sql;
};

// The migrations this binary knows, in order; the last one is the version it writes.
std::span<const Migration> builtinMigrations();
int currentSchemaVersion();

// Brings the database up to the last of the given migrations.
// A database newer than the last migration is refused with a StoreError that
// names the file and both versions, and is left untouched.
// Returns the version the database had before.
int migrate(Database& db, std::span<const Migration> migrations);
inline int migrate(Database& db)
{
    return migrate(db, builtinMigrations());
}

} // namespace tunebench
