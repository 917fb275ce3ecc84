// Bearer token check for webhook sources, in constant time with respect to the tokens:
// the presented token and every configured one are hashed (BLAKE2b) and compared with
// sodium_memcmp against all of them, no early exit, so neither a token's bytes nor which
// source matched shows in the timing.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"

namespace hotline::http {

// Whether `presented` is `expected`, in time independent of where they differ (both are
// hashed first, then compared with sodium_memcmp).
[[nodiscard]] bool same_token(std::string_view presented, std::string_view expected);

class token_checker {
public:
    token_checker();

    // The name of the webhook source `token` belongs to in `cfg`, or nullptr. The pointer
    // stays valid until the next call. Hashes of the configured tokens are cached per
    // config object and recomputed after a reload.
    [[nodiscard]] const std::string* authenticate(std::string_view token,
                                                  const std::shared_ptr<const config::config>& cfg);

private:
    using digest = std::array<unsigned char, 32>;
    struct entry {
        digest hash;
        const std::string* source;
    };
    void rebuild(const std::shared_ptr<const config::config>& cfg);

    std::shared_ptr<const config::config> cfg_;  // kept alive: entries point into it
    std::vector<entry> entries_;
};

}  // namespace hotline::http
