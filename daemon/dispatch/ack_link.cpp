#include "dispatch/ack_link.hpp"

#include <sodium.h>

#include <array>
#include <vector>

namespace hotline::dispatch {
namespace {

constexpr unsigned char token_version = 1;
constexpr std::size_t header_bytes = 1 + 8 + 8;
constexpr int b64_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

void put_u64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((v >> static_cast<unsigned>(shift)) & 0xFFU));
    }
}

std::uint64_t get_u64(std::string_view in) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        v = (v << 8U) | static_cast<unsigned char>(in[i]);
    }
    return v;
}

std::string mac_of(const core::crypto::key& key, std::string_view signed_part) {
    const std::string hex = core::crypto::keyed_hash_hex(key, signed_part, ack_mac_bytes);
    std::string raw(ack_mac_bytes, '\0');
    std::size_t len = 0;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(),
                       hex.size(), nullptr, &len, nullptr) != 0 ||
        len != ack_mac_bytes) {
        return {};  // keyed_hash_hex always gives 64 hex digits; never reached
    }
    return raw;
}

std::string to_base64url(std::string_view bytes) {
    std::string out(sodium_base64_encoded_len(bytes.size(), b64_variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), b64_variant);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

}  // namespace

std::shared_ptr<const core::crypto::key> ack_key(const core::crypto::key& storage_key) {
    return std::make_shared<const core::crypto::key>(
        core::crypto::derive_key(storage_key, 1, ack_key_context));
}

std::string make_ack_token(const core::crypto::key& key, std::int64_t case_id,
                           std::string_view target, std::int64_t expires_at_ms) {
    std::string raw;
    raw.reserve(header_bytes + ack_max_target + ack_mac_bytes);
    raw.push_back(static_cast<char>(token_version));
    put_u64(raw, static_cast<std::uint64_t>(case_id));
    put_u64(raw, static_cast<std::uint64_t>(expires_at_ms));
    raw += target.substr(0, ack_max_target);
    raw += mac_of(key, raw);
    return to_base64url(raw);
}

std::optional<ack_claim> check_ack_token(const core::crypto::key& key, std::string_view token,
                                         std::int64_t now_ms) {
    if (token.empty() || token.size() > ack_max_token) {
        return std::nullopt;
    }
    std::array<unsigned char, header_bytes + ack_max_target + ack_mac_bytes> buf{};
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(buf.data(), buf.size(), token.data(), token.size(), nullptr, &len, &end,
                          b64_variant) != 0 ||
        end != token.data() + token.size()) {
        return std::nullopt;
    }
    if (len < header_bytes + 1 + ack_mac_bytes || buf[0] != token_version) {
        return std::nullopt;
    }
    const std::string_view raw(reinterpret_cast<const char*>(buf.data()), len);
    const auto signed_part = raw.substr(0, len - ack_mac_bytes);
    const auto mac = raw.substr(len - ack_mac_bytes);
    const std::string want = mac_of(key, signed_part);
    if (want.size() != ack_mac_bytes ||
        sodium_memcmp(want.data(), mac.data(), ack_mac_bytes) != 0) {
        return std::nullopt;
    }
    // One spelling per token: libsodium refuses stray bits in the last character, and the
    // text must be what this encoder writes for these bytes.
    if (to_base64url(raw) != token) {
        return std::nullopt;
    }
    ack_claim c;
    c.case_id = static_cast<std::int64_t>(get_u64(raw.substr(1, 8)));
    c.expires_at = static_cast<std::int64_t>(get_u64(raw.substr(9, 8)));
    c.target = std::string(signed_part.substr(header_bytes));
    c.expired = now_ms >= c.expires_at;
    if (c.case_id <= 0) {
        return std::nullopt;  // never issued: case ids start at 1
    }
    return c;
}

std::string ack_once_key(std::string_view token) {
    return core::crypto::sha256_hex(token);
}

std::string ack_url(const std::string& public_url, const core::crypto::key& key,
                    std::int64_t case_id, std::string_view target, std::int64_t expires_at_ms) {
    if (public_url.empty()) {
        return {};
    }
    std::string base = public_url;
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    return base + "/v1/ack/" + make_ack_token(key, case_id, target, expires_at_ms);
}

}  // namespace hotline::dispatch
