// The silences table (schema version 9, see schema.cpp): a silence's matchers (a JSON array
// of the routing tree's matcher text, which may name a phone number) and comment are
// sealed; its times, author and who expired it stay in clear. Every add and expire writes
// an audit event with ids and times only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// Schema step 9: silences (issue 10). matchers (a JSON list of matcher text) and comment
// sealed; starts_at/ends_at/created_at/expired_at unix ms (expired_at 0: not expired by
// hand); silences_live serves the list of those not over. Appended to schema.cpp's
// migrations after step 8.
inline constexpr const char* silences_migration = R"sql(
CREATE TABLE silences(
  id INTEGER PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL CHECK(ends_at > starts_at),
  author TEXT NOT NULL CHECK(length(author) > 0),
  comment TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expired_at INTEGER NOT NULL DEFAULT 0,
  expired_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX silences_live ON silences(expired_at, ends_at);
)sql";

[[nodiscard]] core::result<silence> insert_silence(connection& db, const sealer& s,
                                                   const new_silence& n, std::int64_t now);
[[nodiscard]] core::result<std::vector<silence>> select_silences(connection& db, const sealer& s,
                                                                 bool include_expired,
                                                                 std::int64_t now);
[[nodiscard]] core::result<silence_expiry> update_silence_expired(connection& db, const sealer& s,
                                                                  std::int64_t id,
                                                                  const std::string& by,
                                                                  std::int64_t now);

}  // namespace hotline::store::sqlite
