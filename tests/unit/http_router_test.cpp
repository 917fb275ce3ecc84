#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "http/auth.hpp"
#include "http/router.hpp"

using namespace hotline::http;
namespace core = hotline::core;
namespace config = hotline::config;
namespace domain = hotline::domain;

TEST_CASE("routes") {
    CHECK(route_of("/v1/reports") == route::reports);
    CHECK(route_of("/v1/reports?x=1") == route::reports);
    CHECK(route_of("/healthz") == route::healthz);
    CHECK(route_of("/readyz") == route::readyz);
    CHECK(route_of("/metrics") == route::metrics);
    CHECK(route_of("/v1/reports/") == route::other);
    CHECK(route_of("/V1/REPORTS") == route::other);
    CHECK(route_of("http://host/healthz") == route::other);
    CHECK(route_of("") == route::other);
    CHECK(route_of("*") == route::other);
    CHECK(route_label(route::reports) == "/v1/reports");
    CHECK(route_label(route::other) == "other");
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
