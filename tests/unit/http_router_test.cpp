#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "http/auth.hpp"
#include "http/router.hpp"

using namespace hotline::http;
namespace core = hotline::core;
namespace config = hotline::config;
namespace domain = hotline::domain;

// Which route a target names: see http_route_table_test.cpp.

TEST_CASE("case-insensitive compare and trim (core/text)") {
    CHECK(core::iequals("Content-Type", "content-type"));
    CHECK(core::iequals("", ""));
    CHECK(core::iequals("100-CONTINUE", "100-continue"));
    CHECK_FALSE(core::iequals("abc", "abd"));
    CHECK_FALSE(core::iequals("abc", "abcd"));
    CHECK_FALSE(core::iequals("[", "{"));                // '[' | 0x20 == '{': only A-Z fold
    CHECK_FALSE(core::iequals("\xc3\x89", "\xc3\xa9"));  // bytes outside ASCII as they are
    CHECK(core::trim("  \ta b\t ") == "a b");
    CHECK(core::trim(" \t ").empty());
    CHECK(core::trim("x") == "x");
    CHECK(core::trim("\nx\n") == "\nx\n");  // spaces and tabs only (HTTP OWS)
}

TEST_CASE("JSON media type") {
    CHECK(is_json_media_type("application/json"));
    CHECK(is_json_media_type("Application/JSON"));
    CHECK(is_json_media_type("application/json; charset=utf-8"));
    CHECK(is_json_media_type("application/json;charset=\"UTF-8\""));
    CHECK(is_json_media_type("application/json ; foo=bar"));
    CHECK(is_json_media_type("application/json;"));
    CHECK_FALSE(is_json_media_type(""));
    CHECK_FALSE(is_json_media_type("text/plain"));
    CHECK_FALSE(is_json_media_type("application/jsonx"));
    CHECK_FALSE(is_json_media_type("application/json-patch+json"));
    CHECK_FALSE(is_json_media_type("application/json; charset=iso-8859-1"));
    CHECK_FALSE(is_json_media_type("application/json; garbage"));
    CHECK_FALSE(is_json_media_type("multipart/form-data; boundary=x"));
}

TEST_CASE("bearer token extraction") {
    CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("bearer   abc  ") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("BEARER\tabc") == std::optional<std::string_view>("abc"));
    CHECK_FALSE(bearer_token(""));
    CHECK_FALSE(bearer_token("Bearer"));
    CHECK_FALSE(bearer_token("Bearer "));
    CHECK_FALSE(bearer_token("Bearerabc"));
    CHECK_FALSE(bearer_token("Basic YWJj"));
}

TEST_CASE("bodies are valid JSON") {
    const auto e = nlohmann::json::parse(error_body("bad_field", "unknown field \"x\"\n\x01"));
    CHECK(e["error"]["code"] == "bad_field");
    CHECK(e["error"]["message"] == "unknown field \"x\"\n\x01");
    CHECK(ids_body({7, 9, false}) == R"({"report_id":7,"case_id":9,"duplicate":false})");
    CHECK(ids_body({7, 9, true}) == R"({"report_id":7,"case_id":9,"duplicate":true})");
    // Byte-identical to the hand-written escaping it replaced.
    CHECK(error_body("c", "a\"b\\c\x01") == R"({"error":{"code":"c","message":"a\"b\\c\u0001"}})");
    CHECK(error_body("c", "Задержан") == R"({"error":{"code":"c","message":"Задержан"}})");
    // Bytes that are not UTF-8 no longer make invalid JSON (nor throw).
    CHECK(nlohmann::json::parse(error_body("c", "bad \xff byte"))["error"]["message"] ==
          "bad \xef\xbf\xbd byte");
}

TEST_CASE("token checker") {
    auto cfg = std::make_shared<config::config>();
    config::source_config a;
    a.name = "a";
    a.tokens.push_back({"tok-a", "f"});
    config::source_config b;
    b.name = "b";
    b.tokens.push_back({"tok-b1", "f"});
    b.tokens.push_back({"tok-b2", "f"});
    b.tokens.push_back({"", "f"});  // an empty token file never authenticates
    config::source_config mail;
    mail.name = "mail";
    mail.kind = "imap";
    mail.tokens.push_back({"tok-m", "f"});
    cfg->sources = {a, b, mail};
    const std::shared_ptr<const config::config> c = cfg;

    token_checker checker;
    const auto who = [&](std::string_view t, const std::shared_ptr<const config::config>& conf) {
        const std::string* s = checker.authenticate(t, conf);
        return s == nullptr ? std::string("-") : *s;
    };
    CHECK(who("tok-a", c) == "a");
    CHECK(who("tok-b1", c) == "b");
    CHECK(who("tok-b2", c) == "b");
    CHECK(who("tok-b", c) == "-");
    CHECK(who("tok-a ", c) == "-");
    CHECK(who("", c) == "-");
    CHECK(who("tok-m", c) == "-");
    CHECK(who("tok-a", nullptr) == "-");

    // A reload swaps the token set.
    auto next = std::make_shared<config::config>(*cfg);
    next->sources[0].tokens[0].value = "tok-a-rotated";
    const std::shared_ptr<const config::config> n = next;
    CHECK(who("tok-a", n) == "-");
    CHECK(who("tok-a-rotated", n) == "a");
    CHECK(who("tok-a", c) == "a");
}

TEST_CASE("person checker: responders' and admins' API tokens, partners' never") {
    auto cfg = std::make_shared<config::config>();
    const auto person = [](std::string id, std::string token) {
        domain::person p;
        p.id = std::move(id);
        p.api_token = std::move(token);
        return p;
    };
    cfg->responders = {person("alice", "alice-token-0123456789"), person("bob", ""),
                       person("carol", "carol-token-0123456789")};
    cfg->admins = {person("root", "root-token-0123456789")};
    cfg->partners = {person("ngo", "ngo-token-0123456789")};  // partners have no API access
    const std::shared_ptr<const config::config> c = cfg;

    person_checker checker;
    const auto who = [&](std::string_view t, const std::shared_ptr<const config::config>& conf) {
        const auto caller = checker.authenticate(t, conf);
        if (!caller) {
            return std::string("-");
        }
        CHECK(caller->config == conf);
        REQUIRE(caller->who != nullptr);
        CHECK(caller->target.ends_with(":" + caller->who->id));
        return caller->target + (caller->admin ? "!" : "");
    };
    CHECK(who("alice-token-0123456789", c) == "responder:alice");
    CHECK(who("carol-token-0123456789", c) == "responder:carol");
    CHECK(who("root-token-0123456789", c) == "admin:root!");
    CHECK(who("ngo-token-0123456789", c) == "-");
    CHECK(who("", c) == "-");  // bob has no token: an empty one matches nobody
    CHECK(who("alice-token-012345678", c) == "-");
    CHECK(who("alice-token-01234567890", c) == "-");
    CHECK(who("alice-token-0123456789", nullptr) == "-");
    CHECK(who(std::string(100000, 'x'), c) == "-");

    // The caller's person lives in the config it was checked against, even after a reload
    // dropped that config everywhere else.
    auto caller = checker.authenticate("alice-token-0123456789", c);
    REQUIRE(caller);
    auto next = std::make_shared<config::config>(*cfg);
    next->responders[0].api_token = "alice-rotated-0123456789";
    const std::shared_ptr<const config::config> n = next;
    CHECK(who("alice-token-0123456789", n) == "-");
    CHECK(who("alice-rotated-0123456789", n) == "responder:alice");
    CHECK(caller->who->id == "alice");
    CHECK(caller->who == &caller->config->responders[0]);
}
