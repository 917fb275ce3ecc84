// The webhook module, loaded through the plugin host like the daemon loads it.
#include <doctest/doctest.h>

#include <sodium.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"
#include "plugin_test_support.hpp"

using namespace hotline;

namespace {

const plugin_test::channel_block webhook_block{
    "conf/hotline.yaml", "ops-webhook", "webhook", 20, 5, 7};

config::channel_option opt(std::string key, std::string value, int line, bool secret = false) {
    return webhook_block.option(std::move(key), std::move(value), line, secret);
}

const std::string secret = "s3cr3t-signing-key";

std::shared_ptr<dispatch::channel_instance> make(dispatch::plugin_host& host,
                                                 std::vector<config::channel_option> extra = {}) {
    std::vector<config::channel_option> options{opt("secret", secret, 21, true)};
    options.insert(options.end(), extra.begin(), extra.end());
    auto inst = host.instantiate_channel(webhook_block.config(options), "channels[0]");
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    return *inst;
}

core::error create_error(std::vector<config::channel_option> options) {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto inst = host.instantiate_channel(webhook_block.config(std::move(options)), "channels[0]");
    REQUIRE_FALSE(inst.ok());
    return inst.err();
}

struct alert_fixture {
    std::string address{"https://hooks.example.org/in?x=1"};
    std::string payload{
        R"({"kind":"alert","report_id":1,"case_id":7,"notification_id":3,"severity":"critical",)"
        R"("labels":{"kind":"detention"},"text":"Задержан у суда","target":"responder:bob"})"};
    std::string subject{"[hotline] Дело #7 (критично): задержание"};
    std::string body{"Текст\nTo acknowledge, reply ACK 7"};
    hotline_alert raw{};
    alert_fixture() {
        raw.struct_size = sizeof raw;
        raw.notification_id = "3";
        raw.idempotency_key = "n3-a";
        raw.address = address.c_str();
        raw.subject = subject.c_str();
        raw.body = body.c_str();
        raw.payload_json = payload.c_str();
        raw.severity = "critical";
        raw.language = "ru";
        raw.now_unix = 1'764'061'200;
        raw.attempt = 2;
    }
};

std::map<std::string, std::string> headers_of(const hotline_request& req) {
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < req.n_headers; ++i) {
        out[req.headers[i].key] = req.headers[i].value;
    }
    return out;
}

std::string hmac_hex(const std::string& key, const std::string& message) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[sizeof mac * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return hex;
}

struct reply_fixture {
    std::vector<std::pair<std::string, std::string>> header_text;
    std::vector<hotline_kv> headers;
    std::string body;
    std::string error_text;
    hotline_reply raw{};
    reply_fixture(long status, std::string b = {},
                  std::vector<std::pair<std::string, std::string>> h = {}, int transport_error = 0,
                  std::string err = {})
        : header_text(std::move(h)), body(std::move(b)), error_text(std::move(err)) {
        for (const auto& [k, v] : header_text) {
            headers.push_back({k.c_str(), v.c_str()});
        }
        raw.struct_size = sizeof raw;
        raw.transport = HOTLINE_TRANSPORT_HTTP;
        raw.transport_error = transport_error;
        raw.error_text = error_text.c_str();
        raw.status = status;
        raw.body = body.c_str();
        raw.body_len = body.size();
        raw.headers = headers.data();
        raw.n_headers = headers.size();
    }
};

}  // namespace

TEST_CASE("webhook build: signed JSON body with message, payload and the agreed headers") {
    REQUIRE(sodium_init() >= 0);
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, {opt("header.X-Tenant", "ngo-1", 22)});
    alert_fixture alert;
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;

    CHECK(req.transport == HOTLINE_TRANSPORT_HTTP);
    CHECK(std::string(req.url) == alert.address);
    CHECK(std::string(req.method) == "POST");
    CHECK(req.insecure_skip_verify == 0);
    const std::string body(req.body, req.body_len);
    const auto headers = headers_of(req);
    CHECK(headers.at("Content-Type") == "application/json");
    CHECK(headers.at("Idempotency-Key") == "n3-a");
    CHECK(headers.at("User-Agent") == std::string("hotline/") + HOTLINE_VERSION);
    CHECK(headers.at("X-Tenant") == "ngo-1");

    const auto doc = nlohmann::json::parse(body);
    CHECK(doc["message"]["subject"] == alert.subject);
    CHECK(doc["message"]["body"] == alert.body);
    CHECK(doc["case_id"] == 7);
    CHECK(doc["text"] == "Задержан у суда");
    CHECK(doc["labels"]["kind"] == "detention");
    CHECK(doc["target"] == "responder:bob");

    const std::string sig = headers.at("X-Hotline-Signature");
    const std::string expected_t = "t=1764061200,v1=";
    REQUIRE(sig.rfind(expected_t, 0) == 0);
    const std::string v1 = sig.substr(expected_t.size());
    CHECK(v1.size() == 64);
    CHECK(v1 == hmac_hex(secret, "1764061200." + body));
    CHECK(v1 != hmac_hex(secret, "1764061201." + body));       // the timestamp is covered
    CHECK(v1 != hmac_hex("other-key", "1764061200." + body));  // and the key matters
}

TEST_CASE("webhook build: PUT, a retry keeps the idempotency key, insecure flag passes through") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel =
        make(host, {opt("method", "PUT", 22), opt("insecure_skip_verify", "true", 23)});
    alert_fixture alert;
    auto first = channel->build(alert.raw);
    alert.raw.attempt = 3;
    alert.raw.now_unix += 60;
    auto second = channel->build(alert.raw);
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(std::string((*first)->raw.method) == "PUT");
    CHECK((*first)->raw.insecure_skip_verify == 1);
    CHECK(headers_of((*first)->raw).at("Idempotency-Key") ==
          headers_of((*second)->raw).at("Idempotency-Key"));
    CHECK(headers_of((*first)->raw).at("X-Hotline-Signature") !=
          headers_of((*second)->raw).at("X-Hotline-Signature"));
}

TEST_CASE("webhook build: hostile input") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host);
    SUBCASE("payload that is not a JSON object is a build error") {
        for (const char* bad : {"[1,2]", "{", "", "null", "\"x\""}) {
            alert_fixture alert;
            alert.raw.payload_json = bad;
            auto built = channel->build(alert.raw);
            CHECK_FALSE(built.ok());
        }
    }
    SUBCASE("invalid UTF-8 in the rendered template is replaced, not fatal") {
        alert_fixture alert;
        alert.subject = "bad \xff\xfe bytes";
        alert.raw.subject = alert.subject.c_str();
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto doc =
            nlohmann::json::parse(std::string((*built)->raw.body, (*built)->raw.body_len));
        CHECK(doc["message"]["subject"].get<std::string>().find("\xEF\xBF\xBD") !=
              std::string::npos);
    }
    SUBCASE("a CR/LF in the idempotency key cannot add headers") {
        alert_fixture alert;
        alert.raw.idempotency_key = "k\r\nX-Evil: 1";
        CHECK_FALSE(channel->build(alert.raw).ok());
    }
    SUBCASE("a bad address at build time is an error, not a request") {
        alert_fixture alert;
        alert.raw.address = "ftp://example.org/";
        auto built = channel->build(alert.raw);
        REQUIRE_FALSE(built.ok());
        CHECK(built.err().message.find("http") != std::string::npos);
    }
    SUBCASE("a NULL payload means an empty object") {
        alert_fixture alert;
        alert.raw.payload_json = nullptr;
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto doc =
            nlohmann::json::parse(std::string((*built)->raw.body, (*built)->raw.body_len));
        CHECK(doc.size() == 1);
        CHECK(doc.contains("message"));
    }
}

TEST_CASE("webhook addresses") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host);
    for (const char* good :
         {"http://127.0.0.1:9000/hook", "https://example.org", "HTTPS://Example.org/a?b=c#d",
          "http://[::1]:8080/x", "http://user@host.example/p"}) {
        CAPTURE(good);
        CHECK(channel->validate_address(good).ok());
    }
    const std::string long_url = "https://example.org/" + std::string(3000, 'a');
    const std::vector<std::string> bad{"",
                                       "ftp://example.org",
                                       "http://",
                                       "https:///path",
                                       "http://a b/",
                                       "http://host\r\nX: y",
                                       "http://host:99999/",
                                       "http://host:0/",
                                       "http://host:x/",
                                       "javascript:alert(1)",
                                       "example.org/hook",
                                       "http://[::1/",
                                       long_url};
    plugin_test::check_addresses_refused(*channel, bad, "webhook address");
}

TEST_CASE("webhook options: errors name the option and its mark") {
    SUBCASE("unknown option") {
        const auto e = create_error({opt("secret", "k", 21, true), opt("methd", "POST", 22)});
        CHECK(e.context == "conf/hotline.yaml:22:7");
        CHECK(e.message.rfind("channels[0].options.methd: unknown option", 0) == 0);
    }
    SUBCASE("missing secret points at the channel") {
        const auto e = create_error({opt("method", "POST", 22)});
        CHECK(e.context == "conf/hotline.yaml:20:5");
        CHECK(e.message.find("secret") != std::string::npos);
    }
    SUBCASE("a secret option is shown with its _file key") {
        const auto e = create_error({opt("secret", "", 21, true)});
        CHECK(e.context == "conf/hotline.yaml:21:7");
        CHECK(e.message.rfind("channels[0].options.secret_file:", 0) == 0);
    }
    SUBCASE("bad values") {
        CHECK(create_error({opt("secret", "k", 21), opt("method", "PATCH", 22)}).context ==
              "conf/hotline.yaml:22:7");
        CHECK(create_error({opt("secret", "k", 21), opt("insecure_skip_verify", "maybe", 23)})
                  .context == "conf/hotline.yaml:23:7");
        CHECK(create_error({opt("secret", "k", 21), opt("header.Bad Name", "x", 24)}).context ==
              "conf/hotline.yaml:24:7");
        CHECK(create_error({opt("secret", "k", 21), opt("header.X-A", "a\r\nX-Evil: 1", 25)})
                  .context == "conf/hotline.yaml:25:7");
        const auto reserved =
            create_error({opt("secret", "k", 21), opt("header.x-hotline-signature", "forged", 26)});
        CHECK(reserved.message.find("set by the webhook channel") != std::string::npos);
    }
}

TEST_CASE("webhook classify") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host);
    struct row {
        long status;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;
        int transport_error;
        int kind;
        std::string provider_id;
        std::int64_t retry_after_ms;
    };
    const std::string long_id(300, 'z');
    const std::vector<row> table{
        {200, R"({"id":"evt_1"})", {}, 0, HOTLINE_DELIVERED, "evt_1", 0},
        {201, R"({"id":42})", {{"X-Request-Id", "ignored"}}, 0, HOTLINE_DELIVERED, "42", 0},
        {202, "", {{"x-request-id", "req-7"}}, 0, HOTLINE_DELIVERED, "req-7", 0},
        {204, "not json", {}, 0, HOTLINE_DELIVERED, "", 0},
        {200, R"({"id":{"nested":1}})", {}, 0, HOTLINE_DELIVERED, "", 0},
        {200,
         R"({"id":")" + long_id + R"("})",
         {},
         0,
         HOTLINE_DELIVERED,
         long_id.substr(0, 127),
         0},
        {200, R"({"id":"a b\r\nc"})", {}, 0, HOTLINE_DELIVERED, "abc", 0},
        {408, "", {}, 0, HOTLINE_RETRY, "", 0},
        {425, "", {}, 0, HOTLINE_RETRY, "", 0},
        {429, "", {{"Retry-After", "30"}}, 0, HOTLINE_RETRY, "", 30'000},
        {500, "", {}, 0, HOTLINE_RETRY, "", 0},
        {503, "", {{"retry-after", " 120 "}}, 0, HOTLINE_RETRY, "", 120'000},
        {503, "", {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}, 0, HOTLINE_RETRY, "", 0},
        {503, "", {{"Retry-After", "99999999"}}, 0, HOTLINE_RETRY, "", 24LL * 3600 * 1000},
        {503, "", {{"Retry-After", "-5"}}, 0, HOTLINE_RETRY, "", 0},
        {599, "", {}, 0, HOTLINE_RETRY, "", 0},
        {400, "", {}, 0, HOTLINE_PERMANENT, "", 0},
        {401, "", {}, 0, HOTLINE_PERMANENT, "", 0},
        {404, "", {}, 0, HOTLINE_PERMANENT, "", 0},
        {410, "", {}, 0, HOTLINE_PERMANENT, "", 0},
        {301, "", {}, 0, HOTLINE_PERMANENT, "", 0},
        {0, "", {}, 7, HOTLINE_RETRY, "", 0},      // connection refused
        {0, "", {}, 28, HOTLINE_RETRY, "", 0},     // timeout
        {0, "", {}, 6, HOTLINE_RETRY, "", 0},      // DNS
        {0, "", {}, 42, HOTLINE_RETRY, "", 0},     // cancelled at shutdown
        {0, "", {}, 3, HOTLINE_PERMANENT, "", 0},  // bad URL
        {0, "", {}, 1, HOTLINE_PERMANENT, "", 0},  // unsupported protocol
        {0, "", {}, 0, HOTLINE_RETRY, "", 0},
    };
    for (const auto& r : table) {
        CAPTURE(r.status);
        CAPTURE(r.transport_error);
        CAPTURE(r.body);
        reply_fixture reply(r.status, r.body, r.headers, r.transport_error, "boom");
        const hotline_outcome out = channel->classify(reply.raw);
        CHECK(out.kind == r.kind);
        CHECK(std::string(out.provider_id) == r.provider_id);
        CHECK(out.retry_after_ms == r.retry_after_ms);
        CHECK(std::string(out.detail).size() > 0);
    }
}
