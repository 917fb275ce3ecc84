// Token buckets in front of the pipeline: one per source, one per sender of a source.
// Senders are kept by a keyed 64-bit hash (SipHash, a key drawn at startup), never by
// their phone number or address, and in a bounded LRU: a flood of made-up senders evicts
// the least recently seen buckets instead of growing memory (each of them still costs the
// source a token).
#pragma once
#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/model.hpp"

namespace hotline::ingest {

// `tokens` saved up, refilled at limit.rate per second up to limit.burst. A new bucket is
// full. Time that runs backwards (a wall clock step) refills nothing.
struct token_bucket {
    double tokens{-1};  // < 0: not used yet (full)
    std::int64_t updated_ms{0};

    // Refills to `now_ms`; true when a token is there (not taken).
    bool ready(const config::rate_limit& limit, std::int64_t now_ms);
    void take() { tokens -= 1; }
    // Milliseconds until a token is there (after ready() said no).
    [[nodiscard]] std::int64_t wait_ms(const config::rate_limit& limit) const;
};

class rate_limiter {
public:
    static constexpr std::size_t default_max_senders = 100'000;

    explicit rate_limiter(std::size_t max_senders = default_max_senders);

    struct limited {
        std::string_view limiter;  // "source" or "sender"
        std::int64_t retry_after_s{1};
    };

    // Takes a token from the source's bucket and, when `sender` is not empty, the sender's;
    // from neither when one of them is empty. Nothing when the report may go on.
    [[nodiscard]] std::optional<limited> admit(const std::string& source, std::string_view sender,
                                               const config::rate_limits& limits,
                                               std::int64_t now_ms);

    [[nodiscard]] std::size_t senders() const noexcept { return senders_.size(); }

private:
    using sender_key = std::uint64_t;
    struct sender_entry {
        sender_key key;
        token_bucket bucket;
    };
    [[nodiscard]] sender_key key_of(const std::string& source, std::string_view sender) const;
    token_bucket& sender_bucket(sender_key key);

    std::size_t max_senders_;
    std::array<unsigned char, 16> hash_key_{};
    std::map<std::string, token_bucket, std::less<>> sources_;  // bounded by the config
    std::list<sender_entry> lru_;                               // most recent first
    std::unordered_map<sender_key, std::list<sender_entry>::iterator> senders_;
};

}  // namespace hotline::ingest
