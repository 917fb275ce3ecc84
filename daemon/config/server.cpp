// `server:` the HTTP listener (address, port, body and time limits), the connection caps,
// the /metrics listener, the limits of the ingest path (rate limits, fair queue) and the
// submit deadline.
#include <charconv>

#include "config/sections.hpp"
#include "core/asio.hpp"

namespace hotline::config {

namespace {

struct host_port {
    std::string address;
    std::uint16_t port{0};
};

// "127.0.0.1:9464", "[::1]:9464"; nothing when malformed.
std::optional<host_port> parse_host_port(std::string_view s) {
    host_port out;
    std::string_view rest;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            return std::nullopt;
        }
        out.address = std::string(s.substr(1, close - 1));
        rest = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos || s.find(':') != colon) {
            return std::nullopt;
        }
        out.address = std::string(s.substr(0, colon));
        rest = s.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
    if (rest.empty() || ec != std::errc{} || end != rest.data() + rest.size() || port > 65535) {
        return std::nullopt;
    }
    error_code bad;
    (void)asio::ip::make_address(out.address, bad);
    if (bad) {
        return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

bool is_loopback(const std::string& address) {
    error_code ec;
    const auto a = asio::ip::make_address(address, ec);
    return !ec && a.is_loopback();
}

void read_ingest(load_state& state, const document& d, const YAML::Node& node, ingest_limits& out) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(
        d, node, "server.ingest",
        {"max_in_flight", "max_in_flight_per_source", "max_queued", "max_queued_per_source"});
    if (!f) {
        return;
    }
    for (const auto& [key, entry] : *f) {
        const auto v = y.read_integer(d, entry.second, join("server.ingest", key), 1, 1'000'000);
        if (key == "max_in_flight") {
            assign_if(v, out.max_in_flight);
        } else if (key == "max_in_flight_per_source") {
            assign_if(v, out.max_in_flight_per_source);
        } else if (key == "max_queued") {
            assign_if(v, out.max_queued);
        } else if (key == "max_queued_per_source") {
            assign_if(v, out.max_queued_per_source);
        }
    }
}

}  // namespace

void read_server(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(
        d, node, "server",
        {"address", "port", "body_limit", "read_timeout", "idle_timeout", "max_connections",
         "max_connections_per_ip", "reserved_connections", "preauth_timeout", "metrics_listen",
         "metrics_token_file", "rate_limits", "ingest", "submit_timeout"});
    if (!f) {
        return;
    }
    auto& s = state.cfg.server;
    s.at = y.at(d, node);
    std::optional<mark> reserved_at;
    std::optional<mark> metrics_at;
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string path = join("server", key);
        if (key == "address") {
            assign_if(y.read_string(d, v, path), s.listen_address);
        } else if (key == "port") {
            assign_if(y.read_integer(d, v, path, 0, 65535), s.port);
        } else if (key == "body_limit") {
            assign_if(y.read_size(d, v, path), s.body_limit);
        } else if (key == "read_timeout") {
            assign_if(y.read_duration(d, v, path), s.read_timeout);
        } else if (key == "idle_timeout") {
            assign_if(y.read_duration(d, v, path), s.idle_timeout);
        } else if (key == "submit_timeout") {
            assign_if(y.read_duration(d, v, path), s.submit_timeout);
        } else if (key == "max_connections") {
            assign_if(y.read_integer(d, v, path, 1, 1'000'000), s.max_connections);
        } else if (key == "max_connections_per_ip") {
            assign_if(y.read_integer(d, v, path, 1, 1'000'000), s.max_connections_per_ip);
        } else if (key == "reserved_connections") {
            if (const auto n = y.read_integer(d, v, path, 0, 1'000'000)) {
                s.reserved_connections = static_cast<std::size_t>(*n);
                reserved_at = y.at(d, v);
            }
        } else if (key == "preauth_timeout") {
            assign_if(y.read_duration(d, v, path), s.preauth_timeout);
        } else if (key == "metrics_listen") {
            const auto text = y.read_string(d, v, path);
            if (!text) {
                continue;
            }
            if (*text == "off") {
                s.metrics_address.clear();
                s.metrics_port = 0;
            } else if (const auto hp = parse_host_port(*text)) {
                s.metrics_address = hp->address;
                s.metrics_port = hp->port;
                metrics_at = y.at(d, v);
            } else {
                y.fail(y.at(d, v), path,
                       "expected address:port like 127.0.0.1:9464 or [::1]:9464, or off");
            }
        } else if (key == "metrics_token_file") {
            if (auto sec = y.read_secret(d, v, path)) {
                if (sec->value.empty()) {
                    y.fail(y.at(d, v), path, "the token file is empty");
                } else {
                    s.metrics_token = std::move(*sec);
                }
            }
        } else if (key == "rate_limits") {
            std::optional<rate_limit> source;
            std::optional<rate_limit> sender;
            read_rate_limits(state, d, v, path, source, sender);
            assign_if(source, s.limits.source);
            assign_if(sender, s.limits.sender);
        } else if (key == "ingest") {
            read_ingest(state, d, v, s.ingest);
        }
    }
    if (reserved_at && s.reserved() >= s.max_connections) {
        y.fail(*reserved_at, "server.reserved_connections",
               "must be below max_connections (" + std::to_string(s.max_connections) + ")");
    }
    if (metrics_at && s.metrics_port != 0 && s.metrics_port == s.port &&
        s.metrics_address == s.listen_address) {
        y.fail(*metrics_at, "server.metrics_listen",
               "is the main listener's address and port; give another port, or off");
    }
    // Who reports when is sensitive (traffic analysis): metrics off loopback need a token.
    if (metrics_at && !is_loopback(s.metrics_address) && s.metrics_token.value.empty()) {
        y.fail(*metrics_at, "server.metrics_listen",
               "a non-loopback metrics listener needs server.metrics_token_file");
    }
}

}  // namespace hotline::config
