// The silences API (docs/api.md, "Silences"), behind a person's API token:
//   GET  /v1/silences[?all=true]    those not over (active or to come); all: every one
//   POST /v1/silences               {matchers, starts_at?, ends_at | duration, comment}
//   POST /v1/silences/{id}/expire   ends one now
// The author and who expired are the caller ("responder:alice", "admin:ops"). After an
// add or an expire the pipeline's silences are reloaded before the answer, so a report
// sent after a 201 meets the silence. The pure parts are here for tests.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "http/route_table.hpp"
#include "ingest/pipeline.hpp"
#include "store/store.hpp"

namespace hotline::http::endpoints {

// Longest matcher text and comment accepted, in bytes.
inline constexpr std::size_t max_silence_matcher_size = 1024;
inline constexpr std::size_t max_silence_comment_size = 4096;

// "2026-12-03T15:04:05Z", with optional fractions of a second and a "+03:00"-style offset
// instead of Z (RFC 3339; "t"/"z" and a space for "T" too), as unix ms. Nothing when it is
// not such a time or not a valid date.
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// A POST /v1/silences body as a silence by `author`, or an error with code "bad_request"
// (not a JSON object, unknown field, wrong type, missing matchers/comment/end, both
// ends_at and duration, a time that is not RFC 3339 or unix ms, ends not after it starts
// or already over, too many or too long matchers) or "bad_matcher" (a matcher that does
// not parse: its index and column). starts_at defaults to `now_ms`.
[[nodiscard]] core::result<store::new_silence> parse_silence_request(std::string_view body,
                                                                     std::int64_t now_ms,
                                                                     const std::string& author);

// A silence as the API shows it: times in RFC 3339 UTC, and its state at `now_ms`
// ("active", "pending" before it starts, "expired" by hand, "ended").
[[nodiscard]] nlohmann::ordered_json silence_json(const store::silence& s, std::int64_t now_ms);

// Registers the three routes. `db` and `pipeline` must outlive the table.
[[nodiscard]] core::status add_silences(route_table& routes, store::store& db,
                                        ingest::pipeline& pipeline);

}  // namespace hotline::http::endpoints
