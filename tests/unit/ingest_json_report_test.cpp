#include <doctest/doctest.h>

#include <string>

#include "core/utf8.hpp"
#include "ingest/json_report.hpp"
#include "ingest/language.hpp"

using hotline::ingest::parse_report_json;

namespace {

constexpr std::int64_t now = 1'764'061'200'000;

hotline::core::result<hotline::domain::report> parse(std::string_view body,
                                                     std::string_view key = {}) {
    return parse_report_json(body, "partner-webhook", key, now);
}

std::string code_of(std::string_view body, std::string_view key = {}) {
    const auto r = parse(body, key);
    return r.ok() ? std::string("ok") : r.err().code;
}

std::string with_text(const std::string& text_json) {
    return R"({"sender":"+79001234567","text":)" + text_json + "}";
}

}  // namespace

TEST_CASE("a full report is parsed") {
    const auto r = parse(R"({"sender":"alice@example.org","text":"Задержан активист",
        "subject":"Срочно","labels":{"city":"Moscow","kind.sub-type_1":"x"},"external_id":"ext-1"})");
    REQUIRE(r.ok());
    CHECK(r->source == "partner-webhook");
    CHECK(r->source_kind == "webhook");
    CHECK(r->sender == "alice@example.org");
    CHECK(r->text == "Задержан активист");
    CHECK(r->subject == "Срочно");
    CHECK(r->labels.size() == 2);
    CHECK(r->labels.at("city") == "Moscow");
    CHECK(r->labels.at("kind.sub-type_1") == "x");
    CHECK(r->external_id == "ext-1");
    CHECK(r->language == "ru");
    CHECK(r->received_at == now);
}

TEST_CASE("required fields") {
    CHECK(code_of(R"({"text":"x"})") == "missing_field");
    CHECK(code_of(R"({"sender":"x"})") == "missing_field");
    const auto r = parse(R"({"sender":"x"})");
    CHECK(r.err().message == "missing field \"text\"");
    CHECK(code_of(R"({})") == "missing_field");
    CHECK(code_of(R"({"sender":"a","text":"b"})") == "ok");
}

TEST_CASE("not JSON or not an object is bad_json") {
    CHECK(code_of("") == "bad_json");
    CHECK(code_of("   ") == "bad_json");
    CHECK(code_of("{") == "bad_json");
    CHECK(code_of(R"({"sender":"a","text":"b"} trailing)") == "bad_json");
    CHECK(code_of(R"({"sender":"a","text":"b",})") == "bad_json");
    CHECK(code_of(R"({"sender":'a'})") == "bad_json");
    CHECK(code_of("[]") == "bad_json");
    CHECK(code_of("\"text\"") == "bad_json");
    CHECK(code_of("42") == "bad_json");
    CHECK(code_of("null") == "bad_json");
    CHECK(code_of("/* c */ {\"sender\":\"a\",\"text\":\"b\"}") == "bad_json");
    // A semantic error early does not hide broken JSON later.
    CHECK(code_of(R"({"bogus":1, "sender":)") == "bad_json");
    // The message never quotes the input.
    const auto r = parse(R"({"sender":"secret-sender", oops})");
    REQUIRE(!r.ok());
    CHECK(r.err().message.find("secret") == std::string::npos);
}

TEST_CASE("unknown and duplicate fields") {
    const auto r = parse(R"({"sender":"a","text":"b","x":1})");
    REQUIRE(!r.ok());
    CHECK(r.err().code == "bad_field");
    CHECK(r.err().message == "unknown field \"x\"");
    // A hostile name is not echoed.
    const auto q = parse(R"({"sender":"a","text":"b","\"<script>\n":1})");
    REQUIRE(!q.ok());
    CHECK(q.err().code == "bad_field");
    CHECK(q.err().message == "unknown field");
    CHECK(code_of(R"({"sender":"a","text":"b","text":"c"})") == "bad_field");
    CHECK(code_of(R"({"sender":"a","text":"b","labels":{"k":"1","k":"2"}})") == "bad_field");
}

TEST_CASE("wrong types name the field") {
    struct tc {
        const char* body;
        const char* field;
    };
    const tc cases[] = {
        {R"({"sender":1,"text":"b"})", "sender"},
        {R"({"sender":"a","text":null})", "text"},
        {R"({"sender":"a","text":["b"]})", "text"},
        {R"({"sender":"a","text":{"b":"c"}})", "text"},
        {R"({"sender":"a","text":"b","subject":true})", "subject"},
        {R"({"sender":"a","text":"b","external_id":12})", "external_id"},
        {R"({"sender":"a","text":"b","labels":["x"]})", "labels"},
        {R"({"sender":"a","text":"b","labels":"x"})", "labels"},
        {R"({"sender":"a","text":"b","labels":{"k":1}})", "labels"},
        {R"({"sender":"a","text":"b","labels":{"k":{"n":"x"}}})", "labels"},
        {R"({"sender":"a","text":"b","labels":{"k":null}})", "labels"},
    };
    for (const auto& c : cases) {
        const std::string body = c.body;
        CAPTURE(body);
        const auto r = parse(c.body);
        REQUIRE(!r.ok());
        CHECK(r.err().code == "bad_field");
        CHECK(r.err().message.find(c.field) != std::string::npos);
    }
}

TEST_CASE("length limits") {
    const std::string ok_sender(320, 's');
    CHECK(code_of(R"({"sender":")" + ok_sender + R"(","text":"t"})") == "ok");
    CHECK(code_of(R"({"sender":")" + ok_sender + R"(s","text":"t"})") == "bad_field");
    CHECK(code_of(R"({"sender":"","text":"t"})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":""})") == "bad_field");
    const std::string text(64 * 1024, 't');
    CHECK(code_of(with_text("\"" + text + "\"")) == "ok");
    CHECK(code_of(with_text("\"" + text + "t\"")) == "bad_field");
    // Limits are bytes: 32768 two-byte letters fit, one more does not.
    std::string cyr;
    for (int i = 0; i < 32 * 1024; ++i) {
        cyr += "ж";
    }
    CHECK(code_of(with_text("\"" + cyr + "\"")) == "ok");
    CHECK(code_of(with_text("\"" + cyr + "ж\"")) == "bad_field");
    const std::string subject(998, 'x');
    CHECK(code_of(R"({"sender":"s","text":"t","subject":")" + subject + R"("})") == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t","subject":")" + subject + R"(x"})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","subject":""})") == "ok");
    const std::string ext(200, 'e');
    CHECK(code_of(R"({"sender":"s","text":"t","external_id":")" + ext + R"("})") == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t","external_id":")" + ext + R"(e"})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","external_id":""})") == "bad_field");
}

TEST_CASE("labels rules") {
    auto labels_body = [](int n) {
        std::string b = R"({"sender":"s","text":"t","labels":{)";
        for (int i = 0; i < n; ++i) {
            b += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
        }
        return b + "}}";
    };
    CHECK(code_of(labels_body(0)) == "ok");
    CHECK(code_of(labels_body(64)) == "ok");
    CHECK(code_of(labels_body(65)) == "bad_field");
    const std::string key64(64, 'k');
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{")" + key64 + R"(":"v"}})") == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{")" + key64 + R"(k":"v"}})") ==
          "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"":"v"}})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"a b":"v"}})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"город":"v"}})") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"a/b":"v"}})") == "bad_field");
    const std::string value(1024, 'v');
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"k":")" + value + R"("}})") == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"k":")" + value + R"(v"}})") ==
          "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"k":"a\nb"}})") == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t","labels":{"k":"a\u0001"}})") == "bad_field");
}

TEST_CASE("control characters") {
    CHECK(code_of(with_text(R"("line\nline\r\n\tend")")) == "ok");
    CHECK(code_of(with_text(R"("nul\u0000byte")")) == "bad_field");
    CHECK(code_of(with_text(R"("bell\u0007")")) == "bad_field");
    CHECK(code_of(with_text(R"("del)"
                            "\x7f"
                            R"(")")) == "bad_field");
    CHECK(code_of(with_text("\"raw\x01\"")) == "bad_json");  // raw controls are not JSON
    CHECK(code_of(R"({"sender":"a\nb","text":"t"})") == "bad_field");
    CHECK(code_of(R"({"sender":"a","text":"t","subject":"a\tb"})") == "ok");
    CHECK(code_of(R"({"sender":"a","text":"t","subject":"a\r\nBcc: x@y"})") == "bad_field");
    CHECK(code_of(R"({"sender":"a","text":"t","external_id":"a\tb"})") == "bad_field");
}

TEST_CASE("external id: body, then Idempotency-Key, then random") {
    const auto body = parse(R"({"sender":"s","text":"t","external_id":"body-id"})", "hdr-id");
    REQUIRE(body.ok());
    CHECK(body->external_id == "body-id");
    const auto hdr = parse(R"({"sender":"s","text":"t"})", "hdr-id");
    REQUIRE(hdr.ok());
    CHECK(hdr->external_id == "hdr-id");
    const auto a = parse(R"({"sender":"s","text":"t"})");
    const auto b = parse(R"({"sender":"s","text":"t"})");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->external_id.size() == 4 + 32);
    CHECK(a->external_id.rfind("gen-", 0) == 0);
    CHECK(a->external_id != b->external_id);
    CHECK(code_of(R"({"sender":"s","text":"t"})", std::string(200, 'k')) == "ok");
    CHECK(code_of(R"({"sender":"s","text":"t"})", std::string(201, 'k')) == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t"})", "a\x01") == "bad_field");
    CHECK(code_of(R"({"sender":"s","text":"t"})", "a\xff") == "invalid_utf8");
    // The header is not looked at when the body has an id.
    CHECK(code_of(R"({"sender":"s","text":"t","external_id":"x"})", std::string(201, 'k')) == "ok");
}

TEST_CASE("invalid UTF-8 anywhere is invalid_utf8") {
    const char* bad[] = {
        "\x80",              // stray continuation
        "\xbf",              //
        "\xc0\xaf",          // overlong '/'
        "\xc1\xbf",          // overlong
        "\xe0\x80\xaf",      // overlong 3-byte
        "\xe0\x9f\xbf",      // overlong 3-byte (max)
        "\xf0\x80\x80\xaf",  // overlong 4-byte
        "\xf0\x8f\xbf\xbf",  // overlong 4-byte (max)
        "\xed\xa0\x80",      // U+D800 surrogate
        "\xed\xbf\xbf",      // U+DFFF surrogate
        "\xf4\x90\x80\x80",  // U+110000
        "\xf5\x80\x80\x80",  // beyond
        "\xff",              //
        "\xfe",              //
        "\xc3",              // truncated
        "\xe2\x82",          // truncated
        "\xf0\x9f\x98",      // truncated
        "\xc3\x28",          // bad continuation
        "\xe2\x28\xa1",      //
    };
    for (const char* seq : bad) {
        const std::string bytes = seq;
        CAPTURE(bytes);
        CHECK(code_of(with_text("\"a" + std::string(seq) + "b\"")) == "invalid_utf8");
        CHECK(code_of(R"({"sender":"s)" + std::string(seq) + R"(","text":"t"})") == "invalid_utf8");
        CHECK(code_of(R"({"sender":"s","text":"t","labels":{"k":")" + std::string(seq) +
                      R"("}})") == "invalid_utf8");
        // Outside strings too (nlohmann would call it a syntax error).
        CHECK(code_of(R"({"sender":"s","text":"t"})" + std::string(seq)) == "invalid_utf8");
    }
    // Valid edge cases.
    const char* good[] = {"\xc2\x80",     "\xdf\xbf",     "\xe0\xa0\x80",     "\xed\x9f\xbf",
                          "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
    for (const char* seq : good) {
        const std::string bytes = seq;
        CAPTURE(bytes);
        CHECK(code_of(with_text("\"a" + std::string(seq) + "b\"")) == "ok");
    }
    // Lone surrogates through escapes.
    CHECK(code_of(with_text(R"("\ud800")")) == "invalid_utf8");
    CHECK(code_of(with_text(R"("\udc00x")")) == "invalid_utf8");
    CHECK(code_of(with_text(R"("\ud800\u0041")")) == "invalid_utf8");
    const auto pair = parse(with_text(R"("\ud83d\ude00")"));
    REQUIRE(pair.ok());
    CHECK(pair->text == "\xf0\x9f\x98\x80");
}

TEST_CASE("huge and deeply nested input fails cleanly") {
    std::string deep(10000, '[');
    deep += std::string(10000, ']');
    CHECK(code_of(deep) == "bad_json");
    CHECK(code_of(with_text(deep)) == "bad_field");
    std::string deep_obj;
    for (int i = 0; i < 100000; ++i) {
        deep_obj += R"({"a":)";
    }
    CHECK(code_of(deep_obj) != "ok");
    CHECK(code_of(std::string(100000, '[')) == "bad_json");  // unterminated
    const std::string big(1024 * 1024, 'x');
    CHECK(code_of(with_text("\"" + big + "\"")) == "bad_field");
    std::string many_keys = R"({"sender":"s","text":"t","labels":{)";
    for (int i = 0; i < 20000; ++i) {
        many_keys += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
    }
    many_keys += "}}";
    CHECK(code_of(many_keys) == "bad_field");
    std::string big_number = with_text("1" + std::string(100000, '0'));
    CHECK(code_of(big_number) != "ok");  // nlohmann refuses the overflow: bad_json
    CHECK(code_of(with_text("1.5e400")) == "bad_json");
}

TEST_CASE("language guess") {
    using hotline::ingest::guess_language;
    CHECK(guess_language("Задержан активист у здания суда") == "ru");
    CHECK(guess_language("Activist detained near the court") == "en");
    CHECK(guess_language("Задержан наш activist") == "ru");  // 11 Cyrillic of 19 letters
    CHECK(guess_language("Задержан activist") == "");        // 8 and 8: not "mostly"
    CHECK(guess_language("12345 !!! ...") == "");
    CHECK(guess_language("") == "");
    CHECK(guess_language("東京で拘束された") == "");
    CHECK(guess_language("Ελληνικά κείμενο") == "");
    CHECK(guess_language("Müller wurde festgenommen") == "en");  // Latin script
    CHECK(guess_language("ab вг") == "");                        // a tie is not "mostly"
    CHECK(guess_language("\xff") == "");
    const auto r = parse(with_text(R"("Help, we are being searched")"));
    REQUIRE(r.ok());
    CHECK(r->language == "en");
}

TEST_CASE("utf8 helpers") {
    using namespace hotline::core;
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ascii that is longer than eight bytes"));
    CHECK(find_invalid_utf8("0123456789\xff") == 10);
    CHECK(find_invalid_utf8("жж\xc0\x80") == 4);
    CHECK(utf8_prefix("жжж", 3) == "ж");
    CHECK(utf8_prefix("жжж", 4) == "жж");
    CHECK(utf8_prefix("abc", 10) == "abc");
    std::size_t pos = 0;
    CHECK(decode_utf8("€", pos) == U'€');
    CHECK(pos == 3);
    pos = 0;
    CHECK(decode_utf8("\xe2\x82", pos) == invalid_code_point);
    CHECK(pos == 0);
}
