#include "ingest/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

#include <sodium.h>

#include "core/crypto.hpp"

namespace hotline::ingest {

static_assert(crypto_shorthash_BYTES == sizeof(std::uint64_t));
static_assert(crypto_shorthash_KEYBYTES == 16);

bool token_bucket::ready(const config::rate_limit& limit, std::int64_t now_ms) {
    const auto burst = static_cast<double>(limit.burst);
    if (tokens < 0) {
        tokens = burst;
    } else if (now_ms > updated_ms) {
        tokens = std::min(burst,
                          tokens + limit.rate * static_cast<double>(now_ms - updated_ms) / 1000.0);
    }
    updated_ms = std::max(updated_ms, now_ms);
    return tokens >= 1.0;
}

std::int64_t token_bucket::wait_ms(const config::rate_limit& limit) const {
    const double missing = 1.0 - std::max(tokens, 0.0);
    return static_cast<std::int64_t>(std::ceil(missing * 1000.0 / limit.rate));
}

rate_limiter::rate_limiter(std::size_t max_senders)
    : max_senders_(std::max<std::size_t>(1, max_senders)) {
    core::crypto::ensure_init();
    randombytes_buf(hash_key_.data(), hash_key_.size());
}

rate_limiter::sender_key rate_limiter::key_of(const std::string& source,
                                              std::string_view sender) const {
    // The source name and a NUL first, so one sender has a bucket per source.
    std::string input;
    input.reserve(source.size() + 1 + sender.size());
    input.append(source).push_back('\0');
    input.append(sender);
    sender_key out = 0;
    std::array<unsigned char, crypto_shorthash_BYTES> hash{};
    crypto_shorthash(hash.data(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), hash_key_.data());
    sodium_memzero(input.data(), input.size());
    for (const unsigned char b : hash) {
        out = (out << 8U) | b;
    }
    return out;
}

token_bucket& rate_limiter::sender_bucket(sender_key key) {
    if (const auto it = senders_.find(key); it != senders_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->bucket;
    }
    if (senders_.size() >= max_senders_) {
        senders_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(sender_entry{key, {}});
    senders_.emplace(key, lru_.begin());
    return lru_.front().bucket;
}

std::optional<rate_limiter::limited> rate_limiter::admit(const std::string& source,
                                                         std::string_view sender,
                                                         const config::rate_limits& limits,
                                                         std::int64_t now_ms) {
    const auto seconds = [](std::int64_t ms) {
        return std::max<std::int64_t>(1, (ms + 999) / 1000);
    };
    token_bucket* by_sender = nullptr;
    if (limits.sender.enabled() && !sender.empty()) {
        by_sender = &sender_bucket(key_of(source, sender));
        if (!by_sender->ready(limits.sender, now_ms)) {
            return limited{"sender", seconds(by_sender->wait_ms(limits.sender))};
        }
    }
    if (limits.source.enabled()) {
        auto it = sources_.find(source);
        if (it == sources_.end()) {
            it = sources_.emplace(source, token_bucket{}).first;
        }
        if (!it->second.ready(limits.source, now_ms)) {
            return limited{"source", seconds(it->second.wait_ms(limits.source))};
        }
        it->second.take();
    }
    if (by_sender != nullptr) {
        by_sender->take();
    }
    return std::nullopt;
}

}  // namespace hotline::ingest
