// The kannel channel: one SMS through an operator's own Kannel smsbox (GET
// /cgi-bin/sendsms with the sendsms-user's credentials), its answer classified, and
// Kannel's dlr-url callbacks read back.
//
// C++ inside, a C ABI outside: every entry point catches everything, because an
// exception unwinding into the host's C frames is undefined behaviour.
#include <hotline/channel.h>

#include "../common/plugin_support.hpp"
#include "../common/sms_support.hpp"

#include <sodium.h>

#include <memory>
#include <string>
#include <string_view>

struct hotline_channel {
    std::string url;  // http://host:13013/cgi-bin/sendsms
    std::string username;
    std::string password;
    std::string from;
    std::string smsc;  // smsc-id to route through, or empty
    int dlr_mask{-1};  // -1 = default (3 when a status URL is given), 0 = never
};

namespace {

using hotline_plugin_support::guarded;
using hotline_plugin_support::guarded_classify;
using hotline_plugin_support::set_error;
using hotline_plugin_support::set_outcome;
using hotline_plugin_support::view_or_empty;
namespace sms = hotline_sms_support;

// Kannel's DLR types (the %d of dlr-url).
constexpr int dlr_delivered = 1;
constexpr int dlr_undelivered = 2;
constexpr int dlr_smsc_reject = 16;

// A sendsms-user name or a sender: printable, no spaces or controls, reasonable length.
bool plain_token(std::string_view s, std::size_t max) {
    return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
    });
}

hotline_channel* kannel_create(const hotline_kv* options, size_t n_options,
                               hotline_error* err) noexcept {
    return guarded(
        err, "out of memory", static_cast<hotline_channel*>(nullptr), [&]() -> hotline_channel* {
            auto ch = std::make_unique<hotline_channel>();
            for (std::size_t i = 0; i < n_options; ++i) {
                const std::string_view key = view_or_empty(options[i].key);
                const std::string_view value = view_or_empty(options[i].value);
                if (key == "url") {
                    if (const std::string why = sms::check_base_url(value); !why.empty()) {
                        set_error(err, key, "url " + why);
                        return nullptr;
                    }
                    ch->url = value;
                } else if (key == "username") {
                    if (!plain_token(value, 64)) {
                        set_error(err, key,
                                  "must be the sendsms-user's username (no spaces, at most 64)");
                        return nullptr;
                    }
                    ch->username = value;
                } else if (key == "password") {
                    const auto p = hotline_plugin_support::trim(value);
                    if (p.empty()) {
                        set_error(err, key, "the sendsms password is empty");
                        return nullptr;
                    }
                    if (hotline_plugin_support::has_control(p)) {
                        set_error(err, key, "the sendsms password contains a control character");
                        return nullptr;
                    }
                    ch->password = p;
                } else if (key == "from") {
                    if (!plain_token(value, 20)) {
                        set_error(err, key,
                                  "must be a sender number or id (no spaces, at most 20)");
                        return nullptr;
                    }
                    ch->from = value;
                } else if (key == "smsc") {
                    if (!plain_token(value, 64)) {
                        set_error(err, key, "must be an smsc-id from kannel.conf (no spaces)");
                        return nullptr;
                    }
                    ch->smsc = value;
                } else if (key == "dlr_mask") {
                    if (!sms::all_digits(value) || value.size() > 2 ||
                        std::stoi(std::string(value)) > 31) {
                        set_error(err, key,
                                  "must be a number from 0 to 31 (1 delivered, 2 failed, "
                                  "4 buffered, 8 SMSC ack, 16 SMSC reject; 0 = no DLRs)");
                        return nullptr;
                    }
                    ch->dlr_mask = std::stoi(std::string(value));
                } else {
                    set_error(err, key,
                              "unknown option (known: url, username, password_file, from, smsc, "
                              "dlr_mask)");
                    return nullptr;
                }
            }
            if (ch->url.empty()) {
                set_error(err, "url",
                          "url is required (smsbox's sendsms, e.g. "
                          "http://127.0.0.1:13013/cgi-bin/sendsms)");
                return nullptr;
            }
            if (ch->username.empty()) {
                set_error(err, "username", "username is required (a sendsms-user group)");
                return nullptr;
            }
            if (ch->password.empty()) {
                set_error(err, "password", "password_file is required");
                return nullptr;
            }
            if (ch->from.empty()) {
                // Kannel answers "Sender missing and no global set, rejected" otherwise.
                set_error(err, "from", "from is required (the sender number or id)");
                return nullptr;
            }
            return ch.release();
        });
}

// Kannel expands %-escapes in a dlr-url: a literal '%' of the status URL is "%%".
std::string kannel_literal(std::string_view s) {
    std::string out;
    for (char c : s) {
        out += c;
        if (c == '%') {
            out += '%';
        }
    }
    return out;
}

int kannel_validate_address(hotline_channel* /*ch*/, const char* address,
                            hotline_error* err) noexcept {
    return sms::validate_e164_address("kannel", address, err);
}

int kannel_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                 hotline_error* err) noexcept {
    return guarded(err, "out of memory while building the request", 1, [&] {
        const std::string_view to = view_or_empty(alert->address);
        if (const std::string why = sms::check_e164(to); !why.empty()) {
            set_error(err, "", "kannel address " + why);
            return 1;
        }
        const bool ucs2 = sms::is_ucs2(alert);
        sms::fields query{
            {"username", ch->username},
            {"password", ch->password},
            {"from", ch->from},
            {"to", std::string(to)},
            {"text", std::string(view_or_empty(alert->body))},  // UTF-8 as it is
            {"coding", ucs2 ? "2" : "0"},
            {"charset", "UTF-8"},
        };
        if (!ch->smsc.empty()) {
            query.emplace_back("smsc", ch->smsc);
        }
        const std::string_view status_url = sms::status_url_of(alert);
        const int mask = ch->dlr_mask < 0 ? 3 : ch->dlr_mask;
        if (!status_url.empty() && mask > 0) {
            query.emplace_back("dlr-mask", std::to_string(mask));
            const char joiner = status_url.find('?') == std::string_view::npos ? '?' : '&';
            query.emplace_back("dlr-url",
                               kannel_literal(status_url) + joiner + "type=%d&smsc=%i&reply=%A");
        }
        const char joiner = ch->url.find('?') == std::string::npos ? '?' : '&';
        const std::string url = ch->url + joiner + sms::form_encode(query);
        sms::fill_http(out, url, "GET", {}, "", "", "");
        return 0;
    });
}

void kannel_free_request(hotline_channel* /*ch*/, hotline_request* req) noexcept {
    if (req != nullptr && req->url != nullptr) {
        sodium_memzero(req->url, std::strlen(req->url));  // it carries the password
    }
    sms::free_http(req);
}

void kannel_classify(hotline_channel* /*ch*/, const hotline_reply* reply,
                     hotline_outcome* out) noexcept {
    guarded_classify(out, [&] {
        out->provider_id[0] = '\0';
        out->retry_after_ms = 0;
        if (sms::classify_transport_error(reply, out, "kannel")) {
            return;
        }
        const long status = reply->status;
        const std::string http = "HTTP " + std::to_string(status);
        const std::string text = sms::scrub(sms::body_of(reply), 100);
        const std::string said = text.empty() ? http : http + " " + text;
        if (status >= 200 && status < 300) {
            // "0: Accepted for delivery", "3: Queued for later delivery"
            set_outcome(out, HOTLINE_DELIVERED, "kannel " + said);
            return;
        }
        if (status == 429 || status == 408 || (status >= 500 && status < 600)) {
            set_outcome(out, HOTLINE_RETRY, "kannel " + said);
            out->retry_after_ms = sms::retry_after_ms(reply);
            return;
        }
        if (status == 0) {
            set_outcome(out, HOTLINE_RETRY, "kannel: no HTTP status");
            return;
        }
        // 403 "Authorization failed for sendsms", 400 "Sender missing and no global set",
        // a white/black list denial: retrying the same request cannot help.
        set_outcome(out, HOTLINE_PERMANENT, "kannel " + said);
    });
}

// From a DLR's %A (the SMSC's answer) only what names the outcome: "NACK/<code>/<reason>",
// or the "stat:" and "err:" fields of an SMPP receipt (its "text:" is the message's start).
std::string reply_summary(std::string_view reply) {
    if (reply.substr(0, 5) == "NACK/" || reply.substr(0, 4) == "ACK/") {
        // "NACK/0x0000000b/Invalid Destination Address": the SMPP status code as it is
        // (it is no phone number), the reason scrubbed.
        const auto first = reply.find('/');
        const auto second = reply.find('/', first + 1);
        const auto code =
            reply.substr(first + 1, second == std::string_view::npos ? std::string_view::npos
                                                                     : second - first - 1);
        const bool hex_code = code.size() == 10 && code.substr(0, 2) == "0x" &&
                              std::all_of(code.begin() + 2, code.end(), [](char c) {
                                  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                              });
        if (hex_code) {
            std::string out(
                reply.substr(0, second == std::string_view::npos ? reply.size() : second));
            if (second != std::string_view::npos) {
                out += '/' + sms::scrub(reply.substr(second + 1), 60);
            }
            return out;
        }
        return sms::scrub(reply.substr(0, 80), 80);
    }
    std::string out;
    for (const std::string_view field : {std::string_view("stat:"), std::string_view("err:")}) {
        const auto at = reply.find(field);
        if (at == std::string_view::npos) {
            continue;
        }
        auto value = reply.substr(at + field.size());
        value = value.substr(0, std::min<std::size_t>(value.find(' '), 12));
        if (!out.empty()) {
            out += ' ';
        }
        out += std::string(field) + sms::scrub(value, 12);
    }
    return out;
}

void kannel_parse_status(hotline_channel* /*ch*/, const hotline_kv* params, size_t n_params,
                         hotline_status* out) noexcept {
    try {
        const std::string_view type_text = view_or_empty(sms::param(params, n_params, "type"));
        const int type = sms::all_digits(type_text) && type_text.size() <= 2
                             ? std::stoi(std::string(type_text))
                             : -1;
        const std::string summary =
            reply_summary(view_or_empty(sms::param(params, n_params, "reply")));
        const std::string suffix = summary.empty() ? "" : ": " + summary;
        if (type == dlr_delivered) {
            sms::set_status(out, HOTLINE_STATUS_DELIVERED, 0, "", "kannel delivered" + suffix);
            return;
        }
        if (type == dlr_undelivered || type == dlr_smsc_reject) {
            // SMPP ESME_RINVDSTADR (0x0000000B): the SMSC says the number is invalid.
            const bool invalid_number = summary.find("0x0000000b") != std::string::npos ||
                                        summary.find("0x0000000B") != std::string::npos;
            sms::set_status(out, HOTLINE_STATUS_FAILED, invalid_number ? 1 : 0, "",
                            (type == dlr_undelivered ? "kannel undelivered to the phone"
                                                     : "kannel rejected by the SMSC") +
                                suffix);
            return;
        }
        // 4 buffered at the SMSC, 8 accepted by the SMSC, or something unknown
        sms::set_status(out, HOTLINE_STATUS_IGNORE, 0, "", "");
    } catch (...) {
        out->state = HOTLINE_STATUS_IGNORE;
    }
}

void kannel_destroy(hotline_channel* ch) noexcept {
    if (ch != nullptr) {
        sodium_memzero(ch->password.data(), ch->password.size());
        delete ch;
    }
}

const hotline_channel_v1 kannel_entry = {
    sizeof(hotline_channel_v1),
    "kannel",
    kannel_create,
    kannel_validate_address,
    kannel_build,
    kannel_free_request,
    kannel_classify,
    kannel_destroy,
    {},
    HOTLINE_CHANNEL_SMS,
    kannel_parse_status,
};

}  // namespace

extern "C" HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    return hotline_plugin_support::pick_abi_v1(offered, n);
}

extern "C" HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &kannel_entry;
}
