// The checkins table (schema version 10, see schema.cpp): one row per enrolled defender that
// ever started, checked in or stopped. Ids and times only (nothing sealed: no number, no
// PIN); its "checkin_due" timer lives in the timers table, moved in the same transaction.
#pragma once
#include <cstdint>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// Schema step 10: check-ins (issue 10). Times unix ms; due_at 0 while stopped. Appended to
// schema.cpp's migrations after step 9.
inline constexpr const char* checkins_migration = R"sql(
CREATE TABLE checkins(
  id TEXT PRIMARY KEY CHECK(length(id) > 0),
  active INTEGER NOT NULL DEFAULT 0 CHECK(active IN (0, 1)),
  interval_ms INTEGER NOT NULL DEFAULT 0,
  grace_ms INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  last_at INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
);
)sql";

// The subject of a defender's "checkin_due" timer.
[[nodiscard]] std::string checkin_subject(const std::string& id);

[[nodiscard]] core::result<checkin_result> apply_checkin(connection& db, const checkin_change& c,
                                                         std::int64_t now);
[[nodiscard]] core::result<std::vector<checkin_state>> select_checkins(connection& db);

}  // namespace hotline::store::sqlite
