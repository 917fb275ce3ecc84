// The twilio channel: one SMS through Twilio's Programmable Messaging REST API
// (POST /2010-04-01/Accounts/{sid}/Messages.json, HTTP basic auth sid:token), the
// answer classified by Twilio's error codes, and StatusCallback requests read back.
//
// C++ inside, a C ABI outside: every entry point catches everything, because an
// exception unwinding into the host's C frames is undefined behaviour.
#include <hotline/channel.h>

#include "../common/plugin_support.hpp"
#include "../common/sms_support.hpp"

#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#ifndef HOTLINE_VERSION
#define HOTLINE_VERSION "0"
#endif

struct hotline_channel {
    std::string account_sid;
    std::string auth_token;
    std::string from;                   // E.164 or an alphanumeric sender id
    std::string messaging_service_sid;  // instead of from
    std::string api_url{"https://api.twilio.com"};
};

namespace {

using hotline_plugin_support::copy_printable;
using hotline_plugin_support::guarded;
using hotline_plugin_support::guarded_classify;
using hotline_plugin_support::set_error;
using hotline_plugin_support::set_outcome;
using hotline_plugin_support::view_or_empty;
namespace sms = hotline_sms_support;

// Twilio error codes that mean "this number will never take our SMS": the alert falls
// through to the responder's next contact. Everything else is this message's problem.
struct code_name {
    long code;
    const char* name;
    bool permanent;
};
constexpr code_name codes[] = {
    {21211, "invalid number", true},
    {21408, "region not enabled", true},
    {21610, "unsubscribed (STOP)", true},
    {21612, "not reachable by SMS", true},
    {21614, "not a mobile number", true},
    {30003, "unreachable handset", false},
    {30004, "message blocked", true},
    {30005, "unknown handset", true},
    {30006, "landline or unreachable carrier", true},
    {30007, "carrier filtered", false},
    {30008, "unknown error", false},
};

const code_name* find_code(long code) {
    for (const auto& c : codes) {
        if (c.code == code) {
            return &c;
        }
    }
    return nullptr;
}

std::string code_detail(long code) {
    const code_name* c = find_code(code);
    return "twilio " + std::to_string(code) + (c != nullptr ? std::string(" ") + c->name : "");
}

// A sid: two letters then 32 hex digits (AC… for accounts, MG… for messaging services).
bool is_sid(std::string_view s, std::string_view prefix) {
    if (s.size() != 34 || s.substr(0, 2) != prefix) {
        return false;
    }
    return std::all_of(s.begin() + 2, s.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// A From: E.164, or an alphanumeric sender id (1..11 letters, digits, spaces, at least
// one letter) where the destination allows it.
std::string check_from(std::string_view from) {
    if (!from.empty() && from.front() == '+') {
        const std::string why = sms::check_e164(from);
        return why.empty() ? why : "from " + why;
    }
    if (from.empty() || from.size() > 11) {
        return "from must be an E.164 number or an alphanumeric sender id of 1 to 11 characters";
    }
    bool letter = false;
    for (char c : from) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalpha(u) != 0) {
            letter = true;
        } else if (std::isdigit(u) == 0 && c != ' ') {
            return "an alphanumeric sender id may only have letters, digits and spaces";
        }
    }
    return letter ? "" : "an alphanumeric sender id needs at least one letter (or use +E.164)";
}

hotline_channel* twilio_create(const hotline_kv* options, size_t n_options,
                               hotline_error* err) noexcept {
    return guarded(
        err, "out of memory", static_cast<hotline_channel*>(nullptr), [&]() -> hotline_channel* {
            auto ch = std::make_unique<hotline_channel>();
            for (std::size_t i = 0; i < n_options; ++i) {
                const std::string_view key = view_or_empty(options[i].key);
                const std::string_view value = view_or_empty(options[i].value);
                if (key == "account_sid") {
                    if (!is_sid(value, "AC")) {
                        set_error(err, key, "must be a Twilio account sid (AC and 32 hex digits)");
                        return nullptr;
                    }
                    ch->account_sid = value;
                } else if (key == "auth_token") {
                    const auto token = hotline_plugin_support::trim(value);
                    if (token.empty()) {
                        set_error(err, key, "the auth token is empty");
                        return nullptr;
                    }
                    if (hotline_plugin_support::has_control(token)) {
                        set_error(err, key, "the auth token contains a control character");
                        return nullptr;
                    }
                    ch->auth_token = token;
                } else if (key == "from") {
                    if (const std::string why = check_from(value); !why.empty()) {
                        set_error(err, key, why);
                        return nullptr;
                    }
                    ch->from = value;
                } else if (key == "messaging_service_sid") {
                    if (!is_sid(value, "MG")) {
                        set_error(err, key,
                                  "must be a Twilio messaging service sid (MG and 32 hex digits)");
                        return nullptr;
                    }
                    ch->messaging_service_sid = value;
                } else if (key == "api_url") {
                    if (const std::string why = sms::check_base_url(value); !why.empty()) {
                        set_error(err, key, "api_url " + why);
                        return nullptr;
                    }
                    ch->api_url = sms::strip_trailing_slash(value);
                } else {
                    set_error(err, key,
                              "unknown option (known: account_sid, auth_token_file, from, "
                              "messaging_service_sid, api_url)");
                    return nullptr;
                }
            }
            if (ch->account_sid.empty()) {
                set_error(err, "account_sid", "account_sid is required");
                return nullptr;
            }
            if (ch->auth_token.empty()) {
                set_error(err, "auth_token", "auth_token_file is required");
                return nullptr;
            }
            if (ch->from.empty() == ch->messaging_service_sid.empty()) {
                set_error(err, ch->from.empty() ? "from" : "messaging_service_sid",
                          "set exactly one of from and messaging_service_sid");
                return nullptr;
            }
            return ch.release();
        });
}

int twilio_validate_address(hotline_channel* /*ch*/, const char* address,
                            hotline_error* err) noexcept {
    return sms::validate_e164_address("twilio", address, err);
}

int twilio_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                 hotline_error* err) noexcept {
    return guarded(err, "out of memory while building the request", 1, [&] {
        const std::string_view to = view_or_empty(alert->address);
        if (const std::string why = sms::check_e164(to); !why.empty()) {
            set_error(err, "", "twilio address " + why);
            return 1;
        }
        sms::fields form{{"To", std::string(to)}};
        if (!ch->from.empty()) {
            form.emplace_back("From", ch->from);
        } else {
            form.emplace_back("MessagingServiceSid", ch->messaging_service_sid);
        }
        form.emplace_back("Body", view_or_empty(alert->body));
        if (const auto status_url = sms::status_url_of(alert); !status_url.empty()) {
            form.emplace_back("StatusCallback", std::string(status_url));
        }
        const std::string url =
            ch->api_url + "/2010-04-01/Accounts/" + ch->account_sid + "/Messages.json";
        sms::fill_http(out, url, "POST",
                       {{"Content-Type", "application/x-www-form-urlencoded"},
                        {"Accept", "application/json"},
                        {"User-Agent", std::string("hotline/") + HOTLINE_VERSION}},
                       sms::form_encode(form), ch->account_sid, ch->auth_token);
        return 0;
    });
}

void twilio_free_request(hotline_channel* /*ch*/, hotline_request* req) noexcept {
    sms::free_http(req);
}

// Twilio's error JSON {"code": 21211, "message": "...", "status": 400}: the code, or 0.
long error_code(const hotline_reply* reply) {
    const auto body = sms::body_of(reply);
    const auto doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (!doc.is_object()) {
        return 0;
    }
    const auto it = doc.find("code");
    if (it == doc.end()) {
        return 0;
    }
    if (it->is_number_integer()) {
        return it->get<long>();
    }
    if (it->is_string()) {
        const auto s = it->get<std::string>();
        return sms::all_digits(s) && s.size() < 9 ? std::stol(s) : 0;
    }
    return 0;
}

void twilio_classify(hotline_channel* /*ch*/, const hotline_reply* reply,
                     hotline_outcome* out) noexcept {
    guarded_classify(out, [&] {
        out->provider_id[0] = '\0';
        out->retry_after_ms = 0;
        if (sms::classify_transport_error(reply, out, "twilio")) {
            return;
        }
        const long status = reply->status;
        const std::string http = "HTTP " + std::to_string(status);
        if (status >= 200 && status < 300) {
            const auto body = sms::body_of(reply);
            const auto doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
            std::string sid;
            if (doc.is_object() && doc.contains("sid") && doc["sid"].is_string()) {
                sid = doc["sid"].get<std::string>();
            }
            set_outcome(out, HOTLINE_DELIVERED, "twilio accepted (" + http + ")");
            copy_printable(out->provider_id, sizeof out->provider_id, sid);
            return;
        }
        if (status == 401 || status == 403) {
            // Credentials: a retry, so the queue resumes once the token file is fixed.
            const long code = error_code(reply);
            set_outcome(out, HOTLINE_RETRY,
                        "twilio auth failed (" + http +
                            (code != 0 ? ", code " + std::to_string(code) : std::string()) + ")");
            return;
        }
        if (status == 429 || status == 408 || (status >= 500 && status < 600)) {
            const long code = error_code(reply);
            set_outcome(out, HOTLINE_RETRY,
                        code != 0 ? code_detail(code) + " (" + http + ")" : "twilio " + http);
            out->retry_after_ms = sms::retry_after_ms(reply);
            return;
        }
        if (status == 0) {
            set_outcome(out, HOTLINE_RETRY, "twilio: no HTTP status");
            return;
        }
        if (status >= 400 && status < 500) {
            const long code = error_code(reply);
            if (code == 0) {
                set_outcome(out, HOTLINE_PERMANENT, "twilio rejected the request (" + http + ")");
                return;
            }
            // Any 4xx with a code will not change on retry; the listed codes are about the
            // number, the others about our request or account (the admins hear of both).
            set_outcome(out, HOTLINE_PERMANENT, code_detail(code));
            return;
        }
        set_outcome(out, HOTLINE_PERMANENT, "twilio unexpected " + http);
    });
}

void twilio_parse_status(hotline_channel* /*ch*/, const hotline_kv* params, size_t n_params,
                         hotline_status* out) noexcept {
    try {
        const std::string_view sid = view_or_empty(sms::param(params, n_params, "MessageSid"));
        const std::string_view state = view_or_empty(sms::param(params, n_params, "MessageStatus"));
        if (state == "delivered") {
            sms::set_status(out, HOTLINE_STATUS_DELIVERED, 0, sid, "twilio delivered");
            return;
        }
        if (state == "undelivered" || state == "failed") {
            const std::string_view code_text =
                view_or_empty(sms::param(params, n_params, "ErrorCode"));
            const long code = sms::all_digits(code_text) && code_text.size() < 9
                                  ? std::stol(std::string(code_text))
                                  : 0;
            const code_name* c = find_code(code);
            const std::string detail = "twilio " + std::string(state) +
                                       (code != 0 ? ": " + code_detail(code) : std::string());
            sms::set_status(out, HOTLINE_STATUS_FAILED, c != nullptr && c->permanent ? 1 : 0, sid,
                            detail);
            return;
        }
        // queued, accepted, scheduled, sending, sent, receiving, read, or unknown
        sms::set_status(out, HOTLINE_STATUS_IGNORE, 0, sid, "");
    } catch (...) {
        out->state = HOTLINE_STATUS_IGNORE;
    }
}

void twilio_destroy(hotline_channel* ch) noexcept {
    if (ch != nullptr) {
        sodium_memzero(ch->auth_token.data(), ch->auth_token.size());
        delete ch;
    }
}

const hotline_channel_v1 twilio_entry = {
    sizeof(hotline_channel_v1),
    "twilio",
    twilio_create,
    twilio_validate_address,
    twilio_build,
    twilio_free_request,
    twilio_classify,
    twilio_destroy,
    {},
    HOTLINE_CHANNEL_SMS,
    twilio_parse_status,
};

}  // namespace

extern "C" HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    return hotline_plugin_support::pick_abi_v1(offered, n);
}

extern "C" HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &twilio_entry;
}
