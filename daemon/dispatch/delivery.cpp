#include "dispatch/delivery.hpp"

#include <sodium.h>

namespace hotline::dispatch {

std::shared_ptr<const core::crypto::key> delivery_key(const core::crypto::key& storage_key) {
    return std::make_shared<const core::crypto::key>(
        core::crypto::derive_key(storage_key, 1, delivery_key_context));
}

std::string delivery_token(const core::crypto::key& key, std::string_view channel,
                           std::int64_t notification_id) {
    std::string data{channel};
    data.push_back('\0');  // channel names cannot hold NUL: "a"+"12" never equals "a1"+"2"
    data += std::to_string(notification_id);
    return core::crypto::keyed_hash_hex(key, data, delivery_token_hex / 2);
}

bool delivery_token_ok(const core::crypto::key& key, std::string_view channel,
                       std::int64_t notification_id, std::string_view token) {
    const std::string want = delivery_token(key, channel, notification_id);
    if (token.size() != want.size()) {
        return false;
    }
    return sodium_memcmp(want.data(), token.data(), want.size()) == 0;
}

std::string status_url(const std::string& public_url, const core::crypto::key& key,
                       std::string_view channel, std::int64_t notification_id) {
    if (public_url.empty()) {
        return {};
    }
    std::string base = public_url;
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    return base + "/v1/delivery/" + std::string{channel} + "/" + std::to_string(notification_id) +
           "/" + delivery_token(key, channel, notification_id);
}

}  // namespace hotline::dispatch
