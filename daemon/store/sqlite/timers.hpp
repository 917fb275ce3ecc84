// The timers table: durable timers claimed with a lease and fired once. A live timer has
// fired_at NULL; claiming sets claimed_by and lease_until; completing sets fired_at;
// cancelling sets fired_at and cancelled_at. Claims read the (fired_at, due_at) index.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// Inserts timers; an empty subject becomes `default_subject` (e.g. "case:42"). An empty
// kind or resulting subject fails with "invalid_argument".
[[nodiscard]] core::result<std::vector<std::int64_t>> insert_timers(
    connection& db, const std::vector<new_timer>& timers, std::string_view default_subject,
    std::int64_t now);

[[nodiscard]] core::result<std::vector<timer>> claim_timers(connection& db, std::int64_t now,
                                                            std::string_view owner,
                                                            std::int64_t lease_ms,
                                                            std::size_t limit);

[[nodiscard]] core::result<timer_completion> complete_timer(connection& db, std::int64_t id,
                                                            std::string_view owner,
                                                            std::int64_t now);

[[nodiscard]] core::result<std::int64_t> cancel_timers(connection& db, std::string_view subject,
                                                       std::string_view kind, std::int64_t now);

[[nodiscard]] core::result<std::optional<std::int64_t>> next_timer_due(connection& db);

}  // namespace hotline::store::sqlite
