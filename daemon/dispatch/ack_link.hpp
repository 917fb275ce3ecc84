// The signed acknowledgement link every alert carries (<public_url>/v1/ack/<token>,
// docs/escalation.md "Acknowledging"): the token is the link's own authentication, so the
// page needs no login and works on any phone.
//
// token = base64url (no padding) of
//   [0]        format version (1)
//   [1..8]     case id, big-endian
//   [9..16]    expiry, unix ms, big-endian
//   [17..n-33] the target ("responder:alice"), 1..ack_max_target bytes
//   [n-32..]   keyed BLAKE2b-256 of the bytes before it, under a subkey of the storage key
//              (context "hl-acklk")
// A rekey changes the key: links sent before it are refused (404, as a forged one). The
// check is constant-time on the MAC and accepts only the canonical encoding, so one token
// has exactly one spelling (the single-use key is the SHA-256 of its text).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto.hpp"

namespace hotline::dispatch {

inline constexpr std::string_view ack_key_context = "hl-acklk";
inline constexpr std::size_t ack_mac_bytes = 32;
// A target is "<kind>:<id>" with an id of at most 128 bytes (config identifiers):
// "responder:" + 128 is 138. 143 makes the longest token 256 characters, the route
// table's longest path segment (http::max_param_size).
inline constexpr std::size_t ack_max_target = 143;
// The longest token text a check looks at: the longest valid token (unpadded base64url).
inline constexpr std::size_t ack_max_token =
    ((1 + 8 + 8 + ack_max_target + ack_mac_bytes) * 4 + 2) / 3;

// The ack-link subkey of the storage key.
[[nodiscard]] std::shared_ptr<const core::crypto::key> ack_key(
    const core::crypto::key& storage_key);

// A token for `target` to act on case `case_id` until `expires_at_ms`. `target` must be
// 1..ack_max_target bytes (a longer one is cut: the check then names a target that does
// not exist, and the page refuses it).
[[nodiscard]] std::string make_ack_token(const core::crypto::key& key, std::int64_t case_id,
                                         std::string_view target, std::int64_t expires_at_ms);

struct ack_claim {
    std::int64_t case_id{};
    std::string target;
    std::int64_t expires_at{};  // unix ms
    bool expired{false};        // now_ms >= expires_at
};

// The claim of a genuine token (expired or not); nullopt when it is forged, made with
// another key, malformed, not canonical base64url, or longer than ack_max_token.
[[nodiscard]] std::optional<ack_claim> check_ack_token(const core::crypto::key& key,
                                                       std::string_view token, std::int64_t now_ms);

// The single-use key of a token (store::case_action::once_key): hex SHA-256 of its text.
[[nodiscard]] std::string ack_once_key(std::string_view token);

// "<public_url>/v1/ack/<token>"; "" when public_url is empty (no link: the alert says to
// reply instead).
[[nodiscard]] std::string ack_url(const std::string& public_url, const core::crypto::key& key,
                                  std::int64_t case_id, std::string_view target,
                                  std::int64_t expires_at_ms);

}  // namespace hotline::dispatch
