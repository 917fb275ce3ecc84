// The Beast-free half of the front door: which route a target names, request header
// checks (media type, bearer token) and response bodies. Pure functions, tested without
// sockets; server.cpp does the I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/report.hpp"

namespace hotline::http {

enum class route : std::uint8_t { reports, healthz, readyz, metrics, other };
inline constexpr std::size_t route_count = 5;

// The path part of a request target (query ignored), matched exactly.
[[nodiscard]] route route_of(std::string_view target) noexcept;

// The `route` label of hotline_http_requests_total: the path, or "other".
[[nodiscard]] std::string_view route_label(route r) noexcept;

// True for "application/json" with optional parameters (case-insensitive); a charset
// parameter must be utf-8 (RFC 8259: JSON exchanged between systems is UTF-8).
[[nodiscard]] bool is_json_media_type(std::string_view content_type) noexcept;

// The token of an "Authorization: Bearer <token>" value (scheme case-insensitive), or
// nothing when the header is absent, another scheme or empty.
[[nodiscard]] std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept;

// {"error":{"code":"...","message":"..."}} with JSON escaping.
[[nodiscard]] std::string error_body(std::string_view code, std::string_view message);

// {"report_id":1,"case_id":1,"duplicate":false}
[[nodiscard]] std::string ids_body(const domain::report_ids& ids);

}  // namespace hotline::http
