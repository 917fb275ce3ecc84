// The notifications table (the outbox): one row per planned delivery, pending until the
// dispatcher records it delivered, failed or dead. Due work is read through the
// (status, next_attempt_at) index.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"
#include "domain/notification.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"

namespace hotline::store::sqlite {

// What record_attempt needs of a notification before it changes it.
struct outbox_row {
    std::int64_t report_id{};
    std::int64_t case_id{};
    bool pending{false};
    std::int64_t attempts{};
    std::int64_t next_attempt_at{};
};

// Inserts planned notifications for one report/case, due at `next_attempt_at`; the stored
// rows come back (ids, idempotency keys, payloads carrying report_id, case_id and
// notification_id). A payload that is not an object (or null) fails with "bad_payload".
// The address and payload are sealed.
[[nodiscard]] core::result<std::vector<domain::notification>> insert_notifications(
    connection& db, const sealer& s, std::int64_t report_id, std::int64_t case_id,
    const std::vector<domain::planned_notification>& planned, std::int64_t next_attempt_at,
    std::int64_t now);

// The row, or nullopt for an unknown id.
[[nodiscard]] core::result<std::optional<outbox_row>> find_notification(connection& db,
                                                                        std::int64_t id);

[[nodiscard]] core::status mark_delivered(connection& db, std::int64_t id, std::int64_t attempts,
                                          std::string_view provider_id, std::int64_t now);
// How an SMS went out (schema 6), beside the attempt's own mark.
[[nodiscard]] core::status mark_sms(connection& db, std::int64_t id, std::string_view encoding,
                                    std::int64_t segments);
[[nodiscard]] core::status mark_retry(connection& db, std::int64_t id, std::int64_t attempts,
                                      std::int64_t next_attempt_at, std::string_view error,
                                      std::int64_t now);
// Final: status "failed", or "dead" when all contacts are exhausted.
[[nodiscard]] core::status mark_failed(connection& db, std::int64_t id, bool dead,
                                       std::int64_t attempts, std::string_view error,
                                       std::int64_t now);

// store::due_query, with sets for the lookups.
struct due_selection {
    std::string channel;  // empty: every channel not in skip_channels
    std::unordered_set<std::string> skip_channels;
    std::size_t limit{};
    std::unordered_set<std::int64_t> exclude;
};

// Pending rows due at or before `now` that `sel` selects, most severe first (the clear
// severity_rank column), then by next_attempt_at and id; at most `limit`. Each (channel,
// severity) is one range of the notifications_due_by_channel index, so the rows read are
// at most limit + the excluded ones, however many are pending or not due yet. A row whose
// address or payload does not open is marked dead (last_error says "unreadable: ...") and
// left out: it can never be sent.
[[nodiscard]] core::result<std::vector<domain::notification>> select_due(connection& db,
                                                                         const sealer& s,
                                                                         std::int64_t now,
                                                                         const due_selection& sel);

[[nodiscard]] core::result<std::optional<std::int64_t>> next_due(connection& db);

// Unreadable rows (logged and counted by the sealer) are left out.
[[nodiscard]] core::result<std::vector<domain::notification>> notifications_for_report(
    connection& db, const sealer& s, std::int64_t report_id);

struct status_counts {
    std::int64_t pending{};
    std::int64_t delivered{};
    std::int64_t failed{};
    std::int64_t dead{};
};
[[nodiscard]] core::result<status_counts> count_by_status(connection& db);

// The cheap gauges: pending rows, and the oldest due time at or before `now` (0 if none).
struct outbox_gauges {
    std::int64_t pending{};
    std::int64_t oldest_due_at{};
};
[[nodiscard]] core::result<outbox_gauges> read_outbox_gauges(connection& db, std::int64_t now);

}  // namespace hotline::store::sqlite
