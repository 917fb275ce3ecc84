// Retention for the SQLite store: what a purge overwrites and how a sweep advances
// (store::purge_contents documents the contract). Purged values are written in clear and
// empty ("", "{}"), so nothing of the report is left sealed or not; a column the store
// seals later (the email issue's raw bytes, attachments) is one more line in purged_report
// or purged_notification below.
#pragma once
#include <cstdint>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// What a notification's address becomes (the column must not be empty).
inline constexpr const char* purged_address = "purged";
inline constexpr const char* purged_error = "purged by retention";

// Runs inside the writer's batch transaction (savepoint); `now_ms` stamps the audit event.
[[nodiscard]] core::result<purge_progress> purge_batch_of(connection& db, const purge_batch& b,
                                                          std::int64_t now_ms);

}  // namespace hotline::store::sqlite
