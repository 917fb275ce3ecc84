// The vonage module, loaded through the plugin host like the daemon loads it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"
#include "plugin_sms_test_support.hpp"
#include "plugin_test_support.hpp"

using namespace hotline;
using plugin_test::reply_fixture;
using plugin_test::sms_alert;

namespace {

const plugin_test::channel_block vonage_block{
    "conf/hotline.yaml", "sms-vonage", "vonage", 40, 5, 7};

const std::string api_secret = "vonage-api-secret-42";

config::channel_option opt(std::string key, std::string value, int line, bool secret = false) {
    return vonage_block.option(std::move(key), std::move(value), line, secret);
}

std::vector<config::channel_option> base_options() {
    return {opt("api_key", "abcd1234", 41, true), opt("api_secret", api_secret, 42, true),
            opt("from", "HotlineNGO", 43), opt("api_url", "http://127.0.0.1:9", 44)};
}

std::shared_ptr<dispatch::channel_instance> make(dispatch::plugin_host& host,
                                                 std::vector<config::channel_option> options) {
    auto inst = host.instantiate_channel(vonage_block.config(options), "channels[2]");
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    return *inst;
}

core::error create_error(std::vector<config::channel_option> options) {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto inst = host.instantiate_channel(vonage_block.config(std::move(options)), "channels[2]");
    REQUIRE_FALSE(inst.ok());
    return inst.err();
}

std::vector<std::pair<std::string, std::string>> form_of(const hotline_request& req) {
    return plugin_test::decode_form(std::string(req.body, req.body_len));
}

}  // namespace

TEST_CASE("vonage is an SMS channel with status callbacks") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    CHECK(channel->is_sms());
    CHECK(channel->has_parse_status());
}

TEST_CASE("vonage build: the SMS API form, unicode for UCS-2, number without +") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    sms_alert alert;
    alert.body = "Задержан у суда & 50% +7";
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;
    CHECK(std::string(req.url) == "http://127.0.0.1:9/sms/json");
    CHECK(std::string(req.method) == "POST");
    CHECK(req.username == nullptr);
    CHECK(plugin_test::headers_of(req).at("Content-Type") == "application/x-www-form-urlencoded");
    const std::string body(req.body, req.body_len);
    CHECK(plugin_test::strictly_encoded(body));
    const auto form = form_of(req);
    const std::vector<std::pair<std::string, std::string>> expected{
        {"api_key", "abcd1234"},        {"api_secret", api_secret}, {"from", "HotlineNGO"},
        {"to", "79001234567"},          {"text", alert.body},       {"type", "unicode"},
        {"callback", alert.status_url}, {"client-ref", "3"}};
    CHECK(form == expected);
}

TEST_CASE("vonage build: GSM-7 is type=text; no callback without a status URL") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel =
        make(host, {opt("api_key", "abcd1234", 41, true), opt("api_secret", api_secret, 42, true),
                    opt("from", "447700900000", 43)});
    sms_alert alert;
    alert.body = "Case #7: detention. Reply ACK 7";
    alert.encoding = "gsm7";
    alert.status_url.clear();
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    CHECK(std::string((*built)->raw.url) == "https://rest.nexmo.com/sms/json");
    const auto form = plugin_test::as_map(form_of((*built)->raw));
    CHECK(form.at("type") == "text");
    CHECK(form.at("from") == "447700900000");
    CHECK(form.count("callback") == 0);

    SUBCASE("an older host that names no encoding: non-ASCII goes as unicode") {
        sms_alert old;
        old.raw.struct_size = offsetof(hotline_alert, sms_encoding);
        auto b = channel->build(old.raw);
        REQUIRE(b.ok());
        CHECK(plugin_test::as_map(form_of((*b)->raw)).at("type") == "unicode");
        CHECK(plugin_test::as_map(form_of((*b)->raw)).count("callback") == 0);
    }
}

TEST_CASE("vonage addresses: E.164 only") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    CHECK(channel->validate_address("+447700900000").ok());
    plugin_test::check_addresses_refused(*channel, {"447700900000", "+44 7700 900000", "", "+44"},
                                         "vonage address");
}

TEST_CASE("vonage options: errors name the option and its mark") {
    SUBCASE("missing key, secret or from") {
        CHECK(create_error({opt("api_secret", api_secret, 42, true), opt("from", "Hotline", 43)})
                  .message.find("api_key_file is required") != std::string::npos);
        CHECK(create_error({opt("api_key", "abcd1234", 41, true), opt("from", "Hotline", 43)})
                  .message.find("api_secret_file is required") != std::string::npos);
        const auto e = create_error(
            {opt("api_key", "abcd1234", 41, true), opt("api_secret", api_secret, 42, true)});
        CHECK(e.context == "conf/hotline.yaml:40:5");
        CHECK(e.message.find("from is required") != std::string::npos);
    }
    SUBCASE("bad values point at their line") {
        auto with = [](config::channel_option o) {
            auto options = base_options();
            for (auto& x : options) {
                if (x.key == o.key) {
                    x = o;
                    return options;
                }
            }
            options.push_back(o);
            return options;
        };
        CHECK(create_error(with(opt("from", "+447700900000", 43))).context ==
              "conf/hotline.yaml:43:7");
        CHECK(create_error(with(opt("from", "A very long sender", 43))).context ==
              "conf/hotline.yaml:43:7");
        CHECK(create_error(with(opt("api_key", "ab cd", 41, true)))
                  .message.rfind("channels[2].options.api_key_file:", 0) == 0);
        CHECK(create_error(with(opt("api_secret", "", 42, true))).context ==
              "conf/hotline.yaml:42:7");
        CHECK(create_error(with(opt("api_url", "rest.nexmo.com", 44))).context ==
              "conf/hotline.yaml:44:7");
        CHECK(create_error(with(opt("type", "unicode", 45))).message.find("unknown option") !=
              std::string::npos);
    }
}

TEST_CASE("vonage classify") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    struct row {
        long status;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;
        int transport_error;
        int kind;
        std::string provider_id;
        std::int64_t retry_after_ms;
        std::string detail;
    };
    const auto one = [](std::string status, std::string extra = {}) {
        return R"({"message-count":"1","messages":[{"status":")" + status + "\"" + extra + "}]}";
    };
    const std::vector<row> table{
        {200,
         R"({"message-count":"1","messages":[{"to":"79001234567","message-id":"0A0000000123ABCD1",)"
         R"("status":"0","remaining-balance":"3.14","message-price":"0.03","network":"25001"}]})",
         {},
         0,
         HOTLINE_DELIVERED,
         "0A0000000123ABCD1",
         0,
         "vonage accepted"},
        {200,
         R"({"message-count":"2","messages":[{"message-id":"A1","status":"0"},{"message-id":"A2","status":"0"}]})",
         {},
         0,
         HOTLINE_DELIVERED,
         "A1",
         0,
         "vonage accepted"},
        {200,
         one("1", R"(,"error-text":"Throughput Rate Exceeded - please wait [ 30 ] and retry")"),
         {},
         0,
         HOTLINE_RETRY,
         "",
         0,
         "vonage status 1 throttled: Throughput Rate Exceeded"},
        {200,
         one("5", R"(,"error-text":"Internal Error")"),
         {},
         0,
         HOTLINE_RETRY,
         "",
         0,
         "vonage status 5 internal error"},
        {200,
         one("2", R"(,"error-text":"Missing to param")"),
         {},
         0,
         HOTLINE_PERMANENT,
         "",
         0,
         "vonage status 2 missing parameters: Missing to param"},
        {200,
         one("3", R"(,"error-text":"Invalid to number 79001234567")"),
         {},
         0,
         HOTLINE_PERMANENT,
         "",
         0,
         "vonage status 3 invalid parameters: Invalid to number #"},
        {200,
         one("4", R"(,"error-text":"Bad Credentials")"),
         {},
         0,
         HOTLINE_PERMANENT,
         "",
         0,
         "vonage status 4 invalid credentials"},
        {200, one("6"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 6 invalid message"},
        {200, one("7"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 7 number barred"},
        {200, one("8"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 8"},
        {200, one("9"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 9"},
        {200, one("15"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 15 invalid sender"},
        {200, one("29"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 29 non-whitelisted"},
        {200, one("77"), {}, 0, HOTLINE_PERMANENT, "", 0, "vonage status 77"},
        {200, one("x"), {}, 0, HOTLINE_RETRY, "", 0, "vonage status ?"},
        {200,
         R"({"message-count":"2","messages":[{"message-id":"A1","status":"0"},{"status":"1"}]})",
         {},
         0,
         HOTLINE_RETRY,
         "",
         0,
         "vonage status 1"},
        {200, "{}", {}, 0, HOTLINE_RETRY, "", 0, "vonage answered 200 without messages[]"},
        {200, "garbage", {}, 0, HOTLINE_RETRY, "", 0, "vonage answered 200 without"},
        {200, R"({"messages":[]})", {}, 0, HOTLINE_RETRY, "", 0, "vonage answered 200 without"},
        {429, "", {{"Retry-After", "3"}}, 0, HOTLINE_RETRY, "", 3'000, "vonage HTTP 429"},
        {500, "", {}, 0, HOTLINE_RETRY, "", 0, "vonage HTTP 500"},
        {503, "", {{"Retry-After", "1"}}, 0, HOTLINE_RETRY, "", 1'000, "vonage HTTP 503"},
        {401, "", {}, 0, HOTLINE_RETRY, "", 0, "vonage auth failed"},
        {404, "", {}, 0, HOTLINE_PERMANENT, "", 0, "vonage unexpected HTTP 404"},
        {0, "", {}, HOTLINE_TERR_COULDNT_CONNECT, HOTLINE_RETRY, "", 0, "vonage transport error 7"},
        {0, "", {}, HOTLINE_TERR_UNSUPPORTED_PROTOCOL, HOTLINE_PERMANENT, "", 0, "vonage bad URL"},
        {0, "", {}, 0, HOTLINE_RETRY, "", 0, "vonage: no HTTP status"},
    };
    for (const auto& r : table) {
        CAPTURE(r.status);
        CAPTURE(r.body);
        reply_fixture reply(r.status, r.body, r.headers, r.transport_error, "boom");
        const hotline_outcome out = channel->classify(reply.raw);
        CHECK(out.kind == r.kind);
        CHECK(std::string(out.provider_id) == r.provider_id);
        CHECK(out.retry_after_ms == r.retry_after_ms);
        const std::string detail = out.detail;
        CAPTURE(detail);
        CHECK(detail.rfind(r.detail, 0) == 0);
        CHECK(detail.find("79001234567") == std::string::npos);
        CHECK(detail.find(api_secret) == std::string::npos);
    }
}

TEST_CASE("vonage parse_status (DLR)") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    using params = std::vector<std::pair<std::string, std::string>>;
    const auto dlr = [](std::string status, std::string err_code) {
        return params{{"msisdn", "79001234567"}, {"to", "HotlineNGO"},
                      {"network-code", "25001"}, {"messageId", "0A0000000123ABCD1"},
                      {"price", "0.03"},         {"status", std::move(status)},
                      {"scts", "2601011200"},    {"err-code", std::move(err_code)},
                      {"client-ref", "3"},       {"message-timestamp", "2026-01-01 12:00:00"}};
    };
    const auto d = channel->parse_status(dlr("delivered", "0"));
    CHECK(d.state == HOTLINE_STATUS_DELIVERED);
    CHECK(std::string(d.provider_id) == "0A0000000123ABCD1");
    for (const char* st : {"accepted", "buffered", "unknown", ""}) {
        CAPTURE(st);
        CHECK(channel->parse_status(dlr(st, "0")).state == HOTLINE_STATUS_IGNORE);
    }
    struct row {
        std::string status;
        std::string code;
        int permanent;
        std::string detail;
    };
    for (const auto& r : std::vector<row>{
             {"failed", "9", 1, "vonage failed: err-code 9 illegal number"},
             {"rejected", "3", 1, "vonage rejected: err-code 3 absent subscriber (permanent)"},
             {"failed", "4", 1, "vonage failed: err-code 4 call barred"},
             {"failed", "14", 1, "vonage failed: err-code 14"},
             {"expired", "2", 0, "vonage expired: err-code 2 absent subscriber (temporary)"},
             {"failed", "8", 0, "vonage failed: err-code 8 network error"},
             {"failed", "", 0, "vonage failed"},
             {"failed", "123456789", 0, "vonage failed"},
         }) {
        CAPTURE(r.status);
        CAPTURE(r.code);
        const auto s = channel->parse_status(dlr(r.status, r.code));
        CHECK(s.state == HOTLINE_STATUS_FAILED);
        CHECK(s.permanent == r.permanent);
        CHECK(std::string(s.detail).rfind(r.detail, 0) == 0);
        CHECK(std::string(s.detail).find("79001234567") == std::string::npos);
    }
}
