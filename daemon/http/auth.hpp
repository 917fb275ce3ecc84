// Bearer token checks for webhook sources (token_checker) and for people's API tokens
// (person_checker), in constant time with respect to the tokens:
// the presented token and every configured one are hashed (BLAKE2b) and compared with
// sodium_memcmp against all of them, no early exit, so neither a token's bytes nor which
// source matched shows in the timing.
#pragma once
#include <array>
#include <memory>
#include <optional>
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

// Who called a person-authenticated route (auth_kind::person_token).
struct api_caller {
    std::string target;  // "responder:<id>" or "admin:<id>"
    bool admin{false};
    const domain::person* who{nullptr};  // into `config`
    // The config the token was checked against, kept alive for the handler's whole run
    // (a reload during it must not free `who`).
    std::shared_ptr<const config::config> config;
};

// Bearer token check for people (responders' and admins' api_token_file), in constant time
// like token_checker: every configured token is compared, no early exit.
class person_checker {
public:
    person_checker();

    // The person `token` belongs to in `cfg`, or nothing. An admin who is also a responder
    // is the admin. Hashes are cached per config object and recomputed after a reload.
    [[nodiscard]] std::optional<api_caller> authenticate(
        std::string_view token, const std::shared_ptr<const config::config>& cfg);

private:
    using digest = std::array<unsigned char, 32>;
    struct entry {
        digest hash;
        const domain::person* who;
        bool admin;
    };
    void rebuild(const std::shared_ptr<const config::config>& cfg);

    std::shared_ptr<const config::config> cfg_;  // kept alive: entries point into it
    std::vector<entry> entries_;
};

}  // namespace hotline::http
