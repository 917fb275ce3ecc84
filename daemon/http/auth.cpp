#include "http/auth.hpp"
#include "core/crypto.hpp"

#include <cstdint>

#include <sodium.h>

namespace hotline::http {
namespace {

void hash(std::string_view in, unsigned char* out, std::size_t out_len) {
    crypto_generichash(out, out_len, reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                       nullptr, 0);
}

// The index of the entry whose hash is `presented`, or entries.size(): the same work
// whichever entry (if any) matches (a branch-free select, no early exit).
template <class Entry>
std::size_t find_hash(const std::array<unsigned char, 32>& presented,
                      const std::vector<Entry>& entries) {
    std::size_t found = entries.size();
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto equal = static_cast<std::size_t>(
            sodium_memcmp(presented.data(), entries[i].hash.data(), presented.size()) == 0);
        const std::size_t mask = std::size_t{0} - equal;
        found = (i & mask) | (found & ~mask);
    }
    return found;
}

}  // namespace

bool same_token(std::string_view presented, std::string_view expected) {
    core::crypto::ensure_init();
    std::array<unsigned char, 32> a{};
    std::array<unsigned char, 32> b{};
    hash(presented, a.data(), a.size());
    hash(expected, b.data(), b.size());
    return !expected.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

token_checker::token_checker() {
    core::crypto::ensure_init();  // picks the fastest implementations
}

void token_checker::rebuild(const std::shared_ptr<const config::config>& cfg) {
    entries_.clear();
    cfg_ = cfg;
    if (!cfg_) {
        return;
    }
    for (const auto& source : cfg_->sources) {
        if (source.kind != "webhook") {
            continue;
        }
        for (const auto& token : source.tokens) {
            if (token.value.empty()) {
                continue;  // an empty token file must not let an empty token in
            }
            entry e{};
            hash(token.value, e.hash.data(), e.hash.size());
            e.source = &source.name;
            entries_.push_back(e);
        }
    }
}

const std::string* token_checker::authenticate(std::string_view token,
                                               const std::shared_ptr<const config::config>& cfg) {
    if (cfg != cfg_) {
        rebuild(cfg);
    }
    digest presented{};
    hash(token, presented.data(), presented.size());
    const std::size_t found = find_hash(presented, entries_);
    if (token.empty() || found == entries_.size()) {
        return nullptr;
    }
    return entries_[found].source;
}

person_checker::person_checker() {
    core::crypto::ensure_init();
}

void person_checker::rebuild(const std::shared_ptr<const config::config>& cfg) {
    entries_.clear();
    cfg_ = cfg;
    if (!cfg_) {
        return;
    }
    const auto add = [this](const std::vector<domain::person>& people, bool admin) {
        for (const auto& p : people) {
            if (p.api_token.empty()) {
                continue;  // no token: no API access, and an empty token must not match
            }
            entry e{};
            hash(p.api_token, e.hash.data(), e.hash.size());
            e.who = &p;
            e.admin = admin;
            entries_.push_back(e);
        }
    };
    add(cfg_->admins, true);
    add(cfg_->responders, false);
}

std::optional<api_caller> person_checker::authenticate(
    std::string_view token, const std::shared_ptr<const config::config>& cfg) {
    if (cfg != cfg_) {
        rebuild(cfg);
    }
    digest presented{};
    hash(token, presented.data(), presented.size());
    const std::size_t found = find_hash(presented, entries_);
    if (token.empty() || found == entries_.size()) {
        return std::nullopt;
    }
    const entry& e = entries_[found];
    return api_caller{std::string(e.admin ? "admin:" : "responder:") + e.who->id, e.admin, e.who,
                      cfg_};
}

}  // namespace hotline::http
