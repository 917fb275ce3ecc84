// The vonage channel: one SMS through Vonage's (Nexmo's) SMS API (POST {api_url}/sms/json,
// api_key and api_secret in the form), the per-message status of its JSON answer
// classified, and delivery receipts (DLR) read back.
//
// C++ inside, a C ABI outside: every entry point catches everything, because an
// exception unwinding into the host's C frames is undefined behaviour.
#include <hotline/channel.h>

#include "../common/plugin_support.hpp"
#include "../common/sms_support.hpp"

#include <sodium.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#ifndef HOTLINE_VERSION
#define HOTLINE_VERSION "0"
#endif

struct hotline_channel {
    std::string api_key;
    std::string api_secret;
    std::string from;  // digits (a number without +) or an alphanumeric sender id
    std::string api_url{"https://rest.nexmo.com"};
};

namespace {

using hotline_plugin_support::copy_printable;
using hotline_plugin_support::guarded;
using hotline_plugin_support::guarded_classify;
using hotline_plugin_support::set_error;
using hotline_plugin_support::set_outcome;
using hotline_plugin_support::view_or_empty;
namespace sms = hotline_sms_support;

// The SMS API's messages[].status values (developer.vonage.com, "SMS API error codes").
enum class verdict { retry, permanent };
struct status_name {
    int code;
    const char* name;
    verdict v;
};
constexpr status_name statuses[] = {
    {1, "throttled", verdict::retry},
    {2, "missing parameters", verdict::permanent},
    {3, "invalid parameters", verdict::permanent},
    {4, "invalid credentials", verdict::permanent},
    {5, "internal error", verdict::retry},
    {6, "invalid message", verdict::permanent},
    {7, "number barred", verdict::permanent},
    {8, "partner account barred", verdict::permanent},
    {9, "partner quota violation", verdict::permanent},
    {10, "too many existing binds", verdict::retry},
    {11, "account not enabled for HTTP", verdict::permanent},
    {12, "message too long", verdict::permanent},
    {14, "invalid signature", verdict::permanent},
    {15, "invalid sender address", verdict::permanent},
    {22, "invalid network code", verdict::permanent},
    {23, "invalid callback URL", verdict::permanent},
    {29, "non-whitelisted destination", verdict::permanent},
    {32, "signature and API secret disallowed", verdict::permanent},
    {33, "number de-activated", verdict::permanent},
};

const status_name* find_status(int code) {
    for (const auto& s : statuses) {
        if (s.code == code) {
            return &s;
        }
    }
    return nullptr;
}

// DLR err-code values that mean the number itself will not take SMS.
struct dlr_code {
    int code;
    const char* name;
    bool permanent;
};
constexpr dlr_code dlr_codes[] = {
    {1, "unknown", false},
    {2, "absent subscriber (temporary)", false},
    {3, "absent subscriber (permanent)", true},
    {4, "call barred by user", true},
    {5, "portability error", false},
    {6, "anti-spam rejection", false},
    {7, "handset busy", false},
    {8, "network error", false},
    {9, "illegal number", true},
    {10, "illegal message", false},
    {11, "unroutable", false},
    {12, "destination unreachable", false},
    {13, "subscriber age restriction", true},
    {14, "number blocked by carrier", true},
    {15, "prepaid insufficient funds", false},
    {16, "gateway quota exceeded", false},
    {99, "general error", false},
};

const dlr_code* find_dlr_code(int code) {
    for (const auto& c : dlr_codes) {
        if (c.code == code) {
            return &c;
        }
    }
    return nullptr;
}

int small_number(std::string_view s) {
    return sms::all_digits(s) && s.size() < 6 ? std::stoi(std::string(s)) : -1;
}

// A from: a number in international format without "+" (Vonage's form), or an
// alphanumeric sender id of up to 11 characters.
std::string check_from(std::string_view from) {
    if (from.empty()) {
        return "from is empty";
    }
    if (from.front() == '+') {
        return "Vonage wants the number without the + (e.g. 447700900000)";
    }
    if (sms::all_digits(from)) {
        return from.size() >= 3 && from.size() <= 15 ? "" : "a sender number has 3 to 15 digits";
    }
    if (from.size() > 11) {
        return "an alphanumeric sender id has at most 11 characters";
    }
    for (char c : from) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) == 0 && c != ' ') {
            return "an alphanumeric sender id may only have letters, digits and spaces";
        }
    }
    return {};
}

hotline_channel* vonage_create(const hotline_kv* options, size_t n_options,
                               hotline_error* err) noexcept {
    return guarded(
        err, "out of memory", static_cast<hotline_channel*>(nullptr), [&]() -> hotline_channel* {
            auto ch = std::make_unique<hotline_channel>();
            for (std::size_t i = 0; i < n_options; ++i) {
                const std::string_view key = view_or_empty(options[i].key);
                const std::string_view value = view_or_empty(options[i].value);
                if (key == "api_key") {
                    const auto k = hotline_plugin_support::trim(value);
                    if (k.empty() || k.size() > 64 || !std::all_of(k.begin(), k.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) != 0;
                        })) {
                        set_error(err, key, "must be a Vonage API key (letters and digits)");
                        return nullptr;
                    }
                    ch->api_key = k;
                } else if (key == "api_secret") {
                    const auto s = hotline_plugin_support::trim(value);
                    if (s.empty()) {
                        set_error(err, key, "the API secret is empty");
                        return nullptr;
                    }
                    if (hotline_plugin_support::has_control(s)) {
                        set_error(err, key, "the API secret contains a control character");
                        return nullptr;
                    }
                    ch->api_secret = s;
                } else if (key == "from") {
                    if (const std::string why = check_from(value); !why.empty()) {
                        set_error(err, key, why);
                        return nullptr;
                    }
                    ch->from = value;
                } else if (key == "api_url") {
                    if (const std::string why = sms::check_base_url(value); !why.empty()) {
                        set_error(err, key, "api_url " + why);
                        return nullptr;
                    }
                    ch->api_url = sms::strip_trailing_slash(value);
                } else {
                    set_error(err, key,
                              "unknown option (known: api_key_file, api_secret_file, from, "
                              "api_url)");
                    return nullptr;
                }
            }
            if (ch->api_key.empty()) {
                set_error(err, "api_key", "api_key_file is required");
                return nullptr;
            }
            if (ch->api_secret.empty()) {
                set_error(err, "api_secret", "api_secret_file is required");
                return nullptr;
            }
            if (ch->from.empty()) {
                set_error(err, "from", "from is required (a number without + or a sender id)");
                return nullptr;
            }
            return ch.release();
        });
}

int vonage_validate_address(hotline_channel* /*ch*/, const char* address,
                            hotline_error* err) noexcept {
    return sms::validate_e164_address("vonage", address, err);
}

int vonage_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                 hotline_error* err) noexcept {
    return guarded(err, "out of memory while building the request", 1, [&] {
        const std::string_view to = view_or_empty(alert->address);
        if (const std::string why = sms::check_e164(to); !why.empty()) {
            set_error(err, "", "vonage address " + why);
            return 1;
        }
        sms::fields form{
            {"api_key", ch->api_key},
            {"api_secret", ch->api_secret},
            {"from", ch->from},
            {"to", std::string(to.substr(1))},
            {"text", std::string(view_or_empty(alert->body))},
            {"type", sms::is_ucs2(alert) ? "unicode" : "text"},
        };
        if (!sms::status_url_of(alert).empty()) {
            form.emplace_back("callback", alert->status_url);
        }
        const std::string_view id = view_or_empty(alert->notification_id);
        if (!id.empty() && id.size() <= 40) {
            form.emplace_back("client-ref", std::string(id));
        }
        sms::fill_http(out, ch->api_url + "/sms/json", "POST",
                       {{"Content-Type", "application/x-www-form-urlencoded"},
                        {"Accept", "application/json"},
                        {"User-Agent", std::string("hotline/") + HOTLINE_VERSION}},
                       sms::form_encode(form), "", "");
        return 0;
    });
}

void vonage_free_request(hotline_channel* /*ch*/, hotline_request* req) noexcept {
    if (req != nullptr && req->body != nullptr) {
        sodium_memzero(req->body, req->body_len);  // it carries api_secret
    }
    sms::free_http(req);
}

std::string json_string(const nlohmann::json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        return {};
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_number_integer()) {
        return it->dump();
    }
    return {};
}

void vonage_classify(hotline_channel* /*ch*/, const hotline_reply* reply,
                     hotline_outcome* out) noexcept {
    guarded_classify(out, [&] {
        out->provider_id[0] = '\0';
        out->retry_after_ms = 0;
        if (sms::classify_transport_error(reply, out, "vonage")) {
            return;
        }
        const long status = reply->status;
        const std::string http = "HTTP " + std::to_string(status);
        if (status == 429 || status == 408 || (status >= 500 && status < 600)) {
            set_outcome(out, HOTLINE_RETRY, "vonage " + http);
            out->retry_after_ms = sms::retry_after_ms(reply);
            return;
        }
        if (status == 401 || status == 403) {
            set_outcome(out, HOTLINE_RETRY, "vonage auth failed (" + http + ")");
            return;
        }
        if (status == 0) {
            set_outcome(out, HOTLINE_RETRY, "vonage: no HTTP status");
            return;
        }
        if (status != 200) {
            set_outcome(out, HOTLINE_PERMANENT, "vonage unexpected " + http);
            return;
        }
        const auto body = sms::body_of(reply);
        const auto doc = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
        const auto messages = doc.is_object() ? doc.find("messages") : doc.end();
        if (!doc.is_object() || messages == doc.end() || !messages->is_array() ||
            messages->empty() || !(*messages)[0].is_object()) {
            // 200 without the documented answer: we cannot know whether it was sent, and a
            // duplicate SMS is better than a lost alert.
            set_outcome(out, HOTLINE_RETRY, "vonage answered 200 without messages[]");
            return;
        }
        // One message per request (the host's body is already within max_segments, and
        // Vonage lists one entry per part it sent): the first failing entry decides.
        std::string first_id;
        for (const auto& m : *messages) {
            if (!m.is_object()) {
                continue;
            }
            const std::string st = json_string(m, "status");
            const int code = small_number(st);
            if (code == 0) {
                if (first_id.empty()) {
                    first_id = json_string(m, "message-id");
                }
                continue;
            }
            const status_name* s = find_status(code);
            const std::string text = sms::scrub(json_string(m, "error-text"), 100);
            std::string detail = "vonage status " + (code < 0 ? std::string("?") : st);
            detail += s != nullptr ? std::string(" ") + s->name : std::string();
            if (!text.empty()) {
                detail += ": " + text;
            }
            const bool retry = s == nullptr ? code < 0 : s->v == verdict::retry;
            set_outcome(out, retry ? HOTLINE_RETRY : HOTLINE_PERMANENT, detail);
            return;
        }
        set_outcome(out, HOTLINE_DELIVERED, "vonage accepted");
        copy_printable(out->provider_id, sizeof out->provider_id, first_id);
    });
}

void vonage_parse_status(hotline_channel* /*ch*/, const hotline_kv* params, size_t n_params,
                         hotline_status* out) noexcept {
    try {
        const std::string_view id = view_or_empty(sms::param(params, n_params, "messageId"));
        const std::string_view state = view_or_empty(sms::param(params, n_params, "status"));
        if (state == "delivered") {
            sms::set_status(out, HOTLINE_STATUS_DELIVERED, 0, id, "vonage delivered");
            return;
        }
        if (state == "failed" || state == "rejected" || state == "expired") {
            const std::string_view code_text =
                view_or_empty(sms::param(params, n_params, "err-code"));
            const int code = small_number(code_text);
            const dlr_code* c = find_dlr_code(code);
            std::string detail = "vonage " + std::string(state);
            if (code > 0) {
                detail += ": err-code " + std::to_string(code);
                if (c != nullptr) {
                    detail += std::string(" ") + c->name;
                }
            }
            sms::set_status(out, HOTLINE_STATUS_FAILED, c != nullptr && c->permanent ? 1 : 0, id,
                            detail);
            return;
        }
        // accepted, buffered, unknown
        sms::set_status(out, HOTLINE_STATUS_IGNORE, 0, id, "");
    } catch (...) {
        out->state = HOTLINE_STATUS_IGNORE;
    }
}

void vonage_destroy(hotline_channel* ch) noexcept {
    if (ch != nullptr) {
        sodium_memzero(ch->api_secret.data(), ch->api_secret.size());
        delete ch;
    }
}

const hotline_channel_v1 vonage_entry = {
    sizeof(hotline_channel_v1),
    "vonage",
    vonage_create,
    vonage_validate_address,
    vonage_build,
    vonage_free_request,
    vonage_classify,
    vonage_destroy,
    {},
    HOTLINE_CHANNEL_SMS,
    vonage_parse_status,
};

}  // namespace

extern "C" HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    return hotline_plugin_support::pick_abi_v1(offered, n);
}

extern "C" HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &vonage_entry;
}
