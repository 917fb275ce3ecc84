// The audit_events table: an append-only trail of what happened to reports, cases and
// notifications. Rows carry ids and a small JSON detail, never report contents.
//
// Events written (actor, kind, detail):
//   source:<name>  report_received          {"source","severity","route","notification_ids":[..]}
//   source:<name>  report_joined            same detail; the report joined the existing case
//   dispatcher     notification_delivered   {"attempts","provider_id"}
//   dispatcher     notification_retry       {"attempts","next_attempt_at","error"}
//   dispatcher     notification_failed      {"attempts","error","follow_up_ids":[..]}
//   dispatcher     notification_dead        {"attempts","error","follow_up_ids":[..]}
//   retention      retention_sweep          {"received_before","reports","notifications","batches"}
//   <author>       silence_added            {"silence_id","starts_at","ends_at"}
//   <person>       silence_expired          {"silence_id","starts_at","ends_at"}
// report_received/report_joined also carry "silenced_by" (a silence id) when a silence kept
// the report from paging anyone.
// Queued notifications are listed in the event that created them (report_received or the
// failure that produced follow-ups) rather than one event each: ingest stays one audit row.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

struct audit_event {
    std::int64_t at{};
    std::string actor;
    std::string_view kind;
    // 0 = not about one (stored as NULL).
    std::int64_t case_id{};
    std::int64_t report_id{};
    std::int64_t notification_id{};
    json detail = json::object();
};

[[nodiscard]] core::status insert_audit_event(connection& db, const audit_event& e);

}  // namespace hotline::store::sqlite
