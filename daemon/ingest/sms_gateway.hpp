// The inbound side of each SMS gateway (Twilio, Vonage, Kannel, SMSSync): checks that a
// request came from the configured gateway (signature, token, secret, peer address) and
// reads it into an ingest::sms_message; plus the answers each gateway expects. Pure: no
// I/O, no clock of its own, no logging; the HTTP endpoint (http/endpoints/sms) and
// `hotlinectl ingest --dry-run --gateway` call it with the request they have.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "ingest/sms_message.hpp"

namespace hotline::ingest {

// Decoded text longer than this is refused (413): an SMS is at most a few hundred bytes,
// even a long concatenated one stays far below.
inline constexpr std::size_t max_sms_text = 16 * 1024;
// A Vonage signed request's `timestamp` may differ from now by at most this (replays).
inline constexpr std::int64_t vonage_signature_window_s = 5 * 60;

struct gateway_request {
    std::string method;  // "GET", "POST"
    std::string target;  // path and query as received ("/v1/sms/x?from=..."), percent-encoded
    std::vector<std::pair<std::string, std::string>> headers;  // names in any case
    std::string body;
    std::string peer;       // the client's address ("127.0.0.1", "::1")
    std::int64_t now_ms{};  // unix ms: received_at, Vonage's timestamp window

    [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

// Why a request was not taken. `reason` is the log's and the metric's code (no input in it).
struct gateway_rejection {
    unsigned status{403};  // 403 a failed check, 400 malformed, 413 too long, 415 media type
    std::string reason;    // signature_missing, signature_invalid, ...
    std::string message;   // for the answer body; never quotes the request
};

struct gateway_result {
    enum class kind : std::uint8_t { message, rejected, poll };
    kind what{kind::rejected};
    sms_message sms;              // kind::message
    gateway_rejection rejection;  // kind::rejected
};

// Reads one request of the `kind: sms` source `src` (its sms.gateway says how).
[[nodiscard]] gateway_result parse_gateway_request(const config::source_config& src,
                                                   const gateway_request& req);

// What is sent back: the status, the body and its media type.
struct gateway_answer {
    unsigned status{200};
    std::string body;
    std::string content_type;
    unsigned retry_after{0};  // seconds; 0: no Retry-After
};

// The answer once the SMS (or part) is committed, or was a known message id: Twilio 200
// with an empty TwiML <Response/> (never a <Message>: no reply to the reporter), Vonage 204,
// Kannel 200 with an empty body, SMSSync {"payload":{"success":true,"error":null}}.
[[nodiscard]] gateway_answer accepted_answer(const config::sms_source& cfg);
// A refused check or a malformed request (SMSSync: its failure payload).
[[nodiscard]] gateway_answer rejected_answer(const config::sms_source& cfg,
                                             const gateway_rejection& r);
// Not taken now (rate limit 429, full queue or a failed commit 503): retry later.
[[nodiscard]] gateway_answer retry_answer(const config::sms_source& cfg, unsigned status,
                                          unsigned retry_after_s);
// SMSSync's task poll (GET ?task=send): nothing to send from here.
[[nodiscard]] gateway_answer poll_answer(const config::sms_source& cfg);

// The `kind: sms` source whose path `path` (no query) names: its own path, or for a Vonage
// source with a token, `<path>/<segment>` (the segment is checked by the parser). nullptr
// when none.
[[nodiscard]] const config::source_config* find_sms_source(const config::config& cfg,
                                                           std::string_view path);

// The pieces, for tests and the fuzz targets.
namespace gateway_detail {
// Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + k1 + v1 + k2 + v2 ...)) with
// the POST parameters sorted by name (then value).
[[nodiscard]] std::string twilio_signature(std::string_view auth_token, std::string_view url,
                                           std::vector<std::pair<std::string, std::string>> params);
// Vonage's `sig`: over "&k=v" of every parameter but sig, sorted by name, with '&' and '='
// in values replaced by '_'; md5hash = md5(that + secret), else HMAC-<method>(secret,
// that); lower-case hex.
[[nodiscard]] std::string vonage_signature(std::string_view method, std::string_view secret,
                                           std::vector<std::pair<std::string, std::string>> params);
// Kannel's UDH (%u) as bytes: the concatenation IE (00: 8-bit ref, 08: 16-bit ref), if any.
[[nodiscard]] std::optional<sms_message::part_info> udh_part(std::string_view udh);
// UTF-16BE bytes to UTF-8; unpaired surrogates and an odd last byte become U+FFFD.
[[nodiscard]] std::string utf16be_to_utf8(std::string_view bytes);
// Invalid UTF-8 repaired (each bad byte U+FFFD), NULs removed.
[[nodiscard]] std::string clean_text(std::string_view bytes);
}  // namespace gateway_detail

}  // namespace hotline::ingest
