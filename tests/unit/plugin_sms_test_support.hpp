// Fixtures shared by the SMS channel module tests (plugin_twilio_test.cpp,
// plugin_vonage_test.cpp, plugin_kannel_test.cpp): an alert as the host fills it for an
// SMS channel, a transport reply, and a form/query decoder to read back what was built.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "hotline/channel.h"
#include "plugin_test_support.hpp"

namespace hotline::plugin_test {

struct sms_alert {
    std::string address{"+79001234567"};
    std::string body{"Дело #7: задержание у суда. Ответьте ACK 7"};
    std::string encoding{"ucs2"};
    std::string status_url{"https://hotline.example.org/v1/status/sms/n3?sig=abc"};
    hotline_alert raw{};
    sms_alert() { refresh(); }
    void refresh() {
        raw.struct_size = sizeof raw;
        raw.notification_id = "3";
        raw.idempotency_key = "n3-a";
        raw.address = address.c_str();
        raw.subject = "[hotline] Дело #7";
        raw.body = body.c_str();
        raw.payload_json = "{}";
        raw.severity = "critical";
        raw.language = "ru";
        raw.now_unix = 1'764'061'200;
        raw.attempt = 1;
        raw.sms_encoding = encoding.c_str();
        raw.sms_segments = 1;
        raw.status_url = status_url.c_str();
    }
};

struct reply_fixture {
    std::vector<std::pair<std::string, std::string>> header_text;
    std::vector<hotline_kv> headers;
    std::string body;
    std::string error_text;
    hotline_reply raw{};
    reply_fixture(long status, std::string b = {},
                  std::vector<std::pair<std::string, std::string>> h = {}, int transport_error = 0,
                  std::string err = {})
        : header_text(std::move(h)), body(std::move(b)), error_text(std::move(err)) {
        for (const auto& [k, v] : header_text) {
            headers.push_back({k.c_str(), v.c_str()});
        }
        raw.struct_size = sizeof raw;
        raw.transport = HOTLINE_TRANSPORT_HTTP;
        raw.transport_error = transport_error;
        raw.error_text = error_text.c_str();
        raw.status = status;
        raw.body = body.c_str();
        raw.body_len = body.size();
        raw.headers = headers.data();
        raw.n_headers = headers.size();
    }
};

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

// Strict %XX decoding ('+' stays '+': the modules always write %20 and %2B).
inline std::string percent_decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            REQUIRE(i + 2 < s.size());
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            REQUIRE(hi >= 0);
            REQUIRE(lo >= 0);
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "a=1&b=2" → ordered pairs, decoded.
inline std::vector<std::pair<std::string, std::string>> decode_form(const std::string& s) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start <= s.size() && !s.empty()) {
        const auto end = std::min(s.find('&', start), s.size());
        const std::string item = s.substr(start, end - start);
        const auto eq = item.find('=');
        REQUIRE(eq != std::string::npos);
        out.emplace_back(percent_decode(item.substr(0, eq)), percent_decode(item.substr(eq + 1)));
        start = end + 1;
    }
    return out;
}

inline std::map<std::string, std::string> as_map(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : pairs) {
        m[k] = v;
    }
    return m;
}

inline std::map<std::string, std::string> headers_of(const hotline_request& req) {
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < req.n_headers; ++i) {
        out[req.headers[i].key] = req.headers[i].value;
    }
    return out;
}

// Every byte of an encoded form is an unreserved character, '&', '=' or a %XX escape.
inline bool strictly_encoded(const std::string& s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') ||
                        (u >= 'a' && u <= 'z') || c == '-' || c == '_' || c == '.' || c == '~' ||
                        c == '%' || c == '&' || c == '=';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace hotline::plugin_test
