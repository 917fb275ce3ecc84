// The route table: pattern matching with captures, 404/405, precedence, trailing
// slashes, percent-encoding, over-long segments; and the standard routes' table.
#include <doctest/doctest.h>

#include <string>

#include "http/endpoints/endpoints.hpp"
#include "http/route_table.hpp"
#include "http/server.hpp"

using namespace hotline::http;
namespace core = hotline::core;
namespace config = hotline::config;
namespace domain = hotline::domain;
namespace ingest = hotline::ingest;
namespace asio = boost::asio;
using kind = route_match::kind;

namespace {

handler answer(unsigned status) {
    return [status](exchange&) -> asio::awaitable<reply> {
        return [](unsigned s) -> asio::awaitable<reply> { co_return text_reply(s, ""); }(status);
    };
}

endpoint make(std::string pattern, method m, unsigned status = 200) {
    endpoint e;
    e.pattern = std::move(pattern);
    e.methods = m;
    e.handle = answer(status);
    return e;
}

void add(route_table& t, std::string pattern, method m) {
    const auto s = t.add(make(std::move(pattern), m));
    REQUIRE(s.ok());
}

std::string param(const route_match& m, const std::string& name) {
    for (const auto& [k, v] : m.captured) {
        if (k == name) {
            return v;
        }
    }
    return "<none>";
}

class no_app final : public application {
public:
    [[nodiscard]] std::shared_ptr<const config::config> current_config() const override {
        return nullptr;
    }
    [[nodiscard]] bool ready() const override { return true; }
};

}  // namespace

TEST_CASE("standard routes: exact paths, query ignored, labels") {
    asio::io_context io;
    core::metrics metrics;
    no_app app;
    ingest::pipeline pipe(io.get_executor(), metrics, nullptr, nullptr);
    const auto t = standard_routes(app, pipe, metrics);
    const auto label_of = [&](std::string_view target, method m = method::get) {
        const auto r = t.match(target, m);
        return std::string(t.route_label(r.route));
    };
    CHECK(label_of("/v1/reports", method::post) == "/v1/reports");
    CHECK(label_of("/v1/reports?x=1", method::post) == "/v1/reports");
    CHECK(label_of("/healthz") == "/healthz");
    CHECK(label_of("/readyz") == "/readyz");
    CHECK(label_of("/metrics") == "/metrics");
    CHECK(label_of("/v1/reports/") == "other");
    CHECK(label_of("/V1/REPORTS") == "other");
    CHECK(label_of("http://host/healthz") == "other");
    CHECK(label_of("") == "other");
    CHECK(label_of("*") == "other");
    CHECK(t.route_label(t.route_count()) == "other");

    CHECK(t.match("/v1/reports", method::post).result == kind::found);
    CHECK(t.at(t.match("/v1/reports", method::post).index).auth == auth_kind::source_token);
    CHECK(t.at(t.match("/healthz", method::get).index).auth == auth_kind::none);
    CHECK(t.match("/healthz", method::head).result == kind::found);
    auto m = t.match("/v1/reports", method::get);
    CHECK(m.result == kind::method_not_allowed);
    CHECK(m.allow == "POST");
    CHECK(t.route_label(m.route) == "/v1/reports");
    m = t.match("/metrics", method::post);
    CHECK(m.result == kind::method_not_allowed);
    CHECK(m.allow == "GET, HEAD");
    CHECK(t.match("/nope", method::get).result == kind::not_found);
}

TEST_CASE("dynamic segments are captured and decoded") {
    route_table t;
    add(t, "/v1/sms/{source}", method::post);
    add(t, "/v1/ack/{token}", method::get);
    add(t, "/v1/cases/{case_id}/notes/{note}", method::get);

    auto m = t.match("/v1/sms/twilio", method::post);
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "source") == "twilio");
    CHECK(t.route_label(m.route) == "/v1/sms/{source}");  // the pattern, not the value

    m = t.match("/v1/ack/Ab-_9?utm=x", method::get);
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "token") == "Ab-_9");

    m = t.match("/v1/cases/12/notes/7", method::get);
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "case_id") == "12");
    CHECK(param(m, "note") == "7");
    CHECK(m.captured.size() == 2);

    // One segment each: no empty capture, no extra or missing segment.
    CHECK(t.match("/v1/sms/", method::post).result == kind::not_found);
    CHECK(t.match("/v1/sms", method::post).result == kind::not_found);
    CHECK(t.match("/v1/sms/a/b", method::post).result == kind::not_found);
    CHECK(t.match("/v1/cases//notes/7", method::get).result == kind::not_found);
    CHECK(t.match("/v1/SMS/twilio", method::post).result == kind::not_found);
}

TEST_CASE("trailing slashes and empty segments do not match") {
    route_table t;
    add(t, "/healthz", method::get);
    add(t, "/v1/sms/{source}", method::post);
    add(t, "/", method::get);
    CHECK(t.match("/healthz", method::get).result == kind::found);
    CHECK(t.match("/healthz/", method::get).result == kind::not_found);
    CHECK(t.match("//healthz", method::get).result == kind::not_found);
    CHECK(t.match("/v1/sms/x/", method::post).result == kind::not_found);
    CHECK(t.match("/v1//sms/x", method::post).result == kind::not_found);
    CHECK(t.match("/", method::get).result == kind::found);
    CHECK(t.route_label(t.match("/", method::get).route) == "/");
}

TEST_CASE("percent-encoding") {
    route_table t;
    add(t, "/v1/sms/{source}", method::post);
    auto m = t.match("/v1/sms/a%20b%2d%2D%41", method::post);
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "source") == "a b--A");
    m = t.match("/v1/sms/%D0%B0", method::post);  // UTF-8 bytes pass through
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "source") == "\xd0\xb0");
    // Malformed escapes, and a decoded '/', NUL or control byte, do not match.
    for (const char* bad : {"/v1/sms/%", "/v1/sms/%4", "/v1/sms/%zz", "/v1/sms/a%g1", "/v1/sms/%2F",
                            "/v1/sms/%2f", "/v1/sms/%00", "/v1/sms/%0A", "/v1/sms/%7F"}) {
        CAPTURE(bad);
        CHECK(t.match(bad, method::post).result == kind::not_found);
    }
    // Literal segments compare as received: an encoded literal is another path.
    CHECK(t.match("/v1/%73ms/x", method::post).result == kind::not_found);

    CHECK(decode_segment("a%2Bb") == std::optional<std::string>("a+b"));
    CHECK(decode_segment("") == std::optional<std::string>(""));
    CHECK_FALSE(decode_segment("%%41"));
}

TEST_CASE("over-long segments do not match") {
    route_table t;
    add(t, "/v1/ack/{token}", method::get);
    const std::string longest(max_param_size, 't');
    auto m = t.match("/v1/ack/" + longest, method::get);
    REQUIRE(m.result == kind::found);
    CHECK(param(m, "token") == longest);
    CHECK(t.match("/v1/ack/" + longest + "t", method::get).result == kind::not_found);
    // Counted decoded: 256 escapes are 256 bytes and match, 257 do not.
    std::string encoded;
    for (std::size_t i = 0; i < max_param_size; ++i) {
        encoded += "%41";
    }
    CHECK(t.match("/v1/ack/" + encoded, method::get).result == kind::found);
    CHECK(t.match("/v1/ack/" + encoded + "%41", method::get).result == kind::not_found);
    CHECK(t.match("/v1/ack/" + std::string(100'000, 'x'), method::get).result == kind::not_found);
}

TEST_CASE("precedence: a literal beats a capture, leftmost first, whatever the order") {
    route_table t;
    add(t, "/v1/sms/{source}", method::post);
    add(t, "/v1/sms/status", method::get);
    add(t, "/a/{x}/c", method::get);
    add(t, "/a/b/{y}", method::get);
    add(t, "/a/{x}/{y}", method::get);

    auto m = t.match("/v1/sms/status", method::get);
    REQUIRE(m.result == kind::found);
    CHECK(t.at(m.index).pattern == "/v1/sms/status");
    CHECK(m.captured.empty());
    // The most specific pattern decides the method too: no fall-through to {source}.
    m = t.match("/v1/sms/status", method::post);
    CHECK(m.result == kind::method_not_allowed);
    CHECK(m.allow == "GET, HEAD");
    CHECK(t.at(t.match("/v1/sms/other", method::post).index).pattern == "/v1/sms/{source}");

    CHECK(t.at(t.match("/a/b/c", method::get).index).pattern == "/a/b/{y}");
    CHECK(t.at(t.match("/a/z/c", method::get).index).pattern == "/a/{x}/c");
    CHECK(t.at(t.match("/a/z/z", method::get).index).pattern == "/a/{x}/{y}");

    route_table reversed;  // same patterns, added the other way round
    add(reversed, "/a/{x}/{y}", method::get);
    add(reversed, "/a/b/{y}", method::get);
    add(reversed, "/a/{x}/c", method::get);
    CHECK(reversed.at(reversed.match("/a/b/c", method::get).index).pattern == "/a/b/{y}");
    CHECK(reversed.at(reversed.match("/a/z/c", method::get).index).pattern == "/a/{x}/c");
}

TEST_CASE("methods: several endpoints on one pattern, 405 lists them all") {
    route_table t;
    const auto get = t.add(make("/v1/cases/{id}", method::get, 200));
    REQUIRE(get.ok());
    const auto del = t.add(make("/v1/cases/{id}", method::del, 204));
    REQUIRE(del.ok());
    CHECK(t.route_count() == 1);
    const auto g = t.match("/v1/cases/4", method::get);
    const auto d = t.match("/v1/cases/4", method::del);
    REQUIRE(g.result == kind::found);
    REQUIRE(d.result == kind::found);
    CHECK(g.index != d.index);
    CHECK(g.route == d.route);
    CHECK(t.at(d.index).methods == method::del);
    const auto p = t.match("/v1/cases/4", method::post);
    CHECK(p.result == kind::method_not_allowed);
    CHECK(p.allow == "GET, HEAD, DELETE");
    CHECK(t.match("/v1/cases/4", method::none).result == kind::method_not_allowed);
    CHECK(allow_list(method::post | method::options) == "POST, OPTIONS");
}

TEST_CASE("malformed endpoints are refused") {
    route_table t;
    for (const char* bad : {"", "v1/reports", "/v1//x", "/v1/", "/v1/{}", "/v1/{Source}",
                            "/v1/{a-b}", "/v1/{a}/{a}", "/v1/x{a}", "/v1/%41", "/v1/a?b"}) {
        CAPTURE(bad);
        const auto s = t.add(make(bad, method::get));
        REQUIRE_FALSE(s.ok());
        CHECK(s.err().code == "route");
    }
    CHECK_FALSE(t.add(make("/x", method::none)).ok());
    endpoint no_handler = make("/x", method::get);
    no_handler.handle = nullptr;
    CHECK_FALSE(t.add(std::move(no_handler)).ok());
    REQUIRE(t.add(make("/x", method::get)).ok());
    CHECK_FALSE(t.add(make("/x", method::head)).ok());  // GET took HEAD
    CHECK(t.add(make("/x", method::post)).ok());
    CHECK(t.size() == 2);
}
