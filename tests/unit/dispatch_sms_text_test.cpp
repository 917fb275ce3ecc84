// dispatch/sms_text: 3GPP TS 23.038 encoding choice, segment boundaries, fitting to
// max_segments, transliteration.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/utf8.hpp"
#include "dispatch/sms_text.hpp"

namespace sms = hotline::dispatch::sms;

namespace {

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

const std::string de = "\xd0\xb4";             // "д"
const std::string emoji = "\xf0\x9f\x98\x80";  // U+1F600, a surrogate pair in UTF-16
const std::string euro = "\xe2\x82\xac";       // "€", extension table
const std::string ellipsis = "\xe2\x80\xa6";   // "…"

}  // namespace

TEST_CASE("GSM-7: 160 septets are one SMS, 161 are two (153 + 8)") {
    auto one = sms::analyse(repeat("a", 160));
    CHECK(one.encoding == "gsm7");
    CHECK(one.units == 160);
    CHECK(one.segments == 1);
    REQUIRE(one.parts.size() == 1);
    auto two = sms::analyse(repeat("a", 161));
    CHECK(two.units == 161);
    CHECK(two.segments == 2);
    REQUIRE(two.parts.size() == 2);
    CHECK(two.parts[0] == repeat("a", 153));
    CHECK(two.parts[1] == repeat("a", 8));
}

TEST_CASE("GSM-7: 153 x 2 septets are two segments, one more is three") {
    CHECK(sms::analyse(repeat("b", 306)).segments == 2);
    auto three = sms::analyse(repeat("b", 307));
    CHECK(three.segments == 3);
    CHECK(three.parts.back() == "b");
}

TEST_CASE("UCS-2: 70 units are one SMS, 71 are two (67 + 4)") {
    auto one = sms::analyse(repeat(de, 70));
    CHECK(one.encoding == "ucs2");
    CHECK(one.units == 70);
    CHECK(one.segments == 1);
    auto two = sms::analyse(repeat(de, 71));
    CHECK(two.segments == 2);
    REQUIRE(two.parts.size() == 2);
    CHECK(two.parts[0] == repeat(de, 67));
    CHECK(two.parts[1] == repeat(de, 4));
}

TEST_CASE("UCS-2: 67 x 2 units are two segments, one more is three") {
    CHECK(sms::analyse(repeat(de, 134)).segments == 2);
    CHECK(sms::analyse(repeat(de, 135)).segments == 3);
    // One Cyrillic letter turns a GSM-7 text into UCS-2.
    auto mixed = sms::analyse(repeat("a", 69) + de);
    CHECK(mixed.encoding == "ucs2");
    CHECK(mixed.units == 70);
    CHECK(mixed.segments == 1);
}

TEST_CASE("an extension character at the 153rd septet moves whole to the next segment") {
    // 152 septets, then '{' (ESC + '(') would take septets 153 and 154.
    const std::string text = repeat("a", 152) + "{" + repeat("a", 10);
    auto r = sms::analyse(text);
    CHECK(r.encoding == "gsm7");
    CHECK(r.units == 164);
    REQUIRE(r.segments == 2);
    CHECK(r.parts[0] == repeat("a", 152));
    CHECK(r.parts[1] == "{" + repeat("a", 10));
    // At septets 152-153 it fits the first segment exactly.
    auto fits = sms::analyse(repeat("a", 151) + "{" + repeat("a", 10));
    CHECK(fits.parts[0] == repeat("a", 151) + "{");
    // The euro sign (non-ASCII extension) likewise.
    auto e = sms::analyse(repeat("a", 152) + euro + repeat("a", 10));
    CHECK(e.parts[0] == repeat("a", 152));
    CHECK(e.parts[1] == euro + repeat("a", 10));
}

TEST_CASE("an emoji at the 67th unit moves whole (surrogate pair) to the next segment") {
    const std::string text = repeat(de, 66) + emoji + repeat(de, 10);
    auto r = sms::analyse(text);
    CHECK(r.encoding == "ucs2");
    CHECK(r.units == 78);
    REQUIRE(r.segments == 2);
    CHECK(r.parts[0] == repeat(de, 66));
    CHECK(r.parts[1] == emoji + repeat(de, 10));
    // 35 emoji are 70 units: one SMS; 36 are 72: two of 33 + 3 emoji (66 units + 6).
    CHECK(sms::analyse(repeat(emoji, 35)).segments == 1);
    auto many = sms::analyse(repeat(emoji, 36));
    REQUIRE(many.segments == 2);
    CHECK(many.parts[0] == repeat(emoji, 33));
}

TEST_CASE("GSM-7 detection: every extension character costs two septets") {
    for (const std::string& ext :
         std::vector<std::string>{"^", "{", "}", "\\", "[", "~", "]", "|", euro, "\f"}) {
        INFO(ext);
        CHECK(sms::is_gsm7(ext));
        auto r = sms::analyse("x" + ext);
        CHECK(r.encoding == "gsm7");
        CHECK(r.units == 3);
    }
    // 80 extension characters are 160 septets: still one SMS; 81 are two.
    CHECK(sms::analyse(repeat("|", 80)).segments == 1);
    CHECK(sms::analyse(repeat("|", 81)).segments == 2);
    // The default alphabet beyond ASCII.
    for (const char* basic :
         {"@", "$", "_", "\xc2\xa3", "\xc2\xa5", "\xc3\xa8", "\xc3\xa9", "\xc3\x9f", "\xce\x94",
          "\xce\xa9", "\xc3\xa0", "\xc2\xbf", "\xc2\xa7", "\n", "\r"}) {
        INFO(basic);
        CHECK(sms::analyse(basic).units == 1);
        CHECK(sms::is_gsm7(basic));
    }
    // Not GSM-7: backtick, Cyrillic, emoji, "…", a tab, a malformed byte.
    for (const std::string& other : std::vector<std::string>{
             std::string{"`"}, de, emoji, ellipsis, std::string{"\t"}, std::string{"\xff"}}) {
        INFO(other);
        CHECK_FALSE(sms::is_gsm7(other));
        CHECK(sms::analyse("a" + other).encoding == "ucs2");
    }
    auto bad = sms::analyse("a\xff");
    CHECK(bad.parts[0] == "a\xef\xbf\xbd");  // U+FFFD, so every part is valid UTF-8
    auto empty = sms::analyse("");
    CHECK(empty.encoding == "gsm7");
    CHECK(empty.units == 0);
    CHECK(empty.segments == 1);
}

namespace {

std::string render_alert(std::string_view text) {
    return "HOTLINE #42 high: " + std::string{text} + " Reply ACK 42";
}

}  // namespace

TEST_CASE("fit_rendered shortens the text, keeps the fixed parts, never exceeds max") {
    for (unsigned max : {1U, 2U, 3U, 5U}) {
        for (const std::string& unit : {std::string{"word "}, de, std::string{"{"}, emoji}) {
            const std::string text = repeat(unit, 600);
            auto f = sms::fit_rendered(render_alert, text, max);
            INFO(max, " ", unit);
            CHECK(f.kind == sms::fit_kind::shortened);
            CHECK(f.info.segments <= max);
            CHECK(sms::analyse(f.text).segments <= max);
            CHECK(f.text.rfind("HOTLINE #42 high: ", 0) == 0);
            CHECK(f.text.size() >= 13);
            CHECK(f.text.substr(f.text.size() - 13) == " Reply ACK 42");
            CHECK(hotline::core::is_valid_utf8(f.text));
            const bool gsm7 = f.info.encoding == "gsm7";
            CHECK(f.text.find(gsm7 ? "..." : ellipsis) != std::string::npos);
            // As long as fits: one more unit of text would not.
            CHECK(f.info.units + 2 * (gsm7 ? 2 : 2) >
                  (max == 1 ? (gsm7 ? 160U : 70U) : max * (gsm7 ? 153U : 67U)) - 3);
        }
    }
    // A text that fits is left alone.
    auto whole = sms::fit_rendered(render_alert, "short", 1);
    CHECK(whole.kind == sms::fit_kind::whole);
    CHECK(whole.text == "HOTLINE #42 high: short Reply ACK 42");
}

TEST_CASE("fit_rendered: the GSM-7 ellipsis when the kept text is GSM-7") {
    // The Cyrillic is past the cut: the result stays GSM-7 and uses "...".
    const std::string text = repeat("a", 400) + de;
    auto f = sms::fit_rendered(render_alert, text, 1);
    CHECK(f.info.encoding == "gsm7");
    CHECK(f.info.units == 160);
    CHECK(f.text.find("...") != std::string::npos);
    CHECK(f.text.find(ellipsis) == std::string::npos);
    CHECK(f.text.find("ACK 42") != std::string::npos);
}

TEST_CASE("fit_rendered: fixed text too long even with an empty text is cut cleanly") {
    auto long_fixed = [](std::string_view text) {
        return repeat(de, 100) + std::string{text} + " ACK 42";
    };
    auto f = sms::fit_rendered(long_fixed, "report", 1);
    CHECK(f.kind == sms::fit_kind::cut);
    CHECK(f.info.segments == 1);
    CHECK(hotline::core::is_valid_utf8(f.text));
    CHECK(f.text.size() >= ellipsis.size());
    CHECK(f.text.substr(f.text.size() - ellipsis.size()) == ellipsis);
}

TEST_CASE("fit: a text cut at a code point boundary, with an ellipsis") {
    auto f = sms::fit(repeat(de, 500), 2);
    CHECK(f.kind == sms::fit_kind::shortened);
    CHECK(f.info.units == 134);
    CHECK(f.info.segments == 2);
    CHECK(f.text == repeat(de, 133) + ellipsis);
    auto g = sms::fit(repeat("x", 500), 1);
    CHECK(g.text == repeat("x", 157) + "...");
    // max_segments is clamped to 1..10.
    CHECK(sms::fit(repeat("x", 5000), 0).info.segments == 1);
    CHECK(sms::fit(repeat("x", 5000), 99).info.segments == 10);
}

TEST_CASE("transliterate: Russian to GSM-7 Latin (BGN), GSM-7 characters kept") {
    const std::string ru =
        "\xd0\x97\xd0\xb0\xd0\xb4\xd0\xb5\xd1\x80\xd0\xb6\xd0\xb0\xd0\xbd "
        "\xd1\x83 \xd0\xbc\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe";  // Задержан у метро
    const auto latin = sms::transliterate(ru);
    CHECK(latin == "Zaderzhan u metro");
    CHECK(sms::is_gsm7(latin));
    CHECK(sms::analyse(latin).encoding == "gsm7");
    // "Щётка" and "подъезд" use digraphs and a quote; é and £ (GSM-7) stay as they are.
    const auto mixed = sms::transliterate(
        "\xd0\xa9\xd1\x91\xd1\x82\xd0\xba\xd0\xb0 \xd0\xbf\xd0\xbe\xd0\xb4\xd1\x8a\xd0\xb5\xd0\xb7"
        "\xd0\xb4 caf\xc3\xa9 \xc2\xa3"
        "5");
    CHECK(mixed ==
          "Shchetka pod\"yezd caf\xc3\xa9 \xc2\xa3"
          "5");
    CHECK(sms::is_gsm7(mixed));
    // What ICU cannot latinise stays (the message is then UCS-2).
    CHECK(sms::transliterate("ok " + emoji) == "ok " + emoji);
    CHECK(sms::transliterate("") == "");
}

// --- the dispatcher's SMS rendering (templates.cpp) and status URLs (delivery.cpp) ---

#include "config/model.hpp"
#include "dispatch/delivery.hpp"
#include "dispatch/templates.hpp"

namespace {

nlohmann::json alert_payload(const std::string& text) {
    return {{"kind", "alert"}, {"case_id", 42}, {"severity", "high"}, {"text", text}};
}

hotline::config::channel_config sms_channel(unsigned max_segments, bool transliterate) {
    hotline::config::channel_config c;
    c.name = "sms";
    c.type = "twilio";
    c.max_segments = max_segments;
    c.transliterate = transliterate;
    return c;
}

}  // namespace

TEST_CASE("render_sms: the shipped sms template, shortened text, case number and ACK kept") {
    const hotline::config::config cfg;
    auto r = hotline::dispatch::render_sms(cfg, sms_channel(3, false), "en",
                                           alert_payload("Detained near the metro"));
    CHECK(r.kind == sms::fit_kind::whole);
    CHECK(r.body == "HOTLINE #42 high: Detained near the metro Reply ACK 42");
    CHECK(r.info.encoding == "gsm7");
    CHECK(r.info.segments == 1);
    for (unsigned max : {1U, 2U, 3U}) {
        auto ru = hotline::dispatch::render_sms(cfg, sms_channel(max, false), "ru",
                                                alert_payload(repeat(de + " ", 400)));
        INFO(max);
        CHECK(ru.kind == sms::fit_kind::shortened);
        CHECK(ru.info.encoding == "ucs2");
        CHECK(ru.info.segments == max);
        CHECK(ru.body.rfind("HOTLINE #42 ", 0) == 0);
        CHECK(ru.body.find(" ACK 42") == ru.body.size() - 7);
        CHECK(hotline::core::is_valid_utf8(ru.body));
    }
}

TEST_CASE("render_sms: transliterate turns a Russian alert into GSM-7") {
    const hotline::config::config cfg;
    const std::string ru = "\xd0\x97\xd0\xb0\xd0\xb4\xd0\xb5\xd1\x80\xd0\xb6\xd0\xb0\xd0\xbd";
    auto r = hotline::dispatch::render_sms(cfg, sms_channel(1, true), "ru", alert_payload(ru));
    CHECK(r.info.encoding == "gsm7");
    CHECK(r.body.find("Zaderzhan") != std::string::npos);
    CHECK(r.body.find("ACK 42") != std::string::npos);
    CHECK(sms::is_gsm7(r.body));
}

TEST_CASE("status URL: keyed token per channel and id, checked in constant time") {
    const auto storage = hotline::core::crypto::key::generate();
    const auto key = hotline::dispatch::delivery_key(storage);
    const auto token = hotline::dispatch::delivery_token(*key, "sms", 17);
    CHECK(token.size() == 32);
    CHECK(hotline::dispatch::delivery_token_ok(*key, "sms", 17, token));
    CHECK_FALSE(hotline::dispatch::delivery_token_ok(*key, "sms", 18, token));
    CHECK_FALSE(hotline::dispatch::delivery_token_ok(*key, "sms2", 17, token));
    CHECK_FALSE(hotline::dispatch::delivery_token_ok(*key, "sms", 17, token.substr(1)));
    CHECK_FALSE(hotline::dispatch::delivery_token_ok(*key, "sms", 17, ""));
    // The subkey is not the storage key: another key gives another token.
    const auto other = hotline::dispatch::delivery_key(hotline::core::crypto::key::generate());
    CHECK(hotline::dispatch::delivery_token(*other, "sms", 17) != token);
    CHECK(hotline::dispatch::status_url("https://h.example.org/", *key, "sms", 17) ==
          "https://h.example.org/v1/delivery/sms/17/" + token);
    CHECK(hotline::dispatch::status_url("", *key, "sms", 17).empty());
}
