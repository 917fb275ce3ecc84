// POST /v1/reports bodies: strict JSON -> domain::report.
//
// Body: {"sender": str, "text": str, "subject": str, "labels": {str: str}, "external_id": str}
// Rules (all lengths in bytes of UTF-8):
//   sender       required, 1..320, no control characters
//   text         required, 1..64 KiB; TAB, LF and CR allowed, other C0 controls and DEL not
//   subject      optional, <= 998 (the RFC 5322 line limit), no control characters but TAB
//                (it becomes an email header: CR/LF would be header injection)
//   labels       optional object, <= 64 entries; keys [A-Za-z0-9_.-]{1,64}, unique;
//                values strings <= 1 KiB, controls as for text
//   external_id  optional, 1..200, no control characters; when absent the Idempotency-Key
//                header (same rules) is used; when neither, a random id is generated so
//                every POST is a new report.
// Control characters are rejected rather than stripped: silently changing a report is worse
// than telling the sender. Duplicate keys are rejected (which one wins is ambiguous).
// Error codes (core::error::code): bad_json (not JSON, not an object), missing_field,
// bad_field (unknown field, wrong type, bad length/characters), invalid_utf8 (raw bytes or
// \u escapes that are not valid UTF-8). Messages name the field, never its contents.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "domain/report.hpp"

namespace hotline::ingest {

struct json_report_limits {
    static constexpr std::size_t sender_max = 320;
    static constexpr std::size_t text_max = 64 * 1024;
    static constexpr std::size_t subject_max = 998;
    static constexpr std::size_t labels_max = 64;
    static constexpr std::size_t label_key_max = 64;
    static constexpr std::size_t label_value_max = 1024;
    static constexpr std::size_t external_id_max = 200;
};

// `source` becomes report.source (source_kind is "webhook"); `now_ms` report.received_at.
[[nodiscard]] core::result<domain::report> parse_report_json(
    std::string_view body, const std::string& source, std::string_view idempotency_key_header,
    std::int64_t now_ms);

// A random external id ("gen-" + 32 hex digits) for reports whose sender gave none.
[[nodiscard]] std::string generate_external_id();

}  // namespace hotline::ingest
