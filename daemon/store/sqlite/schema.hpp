// Versioned schema migrations, tracked in PRAGMA user_version (0 = empty database).
#pragma once
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace hotline::store::sqlite {

// The schema version this build writes.
[[nodiscard]] int current_schema_version();

// Brings the database up to current_schema_version(), one transaction per step. Refuses
// (code "schema_too_new") a database written by a newer hotline: running old code against a
// newer schema could silently drop what the newer code relies on.
[[nodiscard]] core::status migrate(connection& db);

}  // namespace hotline::store::sqlite
