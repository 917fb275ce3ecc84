// The Beast-free helpers of the front door: request header checks (media type, bearer
// token) and response bodies. Pure functions, tested without sockets; which endpoint a
// target names is route_table's job, the I/O is server.cpp's.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "domain/report.hpp"
#include "http/endpoint.hpp"

namespace hotline::http {

// True for "application/json" with optional parameters (case-insensitive); a charset
// parameter must be utf-8 (RFC 8259: JSON exchanged between systems is UTF-8).
[[nodiscard]] bool is_json_media_type(std::string_view content_type) noexcept;

// The token of an "Authorization: Bearer <token>" value (scheme case-insensitive), or
// nothing when the header is absent, another scheme or empty.
[[nodiscard]] std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept;

// {"error":{"code":"...","message":"..."}}; invalid UTF-8 becomes U+FFFD.
[[nodiscard]] std::string error_body(std::string_view code, std::string_view message);

// {"report_id":1,"case_id":1,"duplicate":false}
[[nodiscard]] std::string ids_body(const domain::report_ids& ids);

// A JSON answer: `j` compact, invalid UTF-8 as U+FFFD.
[[nodiscard]] reply json_reply(unsigned status, const nlohmann::ordered_json& j);

// 503 "unavailable" with Retry-After: 1 for a store that did not answer; the error is
// logged (never the request) as "<api>: store failed: ...".
[[nodiscard]] reply store_unavailable(std::string_view api, const core::error& e);

}  // namespace hotline::http
