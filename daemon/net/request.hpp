// What net/ sends and what it answers: owned C++ values, independent of the plugin ABI
// (dispatch/ converts a plugin's hotline_request into a net::request and a net::reply into
// a hotline_reply), so net/ knows nothing of channel modules.
#pragma once
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace hotline::net {

enum class protocol { http, smtp };

using header_list = std::vector<std::pair<std::string, std::string>>;

// One outbound transfer.
struct request {
    protocol kind{protocol::http};
    std::string url;                // http(s)://… or smtp(s)://host:port
    std::string method;             // HTTP only; empty = POST; GET sends no body
    header_list headers;            // HTTP only: extra request headers
    std::string mail_from;          // SMTP only: envelope sender
    std::vector<std::string> rcpt;  // SMTP only: envelope recipients
    std::string body;               // HTTP body, or the whole RFC 5322 message
    std::string username;           // optional transport auth (HTTP basic, SMTP AUTH)
    std::string password;
    int use_tls{0};                    // SMTP: 0 none, 1 STARTTLS required, 2 implicit TLS (smtps)
    bool insecure_skip_verify{false};  // do not verify the peer certificate (tests only)

    request() = default;
    request(const request&) = default;
    request(request&&) = default;
    request& operator=(const request&) = default;
    request& operator=(request&&) = default;
    // The SMTP/HTTP password must not linger in freed memory.
    ~request() { std::fill(password.begin(), password.end(), '\0'); }
};

// What the transfer answered.
struct reply {
    protocol kind{protocol::http};
    int curl_code{0};  // 0 = CURLE_OK; otherwise libcurl's CURLcode (the plugin ABI's numbers)
    // The error class (libcurl's generic text for curl_code, e.g. "Couldn't resolve host
    // name"): safe for logs, the store and plugins. It never names a host or address.
    std::string error_text;
    // libcurl's detailed message ("Failed to connect to mail.example.org port 25 ..."):
    // names contact hosts, so it is logged at debug level only and never stored.
    std::string error_detail;
    long status{0};       // HTTP status or last SMTP reply code
    std::string body;     // HTTP response body (truncated at 64 KiB), or the SMTP reply line
    header_list headers;  // HTTP response headers
};

}  // namespace hotline::net
