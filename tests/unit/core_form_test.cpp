// core/form: application/x-www-form-urlencoded as gateways send it.
#include <doctest/doctest.h>

#include <string>

#include "core/form.hpp"

using hotline::core::form_fields;
using hotline::core::form_limits;
using hotline::core::form_value;
using hotline::core::parse_form;

TEST_CASE("parse_form: pairs in order, '+' as space, %XX in either case") {
    auto r = parse_form("From=%2B79161234567&Body=Hello+world%21&To=%2b1&x=%D0%97%d0%b0");
    REQUIRE(r.ok());
    REQUIRE(r->size() == 4);
    CHECK((*r)[0] == std::pair<std::string, std::string>{"From", "+79161234567"});
    CHECK((*r)[1].second == "Hello world!");
    CHECK((*r)[2].second == "+1");
    CHECK((*r)[3].second == "\xd0\x97\xd0\xb0");  // "За"
    CHECK(*form_value(*r, "Body") == "Hello world!");
    CHECK(form_value(*r, "body") == nullptr);  // names are case-sensitive
}

TEST_CASE("parse_form: empty pieces, names without '=', repeats, encoded names") {
    auto r = parse_form("&a=1&&b&c=&a=2&%41+b=x%3Dy&");
    REQUIRE(r.ok());
    REQUIRE(r->size() == 5);
    CHECK((*r)[0] == std::pair<std::string, std::string>{"a", "1"});
    CHECK((*r)[1] == std::pair<std::string, std::string>{"b", ""});
    CHECK((*r)[2] == std::pair<std::string, std::string>{"c", ""});
    CHECK((*r)[3] == std::pair<std::string, std::string>{"a", "2"});
    CHECK((*r)[4] == std::pair<std::string, std::string>{"A b", "x=y"});
    CHECK(*form_value(*r, "a") == "1");  // the first one
    CHECK(parse_form("")->empty());
    CHECK(parse_form("&&&")->empty());
    // Only the first '=' splits.
    CHECK((*parse_form("k=a=b"))[0].second == "a=b");
}

TEST_CASE("parse_form: bytes pass through, %00 included (values are not text yet)") {
    auto r = parse_form("udh=%05%00%03%A7%02%01&t=%FF");
    REQUIRE(r.ok());
    CHECK((*r)[0].second == std::string("\x05\x00\x03\xa7\x02\x01", 6));
    CHECK((*r)[1].second == "\xff");
}

TEST_CASE("parse_form: bad escapes are errors naming the offset, never the input") {
    for (const char* bad : {"a=%", "a=%4", "a=%G1", "a=%1G", "a=ok&b=%%", "%zz=1", "a=%-1"}) {
        INFO(bad);
        auto r = parse_form(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "bad_form");
        CHECK(r.err().message.find("offset") != std::string::npos);
    }
    auto r = parse_form("secret=abc&b=%4");
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message.find("offset 13") != std::string::npos);
    CHECK(r.err().message.find("abc") == std::string::npos);
}

TEST_CASE("parse_form: overlong input and too many fields are refused") {
    form_limits limits;
    limits.max_bytes = 16;
    limits.max_fields = 3;
    CHECK(parse_form(std::string(16, 'a'), limits).ok());
    auto big = parse_form(std::string(17, 'a'), limits);
    REQUIRE_FALSE(big.ok());
    CHECK(big.err().code == "bad_form");
    CHECK(parse_form("a&b&c", limits).ok());
    auto many = parse_form("a&b&c&d", limits);
    REQUIRE_FALSE(many.ok());
    CHECK(many.err().message.find("more than 3") != std::string::npos);
    // The defaults: 256 KiB.
    CHECK(parse_form(std::string(256 * 1024, 'x')).ok());
    CHECK_FALSE(parse_form(std::string(256 * 1024 + 1, 'x')).ok());
}
