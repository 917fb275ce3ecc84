// The webhook channel: POSTs the alert as signed JSON to the contact's URL.
//
// C++ inside, a C ABI outside: every entry point catches everything, because an
// exception unwinding into the host's C frames is undefined behaviour.
#include <hotline/channel.h>

#include "../common/plugin_support.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef HOTLINE_VERSION
#define HOTLINE_VERSION "0"
#endif

struct hotline_channel {
    std::string secret;
    std::string method{"POST"};
    std::vector<std::pair<std::string, std::string>> headers;  // from header.<Name> options
    bool insecure_skip_verify{false};
};

namespace {

using hotline_plugin_support::copy_printable;
using hotline_plugin_support::dup;
using hotline_plugin_support::guarded;
using hotline_plugin_support::guarded_classify;
using hotline_plugin_support::has_control;
using hotline_plugin_support::iequals;
using hotline_plugin_support::parse_bool;
using hotline_plugin_support::set_error;
using hotline_plugin_support::set_outcome;
using hotline_plugin_support::view_or_empty;

constexpr std::size_t max_url_length = 2048;

// RFC 9110 token characters: what a header name may contain.
bool is_token(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    });
}

// Headers the module sets itself; an option may not override them.
bool is_reserved_header(std::string_view name) {
    for (const char* r : {"content-type", "content-length", "host", "idempotency-key", "user-agent",
                          "x-hotline-signature", "transfer-encoding", "expect"}) {
        if (iequals(name, r)) {
            return true;
        }
    }
    return false;
}

// Empty string = fine, else the reason.
std::string check_url(std::string_view url) {
    if (url.empty()) {
        return "is empty";
    }
    if (url.size() > max_url_length) {
        return "is longer than 2048 characters";
    }
    for (char c : url) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return "contains a space or control character";
        }
    }
    std::string_view rest;
    if (url.size() > 7 && iequals(url.substr(0, 7), "http://")) {
        rest = url.substr(7);
    } else if (url.size() > 8 && iequals(url.substr(0, 8), "https://")) {
        rest = url.substr(8);
    } else {
        return "must be an http:// or https:// URL";
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    std::string_view host;
    std::string_view port;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return "has an unterminated IPv6 address";
        }
        host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return "has junk after the IPv6 address";
            }
            port = after.substr(1);
            has_port = true;
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            has_port = true;
        }
    }
    if (host.empty()) {
        return "has no host";
    }
    if (has_port) {
        const bool digits =
            !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0;
            });
        const long number = digits ? std::strtol(std::string(port).c_str(), nullptr, 10) : 0;
        if (number < 1 || number > 65535) {
            return "has a bad port";
        }
    }
    return {};
}

std::string hex_hmac_sha256(const std::string& key, const std::string& message) {
    crypto_auth_hmacsha256_state state;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return hex;
}

const char* find_header(const hotline_reply* reply, std::string_view name) {
    for (std::size_t i = 0; i < reply->n_headers; ++i) {
        const hotline_kv& h = reply->headers[i];
        if (h.key != nullptr && h.value != nullptr && iequals(h.key, name)) {
            return h.value;
        }
    }
    return nullptr;
}

// A provider id from a JSON body {"id": ...} or the X-Request-Id header.
std::string provider_id(const hotline_reply* reply) {
    if (reply->body != nullptr && reply->body_len > 0) {
        const auto doc =
            nlohmann::json::parse(reply->body, reply->body + reply->body_len, nullptr, false);
        if (doc.is_object()) {
            const auto it = doc.find("id");
            if (it != doc.end()) {
                if (it->is_string()) {
                    return it->get<std::string>();
                }
                if (it->is_number_integer() || it->is_number_unsigned()) {
                    return it->dump();
                }
            }
        }
    }
    if (const char* rid = find_header(reply, "X-Request-Id")) {
        return rid;
    }
    return {};
}

std::int64_t retry_after_ms(const hotline_reply* reply) {
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
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
        return 0;  // an HTTP-date: the host's own backoff is good enough
    }
    constexpr std::int64_t day_ms = 24LL * 3600 * 1000;
    return std::min<std::int64_t>(std::stoll(std::string(s)) * 1000, day_ms);
}

hotline_channel* webhook_create(const hotline_kv* options, size_t n_options,
                                hotline_error* err) noexcept {
    return guarded(
        err, "out of memory", static_cast<hotline_channel*>(nullptr), [&]() -> hotline_channel* {
            if (sodium_init() < 0) {
                set_error(err, "", "libsodium failed to initialise");
                return nullptr;
            }
            auto ch = std::make_unique<hotline_channel>();
            bool have_secret = false;
            for (std::size_t i = 0; i < n_options; ++i) {
                const std::string_view key = view_or_empty(options[i].key);
                const std::string_view value = view_or_empty(options[i].value);
                if (key == "secret") {
                    if (value.empty()) {
                        set_error(err, key, "the signing secret is empty");
                        return nullptr;
                    }
                    ch->secret = value;
                    have_secret = true;
                } else if (key == "method") {
                    if (value != "POST" && value != "PUT") {
                        set_error(err, key, "method must be POST or PUT");
                        return nullptr;
                    }
                    ch->method = value;
                } else if (key == "insecure_skip_verify") {
                    if (!parse_bool(value, ch->insecure_skip_verify)) {
                        set_error(err, key, "must be true or false");
                        return nullptr;
                    }
                } else if (key.substr(0, 7) == "header.") {
                    const auto name = key.substr(7);
                    if (!is_token(name)) {
                        set_error(err, key, "not a valid HTTP header name");
                        return nullptr;
                    }
                    if (is_reserved_header(name)) {
                        set_error(err, key, "this header is set by the webhook channel itself");
                        return nullptr;
                    }
                    if (has_control(value)) {
                        set_error(err, key, "header value contains a control character");
                        return nullptr;
                    }
                    ch->headers.emplace_back(name, value);
                } else {
                    set_error(err, key,
                              "unknown option (known: secret_file, method, header.<Name>, "
                              "insecure_skip_verify)");
                    return nullptr;
                }
            }
            if (!have_secret) {
                set_error(err, "secret", "secret_file is required (the HMAC signing key)");
                return nullptr;
            }
            return ch.release();
        });
}

int webhook_validate_address(hotline_channel* /*ch*/, const char* address,
                             hotline_error* err) noexcept {
    return guarded(err, "out of memory", 1, [&] {
        const std::string why = check_url(address != nullptr ? address : "");
        if (!why.empty()) {
            set_error(err, "", "webhook address " + why);
            return 1;
        }
        return 0;
    });
}

int webhook_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                  hotline_error* err) noexcept {
    return guarded(err, "out of memory while building the request", 1, [&] {
        const std::string url = alert->address != nullptr ? alert->address : "";
        if (const std::string why = check_url(url); !why.empty()) {
            set_error(err, "", "webhook address " + why);
            return 1;
        }
        const char* payload_text = alert->payload_json != nullptr ? alert->payload_json : "{}";
        auto doc = nlohmann::json::parse(payload_text, nullptr, false);
        if (!doc.is_object()) {
            set_error(err, "", "payload is not a JSON object");
            return 1;
        }
        doc["message"] = {{"subject", alert->subject != nullptr ? alert->subject : ""},
                          {"body", alert->body != nullptr ? alert->body : ""}};
        // `replace`: a stray invalid byte in a rendered template must not lose the alert.
        const std::string body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        const std::string idempotency_key =
            alert->idempotency_key != nullptr ? alert->idempotency_key : "";
        if (has_control(idempotency_key)) {
            set_error(err, "", "idempotency key contains a control character");
            return 1;
        }
        const std::string t = std::to_string(alert->now_unix);
        const std::string signature =
            "t=" + t + ",v1=" + hex_hmac_sha256(ch->secret, t + "." + body);

        std::vector<std::pair<std::string, std::string>> headers{
            {"Content-Type", "application/json"},
            {"User-Agent", std::string("hotline/") + HOTLINE_VERSION},
            {"X-Hotline-Signature", signature},
        };
        if (!idempotency_key.empty()) {
            headers.emplace_back("Idempotency-Key", idempotency_key);
        }
        headers.insert(headers.end(), ch->headers.begin(), ch->headers.end());

        out->transport = HOTLINE_TRANSPORT_HTTP;
        out->url = dup(url);
        out->method = dup(ch->method);
        out->body = dup(body);
        out->body_len = body.size();
        out->insecure_skip_verify = ch->insecure_skip_verify ? 1 : 0;
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
        return 0;
    });
}

void webhook_free_request(hotline_channel* /*ch*/, hotline_request* req) noexcept {
    if (req == nullptr) {
        return;
    }
    std::free(req->url);
    std::free(req->method);
    std::free(req->body);
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
    req->headers = nullptr;
    req->n_headers = 0;
}

void webhook_classify(hotline_channel* /*ch*/, const hotline_reply* reply,
                      hotline_outcome* out) noexcept {
    guarded_classify(out, [&] {
        out->provider_id[0] = '\0';
        out->retry_after_ms = 0;
        if (reply->transport_error != 0) {
            const std::string text = reply->error_text != nullptr ? reply->error_text : "";
            const int code = reply->transport_error;
            if (code == HOTLINE_TERR_UNSUPPORTED_PROTOCOL || code == HOTLINE_TERR_URL_MALFORMAT) {
                set_outcome(out, HOTLINE_PERMANENT, "bad URL: " + text);
            } else {
                set_outcome(out, HOTLINE_RETRY,
                            "transport error " + std::to_string(code) + ": " + text);
            }
            return;
        }
        const long status = reply->status;
        const std::string http = "HTTP " + std::to_string(status);
        if (status >= 200 && status < 300) {
            set_outcome(out, HOTLINE_DELIVERED, http);
            copy_printable(out->provider_id, sizeof out->provider_id, provider_id(reply));
        } else if (status == 408 || status == 425 || status == 429 ||
                   (status >= 500 && status < 600)) {
            set_outcome(out, HOTLINE_RETRY, http);
            out->retry_after_ms = retry_after_ms(reply);
        } else if (status == 0) {
            set_outcome(out, HOTLINE_RETRY, "no HTTP status");
        } else {
            set_outcome(out, HOTLINE_PERMANENT, http);
        }
    });
}

void webhook_destroy(hotline_channel* ch) noexcept {
    if (ch != nullptr) {
        sodium_memzero(ch->secret.data(), ch->secret.size());
        delete ch;
    }
}

const hotline_channel_v1 webhook_entry = {
    sizeof(hotline_channel_v1),
    "webhook",
    webhook_create,
    webhook_validate_address,
    webhook_build,
    webhook_free_request,
    webhook_classify,
    webhook_destroy,
    {},
    0,
    nullptr,
};

}  // namespace

extern "C" HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    return hotline_plugin_support::pick_abi_v1(offered, n);
}

extern "C" HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &webhook_entry;
}
