// Retention for the SQLite store: what a purge overwrites and how a sweep advances
// (store::purge_contents documents the contract). Purged values are written in clear and
// empty ("", "{}"), so nothing of the report is left sealed or not: its sender, subject,
// text, labels, details and raw bytes, its attachments' names, types, hashes and bytes
// (their rows and sizes stay), its notifications' addresses and payloads. A column the
// store seals later is one more assignment in retention.cpp's purge statements.
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
