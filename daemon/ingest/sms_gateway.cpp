#include "ingest/sms_gateway.hpp"

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "core/cidr.hpp"
#include "core/crypto.hpp"
#include "core/form.hpp"
#include "core/text.hpp"
#include "core/utf8.hpp"
#include "ingest/phone.hpp"

namespace hotline::ingest {

using fields = std::vector<std::pair<std::string, std::string>>;

std::string_view gateway_request::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers) {
        if (core::iequals(k, name)) {
            return v;
        }
    }
    return {};
}

namespace gateway_detail {
namespace {

constexpr char32_t replacement = 0xFFFD;

std::string to_hex(const unsigned char* p, std::size_t n) {
    std::string out(n * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), p, n);
    out.pop_back();
    return out;
}

template <class Ctx, auto SetKey, auto Update, auto Digest, std::size_t Size>
std::string hmac_hex(std::string_view key, std::string_view data) {
    Ctx ctx;
    SetKey(&ctx, key.size(), reinterpret_cast<const std::uint8_t*>(key.data()));
    Update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
    std::array<unsigned char, Size> out{};
    Digest(&ctx, out.size(), out.data());
    return to_hex(out.data(), out.size());
}

}  // namespace

std::string twilio_signature(std::string_view auth_token, std::string_view url, fields params) {
    std::sort(params.begin(), params.end());
    std::string data(url);
    for (const auto& [k, v] : params) {
        data += k;
        data += v;
    }
    hmac_sha1_ctx ctx;
    hmac_sha1_set_key(&ctx, auth_token.size(),
                      reinterpret_cast<const std::uint8_t*>(auth_token.data()));
    hmac_sha1_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
    std::array<unsigned char, SHA1_DIGEST_SIZE> mac{};
    hmac_sha1_digest(&ctx, mac.size(), mac.data());
    std::string out(sodium_base64_ENCODED_LEN(mac.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), mac.data(), mac.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

std::string vonage_signature(std::string_view method, std::string_view secret, fields params) {
    std::sort(params.begin(), params.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string data;
    for (auto& [k, v] : params) {
        if (k == "sig") {
            continue;
        }
        std::replace(v.begin(), v.end(), '&', '_');
        std::replace(v.begin(), v.end(), '=', '_');
        data += '&';
        data += k;
        data += '=';
        data += v;
    }
    if (method == "md5hash") {
        data += secret;
        md5_ctx ctx;
        md5_init(&ctx);
        md5_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
        std::array<unsigned char, MD5_DIGEST_SIZE> out{};
        md5_digest(&ctx, out.size(), out.data());
        return to_hex(out.data(), out.size());
    }
    if (method == "md5") {
        return hmac_hex<hmac_md5_ctx, hmac_md5_set_key, hmac_md5_update, hmac_md5_digest,
                        MD5_DIGEST_SIZE>(secret, data);
    }
    if (method == "sha1") {
        return hmac_hex<hmac_sha1_ctx, hmac_sha1_set_key, hmac_sha1_update, hmac_sha1_digest,
                        SHA1_DIGEST_SIZE>(secret, data);
    }
    if (method == "sha256") {
        return hmac_hex<hmac_sha256_ctx, hmac_sha256_set_key, hmac_sha256_update,
                        hmac_sha256_digest, SHA256_DIGEST_SIZE>(secret, data);
    }
    return hmac_hex<hmac_sha512_ctx, hmac_sha512_set_key, hmac_sha512_update, hmac_sha512_digest,
                    SHA512_DIGEST_SIZE>(secret, data);
}

std::optional<sms_message::part_info> udh_part(std::string_view udh) {
    if (udh.empty()) {
        return std::nullopt;
    }
    const auto byte = [&udh](std::size_t i) { return static_cast<unsigned char>(udh[i]); };
    const std::size_t length = byte(0);
    const std::size_t end = std::min(udh.size(), length + 1);
    std::size_t i = 1;
    while (i + 2 <= end) {
        const unsigned iei = byte(i);
        const std::size_t len = byte(i + 1);
        const std::size_t data = i + 2;
        if (data + len > end) {
            break;
        }
        if ((iei == 0x00 && len == 3) || (iei == 0x08 && len == 4)) {
            const unsigned ref = iei == 0x00 ? byte(data) : (byte(data) << 8U) | byte(data + 1);
            const unsigned total = byte(data + len - 2);
            const unsigned number = byte(data + len - 1);
            if (total < 1 || number < 1 || number > total) {
                return std::nullopt;
            }
            return sms_message::part_info{std::to_string(ref), total, number};
        }
        i = data + len;
    }
    return std::nullopt;
}

std::string utf16be_to_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 3 / 2);
    const auto unit = [&bytes](std::size_t i) -> char32_t {
        return (static_cast<unsigned char>(bytes[i]) << 8U) |
               static_cast<unsigned char>(bytes[i + 1]);
    };
    std::size_t i = 0;
    while (i + 1 < bytes.size()) {
        const char32_t u = unit(i);
        i += 2;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 < bytes.size()) {
                const char32_t low = unit(i);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    i += 2;
                    core::append_utf8(out, 0x10000 + ((u - 0xD800) << 10U) + (low - 0xDC00));
                    continue;
                }
            }
            core::append_utf8(out, replacement);
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            core::append_utf8(out, replacement);
        } else if (u != 0) {
            core::append_utf8(out, u);
        }
    }
    if (i < bytes.size()) {
        core::append_utf8(out, replacement);
    }
    return out;
}

std::string clean_text(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        std::size_t next = pos;
        const char32_t c = core::decode_utf8(bytes, next);
        if (c == core::invalid_code_point) {
            core::append_utf8(out, replacement);
            ++pos;
            continue;
        }
        if (c != 0) {
            out.append(bytes.substr(pos, next - pos));
        }
        pos = next;
    }
    return out;
}

}  // namespace gateway_detail

namespace {

using gateway_detail::clean_text;

gateway_result reject(unsigned status, std::string reason, std::string message) {
    gateway_result r;
    r.what = gateway_result::kind::rejected;
    r.rejection = {status, std::move(reason), std::move(message)};
    return r;
}

// Equal secrets, in time independent of where they differ (and of their lengths: the
// digests are compared).
bool same_secret(std::string_view given, std::string_view expected) {
    const auto a = core::crypto::sha256_hex(given);
    const auto b = core::crypto::sha256_hex(expected);
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

std::string_view media_type(std::string_view content_type) {
    return core::trim(content_type.substr(0, content_type.find(';')));
}

// The request's parameters: the query's, then a form or JSON body's (POST).
struct request_fields {
    std::string path;
    std::string query;  // as received, without '?'
    fields query_fields;
    fields body_fields;
    bool json_body{false};
};

std::optional<gateway_result> read_fields(const gateway_request& req, bool json_allowed,
                                          request_fields& out) {
    const auto q = req.target.find('?');
    out.path = req.target.substr(0, q);
    out.query = q == std::string::npos ? std::string{} : req.target.substr(q + 1);
    auto query = core::parse_form(out.query);
    if (!query) {
        return reject(400, "bad_query", "the query string is malformed");
    }
    out.query_fields = std::move(*query);
    if (req.method != "POST" || req.body.empty()) {
        return std::nullopt;
    }
    const auto type = media_type(req.header("Content-Type"));
    if (core::iequals(type, "application/x-www-form-urlencoded")) {
        auto body = core::parse_form(req.body);
        if (!body) {
            return reject(400, "bad_form", "the form body is malformed");
        }
        out.body_fields = std::move(*body);
        return std::nullopt;
    }
    if (json_allowed && core::iequals(type, "application/json")) {
        const auto j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) {
            return reject(400, "bad_json", "the body is not a JSON object");
        }
        for (const auto& [k, v] : j.items()) {
            if (v.is_string()) {
                out.body_fields.emplace_back(k, v.get<std::string>());
            } else if (v.is_number() || v.is_boolean()) {
                out.body_fields.emplace_back(k, v.dump());
            }
        }
        out.json_body = true;
        return std::nullopt;
    }
    return reject(415, "unsupported_media_type",
                  json_allowed ? "Content-Type must be application/x-www-form-urlencoded or "
                                 "application/json"
                               : "Content-Type must be application/x-www-form-urlencoded");
}

// A field of the body, else of the query.
const std::string* field(const request_fields& f, std::string_view name) {
    if (const auto* v = core::form_value(f.body_fields, name)) {
        return v;
    }
    return core::form_value(f.query_fields, name);
}

std::string field_or(const request_fields& f, std::string_view name) {
    const auto* v = field(f, name);
    return v == nullptr ? std::string{} : *v;
}

bool peer_allowed(const config::sms_source& cfg, std::string_view peer) {
    const auto address = core::parse_ip(peer);
    if (!address) {
        return false;
    }
    for (const auto& text : cfg.allowed_addresses) {
        if (const auto range = core::parse_cidr(text); range && core::contains(*range, *address)) {
            return true;
        }
    }
    return false;
}

// The common tail: numbers normalised, text cleaned and bounded.
std::optional<gateway_result> finish(const config::source_config& src, const gateway_request& req,
                                     std::string_view from, std::string_view to, std::string text,
                                     sms_message& m) {
    if (from.empty()) {
        return reject(400, "sender_missing", "the sender's number is missing");
    }
    if (text.size() > max_sms_text * 4) {
        return reject(413, "text_too_large", "the text is too long for an SMS");
    }
    m.text = clean_text(text);
    if (m.text.size() > max_sms_text) {
        return reject(413, "text_too_large", "the text is too long for an SMS");
    }
    m.source = src.name;
    m.gateway = src.sms.gateway;
    const auto sender = normalise_phone(from, src.sms.default_region);
    m.sender = clean_text(sender.text);
    if (m.sender.empty()) {  // only NULs or blanks
        return reject(400, "sender_missing", "the sender's number is missing");
    }
    m.sender_valid = sender.valid;
    m.country = sender.region;
    m.recipient = clean_text(normalise_phone(to, src.sms.default_region).text);
    m.received_at = req.now_ms;
    m.message_id = clean_text(m.message_id.substr(0, 128));
    return std::nullopt;
}

gateway_result message(sms_message m) {
    gateway_result r;
    r.what = gateway_result::kind::message;
    r.sms = std::move(m);
    return r;
}

std::optional<unsigned> small_number(std::string_view s) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v > 255) {
        return std::nullopt;
    }
    return v;
}

gateway_result twilio(const config::source_config& src, const gateway_request& req) {
    request_fields f;
    if (auto bad = read_fields(req, /*json_allowed=*/false, f)) {
        return std::move(*bad);
    }
    const std::string_view given = req.header("X-Twilio-Signature");
    if (given.empty()) {
        return reject(403, "signature_missing", "X-Twilio-Signature is missing");
    }
    // Twilio signs the URL it called: behind a proxy that is public_url, not ours.
    std::string url;
    if (!src.sms.public_url.empty()) {
        url = src.sms.public_url;
        if (!f.query.empty()) {
            url += '?' + f.query;
        }
    } else {
        url = "http://" + std::string(req.header("Host")) + req.target;
    }
    const auto expected =
        gateway_detail::twilio_signature(src.sms.auth_token.value, url, f.body_fields);
    if (given.size() != expected.size() ||
        sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
        return reject(403, "signature_invalid", "X-Twilio-Signature does not match");
    }
    sms_message m;
    m.message_id = field_or(f, "MessageSid");
    if (m.message_id.empty()) {
        m.message_id = field_or(f, "SmsSid");
    }
    if (m.message_id.empty()) {
        return reject(400, "message_id_missing", "MessageSid is missing");
    }
    for (const char* key : {"AccountSid", "FromCountry", "NumSegments", "NumMedia", "ToCountry"}) {
        if (const auto* v = field(f, key)) {
            m.details[key] = clean_text(*v);
        }
    }
    if (auto bad =
            finish(src, req, field_or(f, "From"), field_or(f, "To"), field_or(f, "Body"), m)) {
        return std::move(*bad);
    }
    if (m.country.empty()) {
        if (const auto* c = field(f, "FromCountry"); c != nullptr && c->size() == 2) {
            m.country = *c;
        }
    }
    return message(std::move(m));
}

gateway_result vonage(const config::source_config& src, const gateway_request& req) {
    const auto& cfg = src.sms;
    request_fields f;
    if (auto bad = read_fields(req, /*json_allowed=*/true, f)) {
        return std::move(*bad);
    }
    if (!cfg.token.value.empty()) {
        const std::string_view path = f.path;
        const std::string prefix = cfg.path + "/";
        if (!path.starts_with(prefix) ||
            !same_secret(path.substr(prefix.size()), cfg.token.value)) {
            return reject(403, "token_invalid", "the path's token is not this source's");
        }
    }
    if (!cfg.allowed_addresses.empty() && !peer_allowed(cfg, req.peer)) {
        return reject(403, "address_not_allowed", "the client address is not allowed");
    }
    // The signed parameters are those of the request: the body's when it has one.
    const fields& params = f.body_fields.empty() ? f.query_fields : f.body_fields;
    if (!cfg.signature_secret.value.empty()) {
        const auto* sig = core::form_value(params, "sig");
        if (sig == nullptr || sig->empty()) {
            return reject(403, "signature_missing", "sig is missing");
        }
        const auto expected = gateway_detail::vonage_signature(cfg.signature_method,
                                                               cfg.signature_secret.value, params);
        const auto given = lower(*sig);
        if (given.size() != expected.size() ||
            sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
            return reject(403, "signature_invalid", "sig does not match");
        }
        const auto* ts = core::form_value(params, "timestamp");
        std::int64_t t = 0;
        if (ts == nullptr ||
            std::from_chars(ts->data(), ts->data() + ts->size(), t).ec != std::errc{} ||
            t * 1000 < req.now_ms - vonage_signature_window_s * 1000 ||
            t * 1000 > req.now_ms + vonage_signature_window_s * 1000) {
            return reject(403, "timestamp_stale", "the signed timestamp is not within 5 minutes");
        }
    }
    sms_message m;
    m.message_id = field_or(f, "messageId");
    if (m.message_id.empty()) {
        m.message_id = field_or(f, "message_id");
    }
    const std::string type = field_or(f, "type");
    if (type == "binary") {
        return reject(400, "binary_unsupported", "binary SMS are not reports");
    }
    for (const char* key : {"type", "keyword", "message-timestamp", "api-key"}) {
        if (const auto* v = field(f, key); v != nullptr && std::string_view(key) != "api-key") {
            m.details[key] = clean_text(*v);
        }
    }
    if (field_or(f, "concat") == "true") {
        const auto total = small_number(field_or(f, "concat-total"));
        const auto part = small_number(field_or(f, "concat-part"));
        const std::string ref = field_or(f, "concat-ref");
        if (!total || !part || *part < 1 || *part > *total || ref.empty() || ref.size() > 64) {
            return reject(400, "bad_concat", "concat-ref, concat-total or concat-part is invalid");
        }
        m.part = {clean_text(ref), *total, *part};
    }
    std::string from = field_or(f, "msisdn");
    if (from.empty()) {
        from = field_or(f, "from");
    }
    if (auto bad = finish(src, req, from, field_or(f, "to"), field_or(f, "text"), m)) {
        return std::move(*bad);
    }
    return message(std::move(m));
}

std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80) {
            out += c;
        } else {
            out += static_cast<char>(0xC0 | (u >> 6U));
            out += static_cast<char>(0x80 | (u & 0x3FU));
        }
    }
    return out;
}

gateway_result kannel(const config::source_config& src, const gateway_request& req) {
    const auto& cfg = src.sms;
    request_fields f;
    if (auto bad = read_fields(req, /*json_allowed=*/false, f)) {
        return std::move(*bad);
    }
    if (!cfg.allowed_addresses.empty() && !peer_allowed(cfg, req.peer)) {
        return reject(403, "address_not_allowed", "the client address is not allowed");
    }
    if (!cfg.shared_secret.value.empty()) {
        const auto* secret = field(f, "secret");
        if (secret == nullptr) {
            return reject(403, "secret_missing", "the secret parameter is missing");
        }
        if (!same_secret(*secret, cfg.shared_secret.value)) {
            return reject(403, "secret_invalid", "the secret does not match");
        }
    }
    sms_message m;
    m.message_id = field_or(f, "id");
    const std::string coding = field_or(f, "coding");
    const std::string charset = lower(field_or(f, "charset"));
    const std::string raw = field_or(f, "text");
    std::string text;
    if (coding == "2" || charset == "utf-16be" || charset == "ucs-2" || charset == "utf-16") {
        text = gateway_detail::utf16be_to_utf8(raw);
    } else if (charset == "iso-8859-1" || charset == "latin1" || charset == "windows-1252") {
        text = latin1_to_utf8(raw);
    } else {
        text = raw;
    }
    if (!coding.empty()) {
        m.details["coding"] = clean_text(coding.substr(0, 8));
    }
    if (const auto* smsc = field(f, "smsc")) {
        m.details["smsc"] = clean_text(smsc->substr(0, 64));
    }
    if (const auto* udh = field(f, "udh"); udh != nullptr && !udh->empty()) {
        if (const auto part = gateway_detail::udh_part(*udh)) {
            m.part = *part;
        }
    }
    if (auto bad = finish(src, req, field_or(f, "from"), field_or(f, "to"), text, m)) {
        return std::move(*bad);
    }
    return message(std::move(m));
}

gateway_result smssync(const config::source_config& src, const gateway_request& req) {
    request_fields f;
    if (auto bad = read_fields(req, /*json_allowed=*/false, f)) {
        return std::move(*bad);
    }
    const auto* secret = field(f, "secret");
    if (secret == nullptr) {
        return reject(403, "secret_missing", "the secret is missing");
    }
    if (!same_secret(*secret, src.sms.shared_secret.value)) {
        return reject(403, "secret_invalid", "the secret does not match");
    }
    if (req.method == "GET" && field_or(f, "task") == "send") {
        gateway_result r;
        r.what = gateway_result::kind::poll;
        return r;
    }
    if (req.method != "POST") {
        return reject(400, "bad_request", "SMSSync posts messages");
    }
    sms_message m;
    m.message_id = field_or(f, "message_id");
    for (const char* key : {"sent_timestamp", "device_id"}) {
        if (const auto* v = field(f, key)) {
            m.details[key] = clean_text(v->substr(0, 64));
        }
    }
    if (auto bad = finish(src, req, field_or(f, "from"), field_or(f, "sent_to"),
                          field_or(f, "message"), m)) {
        return std::move(*bad);
    }
    return message(std::move(m));
}

std::string smssync_payload(bool success, std::string_view error) {
    nlohmann::json j;
    j["payload"]["success"] = success;
    j["payload"]["error"] = success ? nlohmann::json(nullptr) : nlohmann::json(std::string(error));
    return j.dump();
}

}  // namespace

gateway_result parse_gateway_request(const config::source_config& src, const gateway_request& req) {
    if (req.method != "GET" && req.method != "POST") {
        return reject(405, "method_not_allowed", "use GET or POST");
    }
    const std::string& g = src.sms.gateway;
    if (g == "twilio") {
        return twilio(src, req);
    }
    if (g == "vonage") {
        return vonage(src, req);
    }
    if (g == "kannel") {
        return kannel(src, req);
    }
    if (g == "smssync") {
        return smssync(src, req);
    }
    return reject(500, "unknown_gateway", "the source's gateway is unknown");
}

gateway_answer accepted_answer(const config::sms_source& cfg) {
    if (cfg.gateway == "twilio") {
        return {200, R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)", "text/xml",
                0};
    }
    if (cfg.gateway == "vonage") {
        return {204, "", "text/plain", 0};
    }
    if (cfg.gateway == "smssync") {
        return {200, smssync_payload(true, {}), "application/json", 0};
    }
    return {200, "", "text/plain", 0};
}

gateway_answer rejected_answer(const config::sms_source& cfg, const gateway_rejection& r) {
    if (cfg.gateway == "smssync") {
        return {r.status, smssync_payload(false, r.message), "application/json", 0};
    }
    return {r.status, r.message + "\n", "text/plain; charset=utf-8", 0};
}

gateway_answer retry_answer(const config::sms_source& cfg, unsigned status,
                            unsigned retry_after_s) {
    const std::string why = status == 429 ? "too many messages; retry later"
                                          : "the message could not be stored now; retry later";
    if (cfg.gateway == "smssync") {
        return {status, smssync_payload(false, why), "application/json", retry_after_s};
    }
    return {status, why + "\n", "text/plain; charset=utf-8", retry_after_s};
}

gateway_answer poll_answer(const config::sms_source& cfg) {
    nlohmann::json j;
    j["payload"]["task"] = "send";
    j["payload"]["secret"] = cfg.shared_secret.value;
    j["payload"]["messages"] = nlohmann::json::array();
    return {200, j.dump(), "application/json", 0};
}

const config::source_config* find_sms_source(const config::config& cfg, std::string_view path) {
    for (const auto& s : cfg.sources) {
        if (s.kind != "sms") {
            continue;
        }
        if (path == s.sms.path) {
            return &s;
        }
        if (!s.sms.token.value.empty() && path.size() > s.sms.path.size() + 1 &&
            path.starts_with(s.sms.path) && path[s.sms.path.size()] == '/' &&
            path.find('/', s.sms.path.size() + 1) == std::string_view::npos) {
            return &s;
        }
    }
    return nullptr;
}

}  // namespace hotline::ingest
