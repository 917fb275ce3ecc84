// The silences API's pure parts: RFC 3339 times, the POST body (every rule, bad and
// hostile input included) and the JSON a silence is shown as.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "http/endpoints/silences.hpp"

using namespace hotline;
using hotline::http::endpoints::parse_rfc3339_ms;
using hotline::http::endpoints::parse_silence_request;
using hotline::http::endpoints::silence_json;

namespace {

constexpr std::int64_t now = 1'796'310'000'000;  // 2026-12-03T15:00:00Z

std::string error_of(const std::string& body) {
    const auto r = parse_silence_request(body, now, "responder:alice");
    REQUIRE_FALSE(r.ok());
    return r.err().code + ": " + r.err().message;
}

}  // namespace

TEST_CASE("RFC 3339 times: Z, offsets, fractions; nothing else") {
    CHECK(parse_rfc3339_ms("2026-12-03T15:00:00Z") == now);
    CHECK(parse_rfc3339_ms("2026-12-03t15:00:00z") == now);
    CHECK(parse_rfc3339_ms("2026-12-03 15:00:00Z") == now);
    CHECK(parse_rfc3339_ms("2026-12-03T18:00:00+03:00") == now);
    CHECK(parse_rfc3339_ms("2026-12-03T14:30:00-00:30") == now);
    CHECK(parse_rfc3339_ms("2026-12-03T15:00:00.5Z") == now + 500);
    CHECK(parse_rfc3339_ms("2026-12-03T15:00:00.123456789Z") == now + 123);
    CHECK(parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339_ms("2028-02-29T00:00:00Z").has_value());
    for (const char* bad :
         {"", "2026-12-03", "2026-12-03T15:00:00", "2026-12-03T15:00Z", "2026-13-03T15:00:00Z",
          "2026-02-30T15:00:00Z", "2027-02-29T00:00:00Z", "2026-12-03T24:00:00Z",
          "2026-12-03T15:60:00Z", "2026-12-03T15:00:60Z", "2026-12-03T15:00:00.Z",
          "2026-12-03T15:00:00+3:00", "2026-12-03T15:00:00+03:00x", "2026-12-03T15:00:00Z ",
          "1969-12-31T23:59:59Z", "１０26-12-03T15:00:00Z", "2026-12-03T15:00:00.1234567890Z",
          "+2026-12-03T15:00:00Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_rfc3339_ms(bad).has_value());
    }
}

TEST_CASE("POST /v1/silences body: matchers, times, comment; the author is the caller") {
    auto r = parse_silence_request(
        R"({"matchers":["sender = \"+79001234567\"","text =~ \"учения\""],"duration":"2h",)"
        R"("comment":"учения в офисе"})",
        now, "responder:alice");
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
    CHECK(r->matchers ==
          std::vector<std::string>{R"(sender = "+79001234567")", R"(text =~ "учения")"});
    CHECK(r->starts_at == now);
    CHECK(r->ends_at == now + 2 * 3'600'000);
    CHECK(r->author == "responder:alice");
    CHECK(r->comment == "учения в офисе");

    r = parse_silence_request(R"({"matchers":["text = x"],"starts_at":"2026-12-04T00:00:00Z",)"
                              R"("ends_at":"2026-12-04T06:00:00+03:00","comment":"c"})",
                              now, "admin:ops");
    REQUIRE(r.ok());
    CHECK(r->starts_at == now + 9 * 3'600'000);
    CHECK(r->ends_at == now + 12 * 3'600'000);
    r = parse_silence_request(
        R"({"matchers":["text = x"],"starts_at":1,"ends_at":1796310000001,"comment":"c"})", now,
        "admin:ops");
    REQUIRE(r.ok());
    CHECK(r->starts_at == 1);
    CHECK(r->ends_at == now + 1);
    // A duration counts from starts_at.
    r = parse_silence_request(R"({"matchers":["text = x"],"starts_at":"2026-12-03T16:00:00Z",)"
                              R"("duration":"30m","comment":"c"})",
                              now, "admin:ops");
    REQUIRE(r.ok());
    CHECK(r->ends_at == now + 90 * 60'000);
}

TEST_CASE("POST /v1/silences body: every bad input is a clear 400") {
    CHECK(error_of("") == "bad_request: the body is not JSON (UTF-8)");
    CHECK(error_of("{") == "bad_request: the body is not JSON (UTF-8)");
    CHECK(error_of("{\"comment\":\"\xff\"}") == "bad_request: the body is not JSON (UTF-8)");
    CHECK(error_of("[]") == "bad_request: the body must be a JSON object");
    CHECK(error_of("null") == "bad_request: the body must be a JSON object");
    CHECK(error_of(R"({"matchers":["text = x"],"duration":"1h","comment":"c","author":"x"})") ==
          "bad_request: unknown field \"author\" (expected matchers, starts_at, ends_at, "
          "duration, comment)");
    const std::string need =
        "bad_request: matchers must be a non-empty list of matchers like text =~ \"arrest\"";
    CHECK(error_of(R"({"duration":"1h","comment":"c"})") == need);
    CHECK(error_of(R"({"matchers":[],"duration":"1h","comment":"c"})") == need);
    CHECK(error_of(R"({"matchers":"text = x","duration":"1h","comment":"c"})") == need);
    CHECK(error_of(R"({"matchers":["text = x", 5],"duration":"1h","comment":"c"})") ==
          "bad_request: matchers[1] must be a string");
    CHECK(error_of(R"({"matchers":["text = x", "txet = y"],"duration":"1h","comment":"c"})")
              .starts_with("bad_matcher: matchers[1], column 1: unknown field \"txet\""));
    CHECK(error_of(R"({"matchers":["text =~ \"(\""],"duration":"1h","comment":"c"})")
              .starts_with("bad_matcher: matchers[0], column "));
    CHECK(error_of(R"({"matchers":[")" + std::string(1025, 'x') +
                   R"("],"duration":"1h","comment":"c"})") ==
          "bad_request: matchers[0] is longer than 1024 bytes");
    std::string many = R"({"duration":"1h","comment":"c","matchers":[)";
    for (int i = 0; i < 1001; ++i) {
        many += std::string(i == 0 ? "" : ",") + R"("text = x")";
    }
    CHECK(error_of(many + "]}") == "bad_request: at most 1000 matchers in one silence, got 1001");
    CHECK(error_of(R"({"matchers":["text = x"],"duration":"1h"})") ==
          "bad_request: comment must be a non-empty string (why the silence, for the audit "
          "trail)");
    CHECK(error_of(R"({"matchers":["text = x"],"duration":"1h","comment":""})")
              .starts_with("bad_request: comment must be"));
    CHECK(error_of(R"({"matchers":["text = x"],"duration":"1h","comment":7})")
              .starts_with("bad_request: comment must be"));
    CHECK(error_of(R"({"matchers":["text = x"],"duration":"1h","comment":")" +
                   std::string(4097, 'c') + "\"}") ==
          "bad_request: comment is longer than 4096 bytes");
    const std::string either = "bad_request: give either ends_at or duration (like \"2h\")";
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c"})") == either);
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","duration":"1h",)"
                   R"("ends_at":"2027-01-01T00:00:00Z"})") == either);
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","duration":3600})") ==
          "bad_request: duration must be a string like \"2h\" or \"1h30m\"");
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","duration":"forever"})")
              .starts_with("bad_request: duration: "));
    const std::string time_rule =
        " must be a time like 2026-12-03T15:00:00Z (RFC 3339) or unix milliseconds";
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","ends_at":"tomorrow"})") ==
          "bad_request: ends_at" + time_rule);
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","ends_at":1.5e12})") ==
          "bad_request: ends_at" + time_rule);
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","duration":"1h","starts_at":[]})") ==
          "bad_request: starts_at" + time_rule);
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","duration":"1h","starts_at":-1})") ==
          "bad_request: starts_at must not be before 1970");
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","starts_at":"2026-12-04T00:00:00Z",)"
                   R"("ends_at":"2026-12-03T23:00:00Z"})") ==
          "bad_request: ends_at must be after starts_at");
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","starts_at":1,"ends_at":1})") ==
          "bad_request: ends_at must be after starts_at");
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","ends_at":"2026-12-03T14:00:00Z"})") ==
          "bad_request: the silence would be over already (ends_at is in the past)");
    // Deep nesting and big numbers are just wrong types, not crashes.
    CHECK(error_of(R"({"matchers":[)" + std::string(500, '[') + std::string(500, ']') +
                   R"(],"duration":"1h","comment":"c"})") ==
          "bad_request: matchers[0] must be a string");
    CHECK(error_of(R"({"matchers":["text = x"],"comment":"c","ends_at":99999999999999999999})") ==
          "bad_request: ends_at" + time_rule);
}

TEST_CASE("a silence as JSON: RFC 3339 times, who, and its state now") {
    store::silence s;
    s.id = 4;
    s.matchers = {R"(text =~ "x")"};
    s.starts_at = now;
    s.ends_at = now + 3'600'000;
    s.author = "responder:alice";
    s.comment = "c";
    s.created_at = now - 1000;
    auto j = silence_json(s, now);
    CHECK(j.dump() ==
          R"({"id":4,"matchers":["text =~ \"x\""],"starts_at":"2026-12-03T15:00:00Z",)"
          R"("ends_at":"2026-12-03T16:00:00Z","author":"responder:alice","comment":"c",)"
          R"("created_at":"2026-12-03T14:59:59Z","expired_at":null,"expired_by":null,)"
          R"("state":"active"})");
    CHECK(silence_json(s, now - 1)["state"] == "pending");
    CHECK(silence_json(s, now + 3'600'000)["state"] == "ended");
    s.expired_at = now + 60'000;
    s.expired_by = "admin:ops";
    j = silence_json(s, now + 120'000);
    CHECK(j["state"] == "expired");
    CHECK(j["expired_at"] == "2026-12-03T15:01:00Z");
    CHECK(j["expired_by"] == "admin:ops");
}
