// The Beast-free helpers of the front door: request header checks (media type, bearer
// token) and response bodies. Pure functions, tested without sockets; which endpoint a
// target names is route_table's job, the I/O is server.cpp's.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "domain/report.hpp"

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

}  // namespace hotline::http
