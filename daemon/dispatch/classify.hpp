// The host's side of one plugin round trip: the alert it hands to build(), the plugin's
// request turned into net/'s own type, and net/'s answer it hands to classify().
#pragma once
#include <cstdint>
#include <string>

#include "dispatch/plugin_host.hpp"
#include "net/request.hpp"

namespace hotline::dispatch {

// Owns the strings a hotline_alert points into.
struct alert_fields {
    std::string notification_id;
    std::string idempotency_key;
    std::string address;
    std::string subject;
    std::string body;
    std::string payload_json;
    std::string severity;
    std::string language;
    std::int64_t now_unix{};
    std::uint32_t attempt{1};
    // SMS channels (ABI 1.1): empty / 0 elsewhere, passed as NULL / 0.
    std::string sms_encoding;
    std::uint32_t sms_segments{0};
    std::string status_url;

    // Valid while this object lives and is not modified.
    [[nodiscard]] hotline_alert view() const;
};

struct classified {
    hotline_outcome outcome{};
    std::string detail;  // the plugin's reason, else the transport error or status
    std::string provider_id;
};

// Copies what a plugin's build() filled in (NULL strings read as empty).
[[nodiscard]] net::request to_net_request(const hotline_request& raw);

[[nodiscard]] classified classify_reply(const channel_instance& channel, const net::reply& reply);

}  // namespace hotline::dispatch
