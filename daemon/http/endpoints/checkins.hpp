// The check-ins API (docs/api.md, "Check-ins"), behind a person's API token:
//   GET  /v1/checkins                 every enrolled defender and their state
//   POST /v1/checkins/{id}/start      {"interval": "6h"}? (default: the enrollment's)
//   POST /v1/checkins/{id}/stop
// Who starts or stops is the caller ("responder:alice", "admin:ops"), in the audit trail.
// No phone number and no PIN is ever shown.
#pragma once
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "http/route_table.hpp"
#include "ingest/checkins.hpp"

namespace hotline::http::endpoints {

// A defender as the API shows it at `now_ms`: state "active", "overdue" (due passed, no
// check-in since), "stopped" or "never" (never started); times RFC 3339 UTC or null.
[[nodiscard]] nlohmann::ordered_json checkin_json(const ingest::checkin_view& v,
                                                  std::int64_t now_ms);

// A start request's body ("" or {} or {"interval": "6h"}) as the interval in ms (0: the
// enrollment's), or an error with code "bad_request".
[[nodiscard]] core::result<std::int64_t> parse_checkin_start(std::string_view body);

// Registers the three routes. `checkins` must outlive the table.
[[nodiscard]] core::status add_checkins(route_table& routes, ingest::checkin_service& checkins);

}  // namespace hotline::http::endpoints
