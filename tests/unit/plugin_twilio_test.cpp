// The twilio module, loaded through the plugin host like the daemon loads it.
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

const plugin_test::channel_block twilio_block{"conf/hotline.yaml", "sms", "twilio", 30, 5, 7};

const std::string sid = "AC0123456789abcdef0123456789abcdef";
const std::string token = "tw-auth-token-secret";

config::channel_option opt(std::string key, std::string value, int line, bool secret = false) {
    return twilio_block.option(std::move(key), std::move(value), line, secret);
}

std::vector<config::channel_option> base_options() {
    return {opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
            opt("from", "+15005550006", 33), opt("api_url", "http://127.0.0.1:9/", 34)};
}

std::shared_ptr<dispatch::channel_instance> make(dispatch::plugin_host& host,
                                                 std::vector<config::channel_option> options) {
    auto inst = host.instantiate_channel(twilio_block.config(options), "channels[1]");
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    return *inst;
}

core::error create_error(std::vector<config::channel_option> options) {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto inst = host.instantiate_channel(twilio_block.config(std::move(options)), "channels[1]");
    REQUIRE_FALSE(inst.ok());
    return inst.err();
}

}  // namespace

TEST_CASE("twilio is an SMS channel with status callbacks") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    CHECK(channel->is_sms());
    CHECK(channel->has_parse_status());
}

TEST_CASE("twilio build: the Messages API request, form-encoded, Cyrillic intact") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    sms_alert alert;
    alert.body = "Дело #7 & 100% \"срочно\" +1 = ok?";
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;
    CHECK(req.transport == HOTLINE_TRANSPORT_HTTP);
    CHECK(std::string(req.url) ==
          "http://127.0.0.1:9/2010-04-01/Accounts/" + sid + "/Messages.json");
    CHECK(std::string(req.method) == "POST");
    CHECK(std::string(req.username) == sid);
    CHECK(std::string(req.password) == token);
    const auto headers = plugin_test::headers_of(req);
    CHECK(headers.at("Content-Type") == "application/x-www-form-urlencoded");
    const std::string body(req.body, req.body_len);
    CHECK(plugin_test::strictly_encoded(body));
    const auto form = plugin_test::decode_form(body);
    REQUIRE(form.size() == 4);
    CHECK(form[0] == std::pair<std::string, std::string>{"To", "+79001234567"});
    CHECK(form[1] == std::pair<std::string, std::string>{"From", "+15005550006"});
    CHECK(form[2] == std::pair<std::string, std::string>{"Body", alert.body});
    CHECK(form[3] == std::pair<std::string, std::string>{"StatusCallback", alert.status_url});
    // '+' is escaped, so a form decoder cannot turn it into a space
    CHECK(body.find("To=%2B79001234567") != std::string::npos);
    CHECK(body.find("%D0%94%D0%B5%D0%BB%D0%BE") != std::string::npos);  // "Дело" as UTF-8
    // the token never travels in the body
    CHECK(body.find(token) == std::string::npos);
}

TEST_CASE("twilio build: messaging service, no status URL, older host") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel =
        make(host, {opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                    opt("messaging_service_sid", "MG0123456789abcdef0123456789abcdef", 33)});
    sms_alert alert;
    alert.status_url.clear();
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    CHECK(std::string((*built)->raw.url) ==
          "https://api.twilio.com/2010-04-01/Accounts/" + sid + "/Messages.json");
    const auto form = plugin_test::as_map(
        plugin_test::decode_form(std::string((*built)->raw.body, (*built)->raw.body_len)));
    CHECK(form.at("MessagingServiceSid") == "MG0123456789abcdef0123456789abcdef");
    CHECK(form.count("From") == 0);
    CHECK(form.count("StatusCallback") == 0);

    // a 1.0 host's alert ends before sms_encoding: no status callback is read past it
    alert.raw.struct_size = offsetof(hotline_alert, sms_encoding);
    alert.raw.status_url = nullptr;
    auto old = channel->build(alert.raw);
    REQUIRE(old.ok());
    CHECK(std::string((*old)->raw.body, (*old)->raw.body_len).find("StatusCallback") ==
          std::string::npos);
}

TEST_CASE("twilio build and addresses: E.164 only") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    for (const char* good :
         {"+79001234567", "+4915112345678", "+12025550123", "+123456789012345"}) {
        CAPTURE(good);
        CHECK(channel->validate_address(good).ok());
    }
    plugin_test::check_addresses_refused(
        *channel,
        {"", "79001234567", "+7 900 123 45 67", "+7-900-1234567", "+1234567", "+1234567890123456",
         "+07001234567", "tel:+79001234567", "+7900123456a", "https://example.org"},
        "twilio address");
    sms_alert alert;
    alert.address = "89001234567";
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE_FALSE(built.ok());
    CHECK(built.err().message.find("89001234567") == std::string::npos);
}

TEST_CASE("twilio options: errors name the option and its mark") {
    SUBCASE("missing account_sid points at the channel") {
        const auto e =
            create_error({opt("auth_token", token, 32, true), opt("from", "+15005550006", 33)});
        CHECK(e.context == "conf/hotline.yaml:30:5");
        CHECK(e.message.find("account_sid is required") != std::string::npos);
    }
    SUBCASE("missing token names its _file key") {
        const auto e = create_error({opt("account_sid", sid, 31), opt("from", "+15005550006", 33)});
        CHECK(e.message.find("auth_token_file is required") != std::string::npos);
    }
    SUBCASE("both from and messaging_service_sid") {
        auto options = base_options();
        options.push_back(opt("messaging_service_sid", "MG0123456789abcdef0123456789abcdef", 35));
        const auto e = create_error(options);
        CHECK(e.message.find("exactly one of from and messaging_service_sid") != std::string::npos);
    }
    SUBCASE("neither from nor messaging_service_sid") {
        const auto e =
            create_error({opt("account_sid", sid, 31), opt("auth_token", token, 32, true)});
        CHECK(e.message.find("exactly one of") != std::string::npos);
    }
    SUBCASE("bad values point at their line") {
        CHECK(create_error({opt("account_sid", "AC123", 31), opt("auth_token", token, 32, true),
                            opt("from", "+15005550006", 33)})
                  .context == "conf/hotline.yaml:31:7");
        const auto empty_token =
            create_error({opt("account_sid", sid, 31), opt("auth_token", " ", 32, true),
                          opt("from", "+1500555", 33)});
        CHECK(empty_token.context == "conf/hotline.yaml:32:7");
        CHECK(empty_token.message.rfind("channels[1].options.auth_token_file:", 0) == 0);
        CHECK(create_error({opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                            opt("from", "15005550006", 33)})
                  .context == "conf/hotline.yaml:33:7");
        CHECK(create_error({opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                            opt("from", "Hotline-NGO", 33)})
                  .context == "conf/hotline.yaml:33:7");
        CHECK(create_error({opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                            opt("from", "+15005550006", 33), opt("api_url", "ftp://x", 34)})
                  .context == "conf/hotline.yaml:34:7");
        const auto unknown =
            create_error({opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                          opt("from", "+15005550006", 33), opt("form", "x", 36)});
        CHECK(unknown.context == "conf/hotline.yaml:36:7");
        CHECK(unknown.message.find("unknown option") != std::string::npos);
    }
    SUBCASE("an alphanumeric sender id is fine") {
        dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
        auto inst = host.instantiate_channel(
            twilio_block.config({opt("account_sid", sid, 31), opt("auth_token", token, 32, true),
                                 opt("from", "Hotline", 33)}),
            "channels[1]");
        CHECK(inst.ok());
    }
}

TEST_CASE("twilio classify") {
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
    const std::string invalid_to =
        R"({"code": 21211, "message": "The 'To' number +79001234567 is not a valid phone number.",)"
        R"( "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})";
    const std::vector<row> table{
        {201,
         R"({"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"})",
         {},
         0,
         HOTLINE_DELIVERED,
         "SM0123456789abcdef0123456789abcdef",
         0,
         "twilio accepted"},
        {200, R"({"sid":"SMx"})", {}, 0, HOTLINE_DELIVERED, "SMx", 0, "twilio accepted"},
        {201, "not json", {}, 0, HOTLINE_DELIVERED, "", 0, "twilio accepted"},
        {400, invalid_to, {}, 0, HOTLINE_PERMANENT, "", 0, "twilio 21211 invalid number"},
        {400,
         R"({"code":21610,"message":"Attempt to send to unsubscribed recipient"})",
         {},
         0,
         HOTLINE_PERMANENT,
         "",
         0,
         "twilio 21610 unsubscribed (STOP)"},
        {400,
         R"({"code":21614,"message":"'To' number is not a valid mobile number"})",
         {},
         0,
         HOTLINE_PERMANENT,
         "",
         0,
         "twilio 21614 not a mobile number"},
        {400, R"({"code":21612})", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio 21612"},
        {400, R"({"code":21408})", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio 21408"},
        {400, R"({"code":"21606"})", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio 21606"},
        {400, "<html>bad</html>", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio rejected"},
        {404, R"({"code":20404})", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio 20404"},
        {401,
         R"({"code":20003,"message":"Authenticate"})",
         {},
         0,
         HOTLINE_RETRY,
         "",
         0,
         "twilio auth failed"},
        {403, "", {}, 0, HOTLINE_RETRY, "", 0, "twilio auth failed"},
        {429,
         R"({"code":20429})",
         {{"Retry-After", "7"}},
         0,
         HOTLINE_RETRY,
         "",
         7'000,
         "twilio 20429"},
        {429, "", {}, 0, HOTLINE_RETRY, "", 0, "twilio HTTP 429"},
        {500, "", {{"retry-after", "2"}}, 0, HOTLINE_RETRY, "", 2'000, "twilio HTTP 500"},
        {503,
         "",
         {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}},
         0,
         HOTLINE_RETRY,
         "",
         0,
         "twilio HTTP 503"},
        {0, "", {}, HOTLINE_TERR_COULDNT_CONNECT, HOTLINE_RETRY, "", 0, "twilio transport error 7"},
        {0,
         "",
         {},
         HOTLINE_TERR_OPERATION_TIMEDOUT,
         HOTLINE_RETRY,
         "",
         0,
         "twilio transport error 28"},
        {0, "", {}, HOTLINE_TERR_URL_MALFORMAT, HOTLINE_PERMANENT, "", 0, "twilio bad URL"},
        {0, "", {}, 0, HOTLINE_RETRY, "", 0, "twilio: no HTTP status"},
        {302, "", {}, 0, HOTLINE_PERMANENT, "", 0, "twilio unexpected HTTP 302"},
    };
    for (const auto& r : table) {
        CAPTURE(r.status);
        CAPTURE(r.body);
        CAPTURE(r.transport_error);
        reply_fixture reply(r.status, r.body, r.headers, r.transport_error, "boom");
        const hotline_outcome out = channel->classify(reply.raw);
        CHECK(out.kind == r.kind);
        CHECK(std::string(out.provider_id) == r.provider_id);
        CHECK(out.retry_after_ms == r.retry_after_ms);
        const std::string detail = out.detail;
        CAPTURE(detail);
        CHECK(detail.rfind(r.detail, 0) == 0);
        CHECK(detail.find("79001234567") == std::string::npos);
        CHECK(detail.find(token) == std::string::npos);
    }
}

TEST_CASE("twilio parse_status") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    const std::string msid = "SM0123456789abcdef0123456789abcdef";
    using params = std::vector<std::pair<std::string, std::string>>;
    const auto base = [&](std::string status) {
        return params{{"MessageSid", msid},
                      {"SmsSid", msid},
                      {"AccountSid", sid},
                      {"To", "+79001234567"},
                      {"MessageStatus", std::move(status)}};
    };
    SUBCASE("delivered") {
        const auto s = channel->parse_status(base("delivered"));
        CHECK(s.state == HOTLINE_STATUS_DELIVERED);
        CHECK(std::string(s.provider_id) == msid);
    }
    SUBCASE("in-between states are ignored") {
        for (const char* st : {"queued", "accepted", "sending", "sent", "scheduled", "weird", ""}) {
            CAPTURE(st);
            CHECK(channel->parse_status(base(st)).state == HOTLINE_STATUS_IGNORE);
        }
        CHECK(channel->parse_status({}).state == HOTLINE_STATUS_IGNORE);
    }
    SUBCASE("failures: permanent for a bad number, not for an unreachable handset") {
        struct row {
            std::string status;
            std::string code;
            int permanent;
            std::string detail;
        };
        for (const auto& r : std::vector<row>{
                 {"undelivered", "30005", 1, "twilio undelivered: twilio 30005 unknown handset"},
                 {"undelivered", "30006", 1, "twilio undelivered: twilio 30006 landline"},
                 {"failed", "21211", 1, "twilio failed: twilio 21211 invalid number"},
                 {"failed", "21610", 1, "twilio failed: twilio 21610"},
                 {"failed", "21614", 1, "twilio failed: twilio 21614"},
                 {"undelivered", "30003", 0, "twilio undelivered: twilio 30003 unreachable"},
                 {"undelivered", "30007", 0, "twilio undelivered: twilio 30007"},
                 {"failed", "", 0, "twilio failed"},
                 {"failed", "garbage", 0, "twilio failed"},
             }) {
            CAPTURE(r.status);
            CAPTURE(r.code);
            auto p = base(r.status);
            if (!r.code.empty()) {
                p.emplace_back("ErrorCode", r.code);
            }
            const auto s = channel->parse_status(p);
            CHECK(s.state == HOTLINE_STATUS_FAILED);
            CHECK(s.permanent == r.permanent);
            CHECK(std::string(s.provider_id) == msid);
            CHECK(std::string(s.detail).rfind(r.detail, 0) == 0);
            CHECK(std::string(s.detail).find("79001234567") == std::string::npos);
        }
    }
}
