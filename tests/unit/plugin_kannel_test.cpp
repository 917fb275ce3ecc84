// The kannel module, loaded through the plugin host like the daemon loads it.
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

const plugin_test::channel_block kannel_block{
    "conf/hotline.yaml", "sms-kannel", "kannel", 50, 5, 7};

const std::string password = "foobar-sendsms";

config::channel_option opt(std::string key, std::string value, int line, bool secret = false) {
    return kannel_block.option(std::move(key), std::move(value), line, secret);
}

std::vector<config::channel_option> base_options() {
    return {opt("url", "http://127.0.0.1:13013/cgi-bin/sendsms", 51), opt("username", "tester", 52),
            opt("password", password, 53, true), opt("from", "1234", 54)};
}

std::vector<config::channel_option> with(config::channel_option o) {
    auto options = base_options();
    for (auto& x : options) {
        if (x.key == o.key) {
            x = o;
            return options;
        }
    }
    options.push_back(o);
    return options;
}

std::shared_ptr<dispatch::channel_instance> make(dispatch::plugin_host& host,
                                                 std::vector<config::channel_option> options) {
    auto inst = host.instantiate_channel(kannel_block.config(options), "channels[3]");
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    return *inst;
}

core::error create_error(std::vector<config::channel_option> options) {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto inst = host.instantiate_channel(kannel_block.config(std::move(options)), "channels[3]");
    REQUIRE_FALSE(inst.ok());
    return inst.err();
}

// The URL's base and its decoded query.
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> split(const char* url) {
    const std::string u = url;
    const auto q = u.find('?');
    REQUIRE(q != std::string::npos);
    const std::string query = u.substr(q + 1);
    CHECK(plugin_test::strictly_encoded(query));
    return {u.substr(0, q), plugin_test::decode_form(query)};
}

}  // namespace

TEST_CASE("kannel is an SMS channel with status callbacks") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    CHECK(channel->is_sms());
    CHECK(channel->has_parse_status());
}

TEST_CASE("kannel build: sendsms GET, UCS-2 as coding=2 UTF-8, the dlr-url with Kannel escapes") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    sms_alert alert;
    alert.status_url = "https://hotline.example.org/v1/status/sms/n3?sig=a%2Bb";
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;
    CHECK(req.transport == HOTLINE_TRANSPORT_HTTP);
    CHECK(std::string(req.method) == "GET");
    CHECK(req.body_len == 0);
    CHECK(req.username == nullptr);
    const auto [base, query] = split(req.url);
    CHECK(base == "http://127.0.0.1:13013/cgi-bin/sendsms");
    const std::vector<std::pair<std::string, std::string>> expected{
        {"username", "tester"},
        {"password", password},
        {"from", "1234"},
        {"to", "+79001234567"},
        {"text", alert.body},
        {"coding", "2"},
        {"charset", "UTF-8"},
        {"dlr-mask", "3"},
        {"dlr-url",
         "https://hotline.example.org/v1/status/sms/n3?sig=a%%2Bb&type=%d&smsc=%i&reply=%A"}};
    CHECK(query == expected);
}

TEST_CASE("kannel build: GSM-7 as coding=0; dlr_mask; no status URL; smsc") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    sms_alert alert;
    alert.body = "Case #7: detention. Reply ACK 7";
    alert.encoding = "gsm7";
    alert.status_url = "http://127.0.0.1:8080/v1/status/n3";
    alert.refresh();
    SUBCASE("defaults") {
        const auto channel = make(host, base_options());
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto query = plugin_test::as_map(split((*built)->raw.url).second);
        CHECK(query.at("coding") == "0");
        CHECK(query.at("text") == alert.body);
        CHECK(query.at("dlr-url") == "http://127.0.0.1:8080/v1/status/n3?type=%d&smsc=%i&reply=%A");
        CHECK(query.count("smsc") == 0);
    }
    SUBCASE("dlr_mask 31 and an smsc") {
        auto options = with(opt("dlr_mask", "31", 55));
        options.push_back(opt("smsc", "MTS", 56));
        const auto channel = make(host, options);
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto query = plugin_test::as_map(split((*built)->raw.url).second);
        CHECK(query.at("dlr-mask") == "31");
        CHECK(query.at("smsc") == "MTS");
    }
    SUBCASE("dlr_mask 0: no DLRs asked for") {
        const auto channel = make(host, with(opt("dlr_mask", "0", 55)));
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto query = plugin_test::as_map(split((*built)->raw.url).second);
        CHECK(query.count("dlr-mask") == 0);
        CHECK(query.count("dlr-url") == 0);
    }
    SUBCASE("no status URL: no DLRs asked for") {
        alert.status_url.clear();
        alert.refresh();
        const auto channel = make(host, base_options());
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto query = plugin_test::as_map(split((*built)->raw.url).second);
        CHECK(query.count("dlr-mask") == 0);
    }
    SUBCASE("a url with its own query keeps it") {
        const auto channel =
            make(host, with(opt("url", "http://127.0.0.1:13013/cgi-bin/sendsms?account=ngo", 51)));
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        CHECK(std::string((*built)->raw.url)
                  .rfind("http://127.0.0.1:13013/cgi-bin/sendsms?account=ngo&username=tester&",
                         0) == 0);
    }
}

TEST_CASE("kannel addresses: E.164 only") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    CHECK(channel->validate_address("+79001234567").ok());
    plugin_test::check_addresses_refused(
        *channel, {"79001234567", "+7 900", "", "+7900123456789012"}, "kannel address");
    sms_alert alert;
    alert.address = "+7900 1234567";
    alert.refresh();
    CHECK_FALSE(channel->build(alert.raw).ok());
}

TEST_CASE("kannel options: errors name the option and its mark") {
    SUBCASE("required options") {
        for (const char* key : {"url", "username", "password", "from"}) {
            CAPTURE(key);
            auto options = base_options();
            options.erase(std::remove_if(options.begin(), options.end(),
                                         [&](const auto& o) { return o.key == key; }),
                          options.end());
            const auto e = create_error(options);
            CHECK(e.context == "conf/hotline.yaml:50:5");
            CHECK(e.message.find("required") != std::string::npos);
        }
        auto options = base_options();
        options.erase(options.begin() + 2);
        CHECK(create_error(options).message.find("password_file is required") != std::string::npos);
    }
    SUBCASE("bad values point at their line") {
        CHECK(create_error(with(opt("url", "127.0.0.1:13013/cgi-bin/sendsms", 51))).context ==
              "conf/hotline.yaml:51:7");
        CHECK(create_error(with(opt("username", "a b", 52))).context == "conf/hotline.yaml:52:7");
        const auto pw = create_error(with(opt("password", "", 53, true)));
        CHECK(pw.context == "conf/hotline.yaml:53:7");
        CHECK(pw.message.rfind("channels[3].options.password_file:", 0) == 0);
        CHECK(create_error(with(opt("from", "", 54))).context == "conf/hotline.yaml:54:7");
        for (const char* bad : {"32", "-1", "x", "100", ""}) {
            CAPTURE(bad);
            CHECK(create_error(with(opt("dlr_mask", bad, 55))).context == "conf/hotline.yaml:55:7");
        }
        CHECK(create_error(with(opt("coding", "2", 57))).message.find("unknown option") !=
              std::string::npos);
    }
}

TEST_CASE("kannel classify") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    struct row {
        long status;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;
        int transport_error;
        int kind;
        std::string detail;
    };
    const std::vector<row> table{
        {202,
         "0: Accepted for delivery",
         {},
         0,
         HOTLINE_DELIVERED,
         "kannel HTTP 202 0: Accepted for delivery"},
        {202,
         "3: Queued for later delivery",
         {},
         0,
         HOTLINE_DELIVERED,
         "kannel HTTP 202 3: Queued"},
        {200, "", {}, 0, HOTLINE_DELIVERED, "kannel HTTP 200"},
        {403,
         "Authorization failed for sendsms",
         {},
         0,
         HOTLINE_PERMANENT,
         "kannel HTTP 403 Authorization failed"},
        {400,
         "Sender missing and no global set, rejected",
         {},
         0,
         HOTLINE_PERMANENT,
         "kannel HTTP 400 Sender missing"},
        {403,
         "Number(s) has/have been denied by white- and/or black-lists.",
         {},
         0,
         HOTLINE_PERMANENT,
         "kannel HTTP 403 Number(s)"},
        {503,
         "Sending failed.",
         {{"Retry-After", "5"}},
         0,
         HOTLINE_RETRY,
         "kannel HTTP 503 Sending failed."},
        {500, "", {}, 0, HOTLINE_RETRY, "kannel HTTP 500"},
        {0, "", {}, HOTLINE_TERR_COULDNT_CONNECT, HOTLINE_RETRY, "kannel transport error 7"},
        {0, "", {}, HOTLINE_TERR_OPERATION_TIMEDOUT, HOTLINE_RETRY, "kannel transport error 28"},
        {0, "", {}, HOTLINE_TERR_URL_MALFORMAT, HOTLINE_PERMANENT, "kannel bad URL"},
        {0, "", {}, 0, HOTLINE_RETRY, "kannel: no HTTP status"},
    };
    for (const auto& r : table) {
        CAPTURE(r.status);
        CAPTURE(r.body);
        reply_fixture reply(r.status, r.body, r.headers, r.transport_error, "boom");
        const hotline_outcome out = channel->classify(reply.raw);
        CHECK(out.kind == r.kind);
        const std::string detail = out.detail;
        CAPTURE(detail);
        CHECK(detail.rfind(r.detail, 0) == 0);
        CHECK(detail.find(password) == std::string::npos);
    }
    reply_fixture limited(503, "", {{"Retry-After", "5"}});
    CHECK(channel->classify(limited.raw).retry_after_ms == 5'000);
}

TEST_CASE("kannel parse_status (dlr-url)") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    const auto channel = make(host, base_options());
    const std::string receipt =
        "id:0123456789 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 "
        "stat:DELIVRD err:000 text:Задержан у суда";
    const auto d =
        channel->parse_status({{"sig", "x"}, {"type", "1"}, {"smsc", "FAKE"}, {"reply", receipt}});
    CHECK(d.state == HOTLINE_STATUS_DELIVERED);
    CHECK(std::string(d.detail) == "kannel delivered: stat:DELIVRD err:000");

    const auto failed = channel->parse_status(
        {{"type", "2"}, {"reply", "id:1 sub:001 dlvrd:000 stat:UNDELIV err:001 text:Secret text"}});
    CHECK(failed.state == HOTLINE_STATUS_FAILED);
    CHECK(failed.permanent == 0);
    CHECK(std::string(failed.detail) == "kannel undelivered to the phone: stat:UNDELIV err:001");

    const auto rejected = channel->parse_status(
        {{"type", "16"}, {"reply", "NACK/0x0000000b/Invalid Destination Address"}});
    CHECK(rejected.state == HOTLINE_STATUS_FAILED);
    CHECK(rejected.permanent == 1);
    CHECK(std::string(rejected.detail) ==
          "kannel rejected by the SMSC: NACK/0x0000000b/Invalid Destination Address");

    const auto throttled =
        channel->parse_status({{"type", "16"}, {"reply", "NACK/0x00000058/Throttling error"}});
    CHECK(throttled.state == HOTLINE_STATUS_FAILED);
    CHECK(throttled.permanent == 0);

    for (const char* t : {"4", "8", "0", "", "x", "999"}) {
        CAPTURE(t);
        CHECK(channel->parse_status({{"type", t}}).state == HOTLINE_STATUS_IGNORE);
    }
    CHECK(channel->parse_status({}).state == HOTLINE_STATUS_IGNORE);
    // the receipt's text: field (the message's start) never reaches the detail
    CHECK(std::string(d.detail).find("text") == std::string::npos);
}
