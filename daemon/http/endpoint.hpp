// What an endpoint is, without Beast: the methods and auth it takes, and a handler that
// reads the request through `exchange` and returns a `reply`. server.cpp implements
// `exchange` over a Beast connection; endpoints/*.cpp implement the handlers.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/asio.hpp"
#include "core/async_event.hpp"
#include "core/clock.hpp"

namespace hotline::http {

// Request methods as a bit set. A route that takes GET takes HEAD too (the server sends
// the headers of the GET answer).
enum class method : std::uint8_t {
    none = 0,
    get = 1U << 0U,
    head = 1U << 1U,
    post = 1U << 2U,
    put = 1U << 3U,
    del = 1U << 4U,
    patch = 1U << 5U,
    options = 1U << 6U,
};

[[nodiscard]] constexpr method operator|(method a, method b) noexcept {
    return static_cast<method>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
[[nodiscard]] constexpr bool has(method set, method m) noexcept {
    return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(m)) != 0;
}

// Who may call a route. The server checks it before the handler runs (after the method).
enum class auth_kind : std::uint8_t {
    none,           // anyone (health, metrics; a route that checks a secret in its path)
    source_token,   // "Authorization: Bearer <token>" of a configured webhook source
    metrics_token,  // server.metrics_token_file's token when one is set, else anyone
    person_token,   // "Authorization: Bearer <token>" of a responder's or admin's api_token_file;
                    // the handler reads exchange::caller()
};

struct api_caller;  // http/auth.hpp

inline constexpr std::string_view json_type = "application/json";
inline constexpr std::string_view text_type = "text/plain; charset=utf-8";

// What to answer; the server turns it into a response in one place.
struct reply {
    unsigned status{200};  // 0: nothing to send, close (peer gone or force-closed)
    std::string body;
    std::string_view content_type{json_type};
    std::string code;   // API error code ("" on success), for the rejected counter
    std::string allow;  // for 405
    bool www_authenticate{false};
    unsigned retry_after{0};  // seconds for Retry-After; 0: no such header
    bool close{false};
    // More headers (name, value), set after the ones above: a page's security headers.
    std::vector<std::pair<std::string, std::string>> headers;
};

// {"error":{...}} with `status`; see router.hpp for the body.
[[nodiscard]] reply error_reply(unsigned status, std::string_view code, std::string_view message);
[[nodiscard]] reply text_reply(unsigned status, std::string body,
                               std::string_view type = text_type);
// A reply that sends nothing and closes the connection.
[[nodiscard]] reply no_reply();

// One request as a handler sees it. Valid for the duration of the handler call.
class exchange {
public:
    virtual ~exchange() = default;

    [[nodiscard]] virtual method verb() const = 0;
    // The path part of the target, as received (percent-encoded).
    [[nodiscard]] virtual std::string_view path() const = 0;
    // The whole target as received: path and query (percent-encoded).
    [[nodiscard]] virtual std::string_view target() const = 0;
    // The client's address ("127.0.0.1", "::1"; an IPv4-mapped address as IPv4), "" unknown.
    [[nodiscard]] virtual std::string peer_address() const = 0;
    // Every header as received (name, value), for gateways that sign or read several.
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> headers() const = 0;
    // A header's value, "" when absent.
    [[nodiscard]] virtual std::string_view header(std::string_view name) const = 0;
    // A `{name}` segment of the route's pattern, percent-decoded ("" when no such name).
    [[nodiscard]] virtual std::string_view param(std::string_view name) const = 0;
    // The authenticated source (auth_kind::source_token), "" otherwise.
    [[nodiscard]] virtual const std::string& source() const = 0;
    // The authenticated person (auth_kind::person_token), nullptr otherwise.
    [[nodiscard]] virtual const api_caller* caller() const { return nullptr; }
    [[nodiscard]] virtual const core::clock& clock() const = 0;

    // Reads the rest of the body within the request's deadline (answering
    // "Expect: 100-continue" first). On failure the returned reply is what to send (or
    // no_reply()); the handler returns it as it is.
    [[nodiscard]] virtual asio::awaitable<std::optional<reply>> read_body() = 0;
    // The body, once read_body() succeeded.
    [[nodiscard]] virtual const std::string& body() const = 0;

    // Waits for `ev` (set from a completion posted to this connection's executor). False
    // when the wait was aborted (the server force-closes on shutdown): answer no_reply().
    [[nodiscard]] virtual asio::awaitable<bool> wait(core::async_event& ev) = 0;
    [[nodiscard]] virtual asio::any_io_executor executor() = 0;
};

using handler = std::function<asio::awaitable<reply>(exchange&)>;
// Called after every answer on the route, including those the server gave itself (405,
// 401, 413...), unless the server is gone: for counters such as the reports' rejections.
using observer = std::function<void(const std::string& source, const reply&)>;

struct endpoint {
    std::string pattern;  // "/v1/reports", "/v1/sms/{source}"
    method methods{method::none};
    auth_kind auth{auth_kind::none};
    handler handle;
    observer observe;  // optional
};

}  // namespace hotline::http
