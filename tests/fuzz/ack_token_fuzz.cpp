// libFuzzer target for the signed acknowledgement link's token (dispatch/ack_link), the
// path segment anyone can send to GET/POST /v1/ack/{token}. The first byte picks a mode:
//   even: the rest is a token as received: checked under a fixed key; it must be refused
//         (nobody without the key makes a MAC), without a crash or a read past its end;
//   odd:  the rest makes a genuine token (8 bytes case id, 8 bytes expiry, then the target),
//         which must round-trip; then one character of it, chosen by the input, is
//         changed, and the changed token must be refused.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "dispatch/ack_link.hpp"
#include "fuzz_support.hpp"

namespace {

const hotline::core::crypto::key& fixed_key() {
    static const auto storage = [] {
        unsigned char bytes[hotline::core::crypto::key_bytes];
        std::memset(bytes, 0x5a, sizeof bytes);
        return hotline::core::crypto::key::from_bytes(bytes);
    }();
    static const auto key = hotline::dispatch::ack_key(storage);
    return *key;
}

std::int64_t read_i64(std::string_view in) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8 && i < in.size(); ++i) {
        v = (v << 8U) | static_cast<unsigned char>(in[i]);
    }
    return static_cast<std::int64_t>(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    if (size == 0) {
        return 0;
    }
    const auto& key = fixed_key();
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::int64_t now = 1'790'000'000'000;
    if ((data[0] & 1U) == 0) {
        require(!dispatch::check_ack_token(key, in, now).has_value());
        return 0;
    }
    if (in.size() < 17) {
        return 0;
    }
    const auto case_id = read_i64(in.substr(0, 8));
    const auto expires = read_i64(in.substr(8, 8));
    const auto target = in.substr(16, dispatch::ack_max_target);
    const auto token = dispatch::make_ack_token(key, case_id, target, expires);
    require(token.size() <= dispatch::ack_max_token);
    const auto c = dispatch::check_ack_token(key, token, now);
    if (case_id <= 0 || target.empty()) {
        require(!c.has_value());
        return 0;
    }
    require(c.has_value());
    require(c->case_id == case_id && c->expires_at == expires && c->target == target);
    require(c->expired == (now >= expires));
    // One changed character: refused (another spelling of the same bytes too).
    const auto pos = static_cast<std::size_t>(data[0] >> 1U) % token.size();
    auto changed = token;
    changed[pos] = changed[pos] == 'A' ? 'B' : 'A';
    require(!dispatch::check_ack_token(key, changed, now).has_value());
    return 0;
}
