// Helpers shared by the SMS channel plugins (twilio, vonage, kannel). Internal and
// header-only like plugin_support.hpp: each plugin is its own module with hidden
// visibility, so nothing here can clash between modules.
#pragma once

#include <hotline/channel.h>

#include "plugin_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotline_sms_support {

using hotline_plugin_support::dup;
using hotline_plugin_support::iequals;

inline bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
}

// Empty = an E.164 number ("+" then 8..15 digits, no leading 0), else the reason. The
// number itself never goes into the reason.
inline std::string check_e164(std::string_view number) {
    if (number.empty()) {
        return "is empty";
    }
    if (number.front() != '+') {
        return "must be an E.164 number starting with + (e.g. +79001234567)";
    }
    const auto digits = number.substr(1);
    if (!all_digits(digits)) {
        return "must be + followed by digits only (no spaces or dashes)";
    }
    if (digits.size() < 8 || digits.size() > 15) {
        return "must have 8 to 15 digits after the +";
    }
    if (digits.front() == '0') {
        return "must start with a country code (no 0 after the +)";
    }
    return {};
}

// Empty = a plausible http(s) base URL with a host, else the reason.
inline std::string check_base_url(std::string_view url) {
    if (url.empty()) {
        return "is empty";
    }
    if (url.size() > 2048) {
        return "is longer than 2048 characters";
    }
    for (char c : url) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) {
            return "contains a space, control or non-ASCII character";
        }
    }
    std::string_view rest;
    if (hotline_plugin_support::starts_with_ci(url, "http://")) {
        rest = url.substr(7);
    } else if (hotline_plugin_support::starts_with_ci(url, "https://")) {
        rest = url.substr(8);
    } else {
        return "must be an http:// or https:// URL";
    }
    const auto host = rest.substr(0, rest.find_first_of("/?#"));
    if (host.empty() || host.front() == ':') {
        return "has no host";
    }
    if (url.find('#') != std::string_view::npos) {
        return "must not have a #fragment";
    }
    return {};
}

// application/x-www-form-urlencoded (and query) encoding of one value: everything but
// RFC 3986 unreserved characters is %XX (UTF-8 bytes as they are), space as %20.
inline std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0x0f];
        }
    }
    return out;
}

using fields = std::vector<std::pair<std::string, std::string>>;

inline std::string form_encode(const fields& f) {
    std::string out;
    for (const auto& [k, v] : f) {
        if (!out.empty()) {
            out += '&';
        }
        out += url_encode(k);
        out += '=';
        out += url_encode(v);
    }
    return out;
}

inline std::string_view strip_trailing_slash(std::string_view s) {
    while (!s.empty() && s.back() == '/') {
        s.remove_suffix(1);
    }
    return s;
}

inline const char* find_header(const hotline_reply* reply, std::string_view name) {
    for (std::size_t i = 0; i < reply->n_headers; ++i) {
        const hotline_kv& h = reply->headers[i];
        if (h.key != nullptr && h.value != nullptr && iequals(h.key, name)) {
            return h.value;
        }
    }
    return nullptr;
}

// Retry-After in delta-seconds, capped at a day; 0 when absent or an HTTP-date.
inline std::int64_t retry_after_ms(const hotline_reply* reply) {
    const char* v = find_header(reply, "Retry-After");
    if (v == nullptr) {
        return 0;
    }
    std::string_view s(v);
    while (!s.empty() && s.front() == ' ') {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    if (s.size() > 9 || !all_digits(s)) {
        return 0;
    }
    constexpr std::int64_t day_ms = 24LL * 3600 * 1000;
    return std::min<std::int64_t>(std::stoll(std::string(s)) * 1000, day_ms);
}

inline std::string_view body_of(const hotline_reply* reply) {
    if (reply->body == nullptr) {
        return {};
    }
    return {reply->body, reply->body_len};
}

// A provider's free text for a detail string: printable ASCII only, and any run of 5 or
// more digits (a phone number the provider echoed) replaced by "#", at most `cap` bytes.
inline std::string scrub(std::string_view text, std::size_t cap = 120) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size() && out.size() < cap) {
        const auto u = static_cast<unsigned char>(text[i]);
        if (std::isdigit(u) != 0) {
            std::size_t j = i;
            while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) {
                ++j;
            }
            if (j - i >= 5) {
                out += '#';
            } else {
                out.append(text.substr(i, j - i));
            }
            i = j;
            continue;
        }
        if (u >= 0x20 && u < 0x7f) {
            out += text[i];
        } else if (u == '\n' || u == '\r' || u == '\t') {
            out += ' ';
        }
        ++i;
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

// The first parameter named `key` (exact), or nullptr.
inline const char* param(const hotline_kv* params, std::size_t n, std::string_view key) {
    for (std::size_t i = 0; i < n; ++i) {
        if (params[i].key != nullptr && params[i].value != nullptr && key == params[i].key) {
            return params[i].value;
        }
    }
    return nullptr;
}

inline void set_status(hotline_status* out, int state, int permanent, std::string_view id,
                       std::string_view detail) {
    out->state = state;
    out->permanent = permanent;
    hotline_plugin_support::copy_printable(out->provider_id, sizeof out->provider_id, id);
    std::snprintf(out->detail, sizeof out->detail, "%.*s", static_cast<int>(detail.size()),
                  detail.data());
}

// Fills an HTTP request; headers are (name, value) pairs.
inline void fill_http(hotline_request* out, std::string_view url, std::string_view method,
                      const fields& headers, std::string_view body, std::string_view username,
                      std::string_view password) {
    out->transport = HOTLINE_TRANSPORT_HTTP;
    out->url = dup(url);
    out->method = dup(method);
    out->body = dup(body);
    out->body_len = body.size();
    if (!username.empty()) {
        out->username = dup(username);
        out->password = dup(password);
    }
    if (!headers.empty()) {
        out->headers = static_cast<hotline_kv*>(std::calloc(headers.size(), sizeof(hotline_kv)));
        if (out->headers == nullptr) {
            throw std::bad_alloc();
        }
        for (const auto& [name, value] : headers) {
            hotline_kv& kv = out->headers[out->n_headers];
            kv.key = dup(name);
            ++out->n_headers;  // counted once key is owned, so free_request frees it
            kv.value = dup(value);
        }
    }
}

// free_request for what fill_http built; accepts a zeroed or partly filled request.
inline void free_http(hotline_request* req) noexcept {
    if (req == nullptr) {
        return;
    }
    std::free(req->url);
    std::free(req->method);
    std::free(req->body);
    if (req->username != nullptr) {
        std::free(req->username);
    }
    if (req->password != nullptr) {
        // the secret does not linger in freed memory
        for (char* p = req->password; *p != '\0'; ++p) {
            *const_cast<volatile char*>(p) = '\0';
        }
        std::free(req->password);
    }
    if (req->headers != nullptr) {
        for (std::size_t i = 0; i < req->n_headers; ++i) {
            std::free(const_cast<char*>(req->headers[i].key));
            std::free(const_cast<char*>(req->headers[i].value));
        }
        std::free(req->headers);
    }
    req->url = nullptr;
    req->method = nullptr;
    req->body = nullptr;
    req->body_len = 0;
    req->username = nullptr;
    req->password = nullptr;
    req->headers = nullptr;
    req->n_headers = 0;
}

// The transport-error branch every SMS classifier shares: connection trouble is a retry,
// a malformed URL is permanent (the configured api_url is wrong).
inline bool classify_transport_error(const hotline_reply* reply, hotline_outcome* out,
                                     std::string_view provider) {
    if (reply->transport_error == 0) {
        return false;
    }
    const int code = reply->transport_error;
    const std::string text = scrub(hotline_plugin_support::view_or_empty(reply->error_text));
    const std::string p(provider);
    if (code == HOTLINE_TERR_UNSUPPORTED_PROTOCOL || code == HOTLINE_TERR_URL_MALFORMAT) {
        hotline_plugin_support::set_outcome(out, HOTLINE_PERMANENT, p + " bad URL: " + text);
    } else {
        hotline_plugin_support::set_outcome(
            out, HOTLINE_RETRY, p + " transport error " + std::to_string(code) + ": " + text);
    }
    return true;
}

// ABI 1.1's status_url of an alert: "" from an older host or when the host has none.
inline std::string_view status_url_of(const hotline_alert* alert) {
    if (alert->struct_size >= offsetof(hotline_alert, status_url) + sizeof alert->status_url &&
        alert->status_url != nullptr) {
        return alert->status_url;
    }
    return {};
}

// Whether the body goes as UCS-2: the host's ABI 1.1 sms_encoding; an older host did not
// say, so anything beyond ASCII goes as UCS-2, to be safe.
inline bool is_ucs2(const hotline_alert* alert) {
    if (alert->struct_size >= offsetof(hotline_alert, sms_encoding) + sizeof alert->sms_encoding &&
        alert->sms_encoding != nullptr) {
        return std::string_view(alert->sms_encoding) == "ucs2";
    }
    const std::string_view body = alert->body != nullptr ? alert->body : "";
    return std::any_of(body.begin(), body.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// validate_address of an SMS plugin: E.164 only; the error names the channel type.
inline int validate_e164_address(const char* type, const char* address,
                                 hotline_error* err) noexcept {
    return hotline_plugin_support::guarded(err, "out of memory", 1, [&] {
        const std::string why = check_e164(address != nullptr ? address : "");
        if (!why.empty()) {
            hotline_plugin_support::set_error(err, "", std::string(type) + " address " + why);
            return 1;
        }
        return 0;
    });
}

}  // namespace hotline_sms_support
