// The HTTP client of hotlinectl's API commands (`cases`, `silence`): the daemon's URL and
// a person's bearer token from the command line or the environment, one blocking request
// at a time over net::transport on a private io_context, JSON in and out, the API's
// {"error":{...}} answers turned into one readable line.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"

namespace hotline::ctl {

inline constexpr const char* default_api_url = "http://127.0.0.1:8080";

struct api_options {
    std::string url;         // --url; "" = $HOTLINE_URL, else the config's, else default_api_url
    std::string config;      // --config: its server listener gives the URL when no other does
    std::string token_file;  // --token-file; "" = $HOTLINE_TOKEN_FILE (required one way)
    core::duration timeout{std::chrono::seconds(10)};
};

// A token file: the token on its first line (trailing newline and spaces cut). Errors (code
// "token"): no file named, missing or unreadable, empty, over 4 KiB, or holding a control
// character. The message names the file, never its contents.
[[nodiscard]] core::result<std::string> read_token_file(const std::string& path);

// The daemon's URL for a config: http://<server.address>:<port>, an unspecified address
// (0.0.0.0, ::) as loopback, IPv6 in brackets; "" when the port is 0 (chosen at start).
[[nodiscard]] std::string api_url_of(const config::server_config& server);

struct api_answer {
    long status{0};
    nlohmann::json body;  // null when the body is empty or not JSON
};

class api_client {
public:
    // Resolves the URL and reads the token. Errors: "token" (above), "usage" (a URL that is
    // not http:// or https://).
    [[nodiscard]] static core::result<api_client> open(const api_options& options);

    // One request: `method` GET or POST, `path` below the URL ("/v1/cases?limit=5"),
    // `body` sent as JSON when not null. A 2xx answer comes back as it is; anything else is
    // an error: code "unreachable" (no answer: the message says from where), "unauthorized"
    // (401), else the API's own code and message ("not_found", "used", ...) with the status.
    [[nodiscard]] core::result<api_answer> call(const std::string& method, const std::string& path,
                                                const nlohmann::json& body = nullptr) const;

    [[nodiscard]] const std::string& url() const { return url_; }

private:
    api_client(std::string url, std::string token, core::duration timeout)
        : url_(std::move(url)), token_(std::move(token)), timeout_(timeout) {}

    std::string url_;
    std::string token_;
    core::duration timeout_;
};

}  // namespace hotline::ctl
