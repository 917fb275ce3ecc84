// dispatch/ack_link: the signed acknowledgement link's token (round trip, tampering,
// expiry, keys, malformed and oversized input, the single-use key and the URL).
#include <doctest/doctest.h>

#include <string>

#include "config/model.hpp"
#include "core/crypto.hpp"
#include "dispatch/ack_link.hpp"
#include "dispatch/templates.hpp"

namespace crypto = hotline::core::crypto;
using namespace hotline::dispatch;

namespace {

constexpr std::int64_t now = 1'790'000'000'000;  // unix ms
constexpr std::int64_t day = 86'400'000;

const crypto::key& storage_key() {
    static const crypto::key k = crypto::key::generate();
    return k;
}

const std::string b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

TEST_CASE("a token round-trips case, target and expiry, URL-safe and unguessable") {
    const auto key = ack_key(storage_key());
    const auto token = make_ack_token(*key, 42, "responder:alice", now + 7 * day);
    CHECK(token.find_first_not_of(b64url) == std::string::npos);
    // 1 + 8 + 8 + 15 + 32 bytes, unpadded base64url.
    CHECK(token.size() == 86);
    const auto c = check_ack_token(*key, token, now);
    REQUIRE(c.has_value());
    CHECK(c->case_id == 42);
    CHECK(c->target == "responder:alice");
    CHECK(c->expires_at == now + 7 * day);
    CHECK_FALSE(c->expired);
    // Deterministic for the same inputs, different for any other.
    CHECK(make_ack_token(*key, 42, "responder:alice", now + 7 * day) == token);
    CHECK(make_ack_token(*key, 43, "responder:alice", now + 7 * day) != token);
    CHECK(make_ack_token(*key, 42, "responder:alicf", now + 7 * day) != token);
    CHECK(make_ack_token(*key, 42, "responder:alice", now + 7 * day + 1) != token);
    // Large ids and a target at the limit.
    const std::string longest = "responder:" + std::string(ack_max_target - 10, 'z');
    const auto big = make_ack_token(*key, 9'000'000'000'000, longest, now + day);
    CHECK(big.size() <= ack_max_token);
    CHECK(big.size() <= 256);  // one path segment of the route table
    const auto cb = check_ack_token(*key, big, now);
    REQUIRE(cb.has_value());
    CHECK(cb->case_id == 9'000'000'000'000);
    CHECK(cb->target == longest);
}

TEST_CASE("expiry: expired from expires_at on, still genuine") {
    const auto key = ack_key(storage_key());
    const auto token = make_ack_token(*key, 7, "partner:ngo", now + 1000);
    const auto before = check_ack_token(*key, token, now + 999);
    REQUIRE(before.has_value());
    CHECK_FALSE(before->expired);
    const auto at = check_ack_token(*key, token, now + 1000);
    REQUIRE(at.has_value());
    CHECK(at->expired);
    const auto later = check_ack_token(*key, token, now + 365 * day);
    REQUIRE(later.has_value());
    CHECK(later->expired);
    CHECK(later->case_id == 7);
}

TEST_CASE("tampering with any character, or any byte, makes a token forged") {
    const auto key = ack_key(storage_key());
    const auto token = make_ack_token(*key, 42, "responder:alice", now + day);
    for (std::size_t i = 0; i < token.size(); ++i) {
        for (const char c : {'A', 'B', 'z', '-', '_', '0'}) {
            if (token[i] == c) {
                continue;
            }
            auto bad = token;
            bad[i] = c;
            INFO("position " << i << " as " << c);
            CHECK_FALSE(check_ack_token(*key, bad, now).has_value());
        }
    }
    // Truncated and extended tokens.
    for (std::size_t n = 0; n < token.size(); ++n) {
        CHECK_FALSE(check_ack_token(*key, token.substr(0, n), now).has_value());
    }
    CHECK_FALSE(check_ack_token(*key, token + "A", now).has_value());
    CHECK_FALSE(check_ack_token(*key, token + "AA", now).has_value());
    CHECK_FALSE(check_ack_token(*key, "A" + token, now).has_value());
}

TEST_CASE("another key (another storage key, a rekey, the delivery subkey) refuses it") {
    const auto key = ack_key(storage_key());
    const auto token = make_ack_token(*key, 42, "responder:alice", now + day);
    const crypto::key other_storage = crypto::key::generate();
    CHECK_FALSE(check_ack_token(*ack_key(other_storage), token, now).has_value());
    // Not the storage key itself, nor the delivery subkey of the same storage key.
    CHECK_FALSE(check_ack_token(storage_key(), token, now).has_value());
    const auto delivery = crypto::derive_key(storage_key(), 1, "hl-dlvry");
    CHECK_FALSE(check_ack_token(delivery, token, now).has_value());
    // The same storage key gives the same subkey (a restart keeps links valid).
    CHECK(check_ack_token(*ack_key(storage_key()), token, now).has_value());
}

TEST_CASE("malformed, hostile and oversized tokens are refused") {
    const auto key = ack_key(storage_key());
    for (const std::string& bad : std::vector<std::string>{
             "", "A", "AAAA", "====", "not a token", "%41%41", "..", "../../etc/passwd",
             std::string(86, 'A'), std::string(86, '_'), std::string(ack_max_token, 'A'),
             std::string(ack_max_token + 1, 'A'), std::string(100'000, 'A'),
             std::string("AAAA\0AAAA", 9), "AAAA AAAA", "AAAA\nAAAA", "AAAA+AAA/AAA="}) {
        INFO(bad.substr(0, 40));
        CHECK_FALSE(check_ack_token(*key, bad, now).has_value());
    }
    // Padding and the standard alphabet are other spellings: refused.
    const auto token = make_ack_token(*key, 42, "responder:alice", now + day);
    CHECK_FALSE(check_ack_token(*key, token + "==", now).has_value());
    // A MAC-valid token with an unknown version or a non-positive case id is never issued.
    CHECK_FALSE(
        check_ack_token(*key, make_ack_token(*key, 0, "responder:a", now + day), now).has_value());
    CHECK_FALSE(
        check_ack_token(*key, make_ack_token(*key, -5, "responder:a", now + day), now).has_value());
    // An empty target is too short to be a token.
    CHECK_FALSE(check_ack_token(*key, make_ack_token(*key, 1, "", now + day), now).has_value());
}

TEST_CASE("a token has one spelling: stray low bits in the last character are refused") {
    const auto key = ack_key(storage_key());
    // 1+8+8+15+32 = 64 bytes: the last of 86 characters carries 2 spare bits.
    const auto token = make_ack_token(*key, 42, "responder:alice", now + day);
    const auto pos = b64url.find(token.back());
    REQUIRE(pos != std::string::npos);
    for (std::size_t low = 1; low < 16; ++low) {
        const auto alt = (pos & ~std::size_t{15}) | ((pos & 15) ^ low);
        auto other = token;
        other.back() = b64url[alt];
        CHECK_FALSE(check_ack_token(*key, other, now).has_value());
    }
}

TEST_CASE("single-use key and URL") {
    const auto key = ack_key(storage_key());
    const auto token = make_ack_token(*key, 42, "responder:alice", now + day);
    const auto once = ack_once_key(token);
    CHECK(once.size() == 64);
    CHECK(once == crypto::sha256_hex(token));
    CHECK(ack_once_key(make_ack_token(*key, 42, "responder:alice", now + day + 1)) != once);

    CHECK(ack_url("", *key, 42, "responder:alice", now + day).empty());
    CHECK(ack_url("https://hotline.example.org", *key, 42, "responder:alice", now + day) ==
          "https://hotline.example.org/v1/ack/" + token);
    CHECK(ack_url("https://hotline.example.org//", *key, 42, "responder:alice", now + day) ==
          "https://hotline.example.org/v1/ack/" + token);
}

// --- the link in the shipped templates -------------------------------------------------

namespace {

nlohmann::json alert(const std::string& text, const std::string& url) {
    nlohmann::json p{{"kind", "alert"}, {"case_id", 42}, {"severity", "high"}, {"text", text}};
    if (!url.empty()) {
        p["ack_url"] = url;
    }
    return p;
}

hotline::config::channel_config sms_channel(unsigned max_segments) {
    hotline::config::channel_config c;
    c.name = "sms";
    c.type = "twilio";
    c.max_segments = max_segments;
    return c;
}

// As long as a real link: 35 characters of base URL and an 86-character token.
const std::string url = "https://hotline.example.org/v1/ack/" +
                        make_ack_token(*ack_key(storage_key()), 42, "responder:alice", now);

}  // namespace

TEST_CASE("email and webhook templates: the link when there is one, else reply ACK") {
    const hotline::config::config cfg;
    for (const std::string type : {"smtp", "webhook"}) {
        const auto en = render(cfg, type, "en", alert("Detained", url));
        CHECK(en.body.find("To acknowledge or resolve, open " + url + "\nor reply ACK 42\n") !=
              std::string::npos);
        const auto ru = render(cfg, type, "ru", alert("Задержан", url));
        CHECK(ru.body.find("Чтобы подтвердить или закрыть дело, откройте " + url +
                           "\nили ответьте ACK 42\n") != std::string::npos);
        const auto plain = render(cfg, type, "en", alert("Detained", ""));
        CHECK(plain.body.find("To acknowledge, reply ACK 42\n") != std::string::npos);
        CHECK(plain.body.find("/v1/ack/") == std::string::npos);
        const auto plain_ru = render(cfg, type, "ru", alert("Задержан", ""));
        CHECK(plain_ru.body.find("Чтобы подтвердить, ответьте ACK 42\n") != std::string::npos);
    }
}

TEST_CASE("SMS: the link only when it costs no segment and no report text") {
    const hotline::config::config cfg;
    REQUIRE(url.size() == 121);
    // 166 characters without the link are two segments; with it, 296 still are.
    const std::string text135(135, 'x');
    const auto roomy = render_sms(cfg, sms_channel(3), "en", alert(text135, url));
    CHECK(roomy.body == "HOTLINE #42 high: " + text135 + " Reply ACK 42 or open " + url);
    CHECK(roomy.kind == sms::fit_kind::whole);
    CHECK(roomy.info.segments == 2);
    // 54 characters are one segment, 184 would be two: no link.
    const auto short_one =
        render_sms(cfg, sms_channel(3), "en", alert("Detained near the metro", url));
    CHECK(short_one.body == "HOTLINE #42 high: Detained near the metro Reply ACK 42");
    CHECK(short_one.info.segments == 1);
    // With max_segments 2, a link in a two-segment message would cut the report: no link.
    const std::string text200(200, 'y');
    const auto tight = render_sms(cfg, sms_channel(2), "en", alert(text200, url));
    CHECK(tight.body == "HOTLINE #42 high: " + text200 + " Reply ACK 42");
    // Cyrillic (UCS-2, 70 a segment): the link would add a segment, so it is left out.
    const auto ru = render_sms(cfg, sms_channel(3), "ru", alert("Задержан у метро", url));
    CHECK(ru.body.find("/v1/ack/") == std::string::npos);
    CHECK(ru.body.find("Ответьте ACK 42") != std::string::npos);
    // A long report fills its segments: the link would shorten it, so it is left out.
    const std::string long_text(600, 'z');
    const auto full = render_sms(cfg, sms_channel(3), "en", alert(long_text, url));
    CHECK(full.body.find("/v1/ack/") == std::string::npos);
    CHECK(full.info.segments == 3);
    // Without a link, nothing changes.
    CHECK(render_sms(cfg, sms_channel(3), "en", alert(text135, "")).body ==
          "HOTLINE #42 high: " + text135 + " Reply ACK 42");
}
