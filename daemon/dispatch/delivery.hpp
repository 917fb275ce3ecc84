// Delivery-status callbacks: the status_url an SMS plugin hands its provider
// (<public_url>/v1/delivery/<channel>/<notification id>/<token>) and the token that makes the
// URL its own authentication. token = keyed BLAKE2b over channel and id under a subkey of
// the storage key (context "hl-dlvry"), 16 bytes as 32 hex digits. A rekey changes it:
// callbacks for messages sent before a rekey are refused (403).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.hpp"

namespace hotline::dispatch {

inline constexpr std::string_view delivery_key_context = "hl-dlvry";
inline constexpr std::size_t delivery_token_hex = 32;

// The delivery subkey of the storage key.
[[nodiscard]] std::shared_ptr<const core::crypto::key> delivery_key(
    const core::crypto::key& storage_key);

[[nodiscard]] std::string delivery_token(const core::crypto::key& key, std::string_view channel,
                                         std::int64_t notification_id);

// Constant-time check of a token from a callback's path.
[[nodiscard]] bool delivery_token_ok(const core::crypto::key& key, std::string_view channel,
                                     std::int64_t notification_id, std::string_view token);

// "" when public_url is empty (the provider could not reach us).
[[nodiscard]] std::string status_url(const std::string& public_url, const core::crypto::key& key,
                                     std::string_view channel, std::int64_t notification_id);

}  // namespace hotline::dispatch
