// config: sources of kind sms (config/source_sms.cpp): defaults, every key, each gateway's
// required check, positioned errors, unique paths, the receipt's channel reference.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "config_test_support.hpp"
#include "temp_dir.hpp"

using hotline::config::load_config;
using hotline::config::load_result;
using hotline::test::temp_dir;

namespace {

using hotline::test::dump;

// Each expected line must start one error (position, key path and the start of the
// message), and there must be no other error.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    hotline::test::expect_errors(r, expected, hotline::test::error_starts_with);
}

// Line 1 secrets_dir, 2 "sources:", 3 "  - name: text", 4 "    kind: sms", then the
// source's keys from line 5 on.
std::string with_source(const std::string& keys, const std::string& more_sources = {}) {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - name: text\n"
           "    kind: sms\n" +
           keys + more_sources +
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
           "route:\n"
           "  notify: [responder:alice]\n";
}

}  // namespace

TEST_CASE("sms source: twilio defaults") {
    const temp_dir dir("hotline-sms");
    dir.write("secrets/twilio.token", "12345\n");
    const auto r = load_config(dir.write("main.yaml", with_source("    gateway: twilio\n"
                                                                  "    auth_token_file: "
                                                                  "twilio.token\n")));
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& s = r.cfg->sources.at(0);
    CHECK(s.kind == "sms");
    CHECK(s.sms.gateway == "twilio");
    CHECK(s.sms.path == "/v1/sms/text");
    CHECK(s.sms.auth_token.value == "12345");
    CHECK(s.sms.default_region.empty());
    CHECK(s.sms.public_url.empty());
    CHECK(s.sms.parts_timeout == std::chrono::minutes(2));
    CHECK_FALSE(s.sms.receipt.enabled);
}

TEST_CASE("sms source: every key") {
    const temp_dir dir("hotline-sms");
    dir.write("secrets/vonage.sig", "sigsecret");
    dir.write("secrets/vonage.token", "0123456789abcdef0123");
    dir.write("secrets/kannel.secret", "k");
    const auto r = load_config(
        dir.write("main.yaml", with_source("    gateway: vonage\n"
                                           "    path: /v1/inbound/vonage\n"
                                           "    default_region: RU\n"
                                           "    public_url: https://hotline.example.org/v1/in\n"
                                           "    signature_secret_file: vonage.sig\n"
                                           "    signature_method: sha256\n"
                                           "    token_file: vonage.token\n"
                                           "    allowed_addresses: [10.0.0.0/8, \"::1\", "
                                           "2001:db8::/32]\n"
                                           "    parts_timeout: 30s\n"
                                           "    default_language: ru\n"
                                           "    receipt:\n"
                                           "      enabled: true\n"
                                           "      channel: hook\n"
                                           "      max_per_day: 3\n"
                                           "      text: {en: Received., ru: Получено.}\n",
                                           "  - name: box\n"
                                           "    kind: sms\n"
                                           "    gateway: kannel\n"
                                           "    secret_file: kannel.secret\n")));
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& m = r.cfg->sources.at(0).sms;
    CHECK(m.gateway == "vonage");
    CHECK(m.path == "/v1/inbound/vonage");
    CHECK(m.default_region == "RU");
    CHECK(m.public_url == "https://hotline.example.org/v1/in");
    CHECK(m.signature_secret.value == "sigsecret");
    CHECK(m.signature_method == "sha256");
    CHECK(m.token.value == "0123456789abcdef0123");
    CHECK(m.allowed_addresses == std::vector<std::string>{"10.0.0.0/8", "::1", "2001:db8::/32"});
    CHECK(m.parts_timeout == std::chrono::seconds(30));
    CHECK(m.default_language == "ru");
    CHECK(m.receipt.enabled);
    CHECK(m.receipt.channel == "hook");
    CHECK(m.receipt.max_per_day == 3);
    CHECK(m.receipt.text.at("ru") == "Получено.");
    const auto& k = r.cfg->sources.at(1).sms;
    CHECK(k.gateway == "kannel");
    CHECK(k.path == "/v1/sms/box");
    CHECK(k.shared_secret.value == "k");
}

TEST_CASE("sms source: positioned errors") {
    const temp_dir dir("hotline-sms");
    dir.write("secrets/t", "12345");
    dir.write("secrets/empty", "\n");
    SUBCASE("unknown gateway, with a suggestion") {
        const auto file = dir.write("main.yaml", with_source("    gateway: twillio\n"));
        expect_errors(load_config(file), {file + ":5:14: sources[0].gateway: "});
        const auto r = load_config(file);
        REQUIRE(!r.errors.empty());
        CHECK(r.errors[0].describe().find("twilio") != std::string::npos);
    }
    SUBCASE("missing gateway") {
        const auto file = dir.write("main.yaml", with_source("    path: /v1/sms/x\n"));
        expect_errors(load_config(file), {file + ":3:5: sources[0].gateway: missing"});
    }
    SUBCASE("each gateway's required check") {
        auto file = dir.write("a.yaml", with_source("    gateway: twilio\n"));
        expect_errors(load_config(file), {file + ":3:5: sources[0].auth_token_file: missing"});
        file = dir.write("b.yaml", with_source("    gateway: vonage\n"));
        expect_errors(load_config(file),
                      {file + ":3:5: sources[0].signature_secret_file: missing (a vonage source "
                              "needs signature_secret_file, token_file or allowed_addresses)"});
        file = dir.write("c.yaml", with_source("    gateway: kannel\n"));
        expect_errors(load_config(file), {file + ":3:5: sources[0].secret_file: missing"});
        file = dir.write("d.yaml", with_source("    gateway: smssync\n"
                                               "    allowed_addresses: [127.0.0.1]\n"));
        expect_errors(load_config(file),
                      {file + ":6:5: sources[0].allowed_addresses: does not apply to gateway "
                              "smssync",
                       file + ":3:5: sources[0].secret_file: missing"});
    }
    SUBCASE("a key of another gateway") {
        const auto file = dir.write("main.yaml", with_source("    gateway: twilio\n"
                                                             "    auth_token_file: t\n"
                                                             "    secret_file: t\n"));
        expect_errors(load_config(file),
                      {file + ":7:5: sources[0].secret_file: does not apply to gateway twilio"});
    }
    SUBCASE("bad values") {
        const auto file = dir.write("main.yaml", with_source("    gateway: kannel\n"
                                                             "    secret_file: empty\n"
                                                             "    path: /sms/x\n"
                                                             "    default_region: ru\n"
                                                             "    public_url: ftp://x/\n"
                                                             "    allowed_addresses: [10.0.0.1/8, "
                                                             "nonsense]\n"
                                                             "    parts_timeout: 2s\n"
                                                             "    default_language: Russian\n"));
        expect_errors(load_config(file),
                      {file + ":6:18: sources[0].secret_file: secret file",
                       file + ":7:11: sources[0].path: must start with /v1/",
                       file + ":8:21: sources[0].default_region: must be an ISO 3166-1",
                       file + ":9:17: sources[0].public_url: expected the http:// or https://",
                       file + ":10:25: sources[0].allowed_addresses[0]: expected an address",
                       file + ":10:37: sources[0].allowed_addresses[1]: expected an address",
                       file + ":11:20: sources[0].parts_timeout: must be between 10s and 1h",
                       file + ":12:23: sources[0].default_language: must be an ISO 639"});
        const auto r = load_config(file);
        bool hinted = false;
        for (const auto& e : r.errors) {
            hinted = hinted || e.describe().find("did you mean \"RU\"") != std::string::npos;
        }
        CHECK(hinted);
    }
    SUBCASE("a secret inline is an unknown key") {
        const auto file = dir.write("main.yaml", with_source("    gateway: twilio\n"
                                                             "    auth_token: abc\n"));
        const auto r = load_config(file);
        CHECK(r.cfg == nullptr);
        CHECK(r.errors.size() >= 1);
    }
    SUBCASE("duplicate paths, and the webhook's path") {
        const auto file =
            dir.write("main.yaml", with_source("    gateway: twilio\n"
                                               "    auth_token_file: t\n"
                                               "    path: /v1/sms/in\n",
                                               "  - {name: in, kind: sms, gateway: smssync, "
                                               "secret_file: t}\n"
                                               "  - {name: w, kind: sms, gateway: smssync, "
                                               "secret_file: t, path: /v1/reports}\n"));
        expect_errors(load_config(file),
                      {file + ":8:5: sources[1].path: \"/v1/sms/in\" is already the path",
                       file + ":9:66: sources[2].path: is taken by the webhook endpoint"});
    }
    SUBCASE("receipt: unknown channel, missing texts, max_per_day out of range") {
        const auto file = dir.write("main.yaml", with_source("    gateway: smssync\n"
                                                             "    secret_file: t\n"
                                                             "    receipt:\n"
                                                             "      enabled: true\n"
                                                             "      channel: hookk\n"
                                                             "      max_per_day: 11\n"
                                                             "      text: {en: ok}\n"));
        expect_errors(load_config(file),
                      {file + ":9:16: sources[0].receipt.channel: unknown channel \"hookk\"",
                       file + ":10:20: sources[0].receipt.max_per_day: ",
                       file + ":11:13: sources[0].receipt.text.ru: missing"});
    }
    SUBCASE("vonage token must fit a path segment") {
        dir.write("secrets/short", "abc");
        const auto file = dir.write("main.yaml", with_source("    gateway: vonage\n"
                                                             "    token_file: short\n"));
        expect_errors(load_config(file), {file + ":6:17: sources[0].token_file: the token goes"});
    }
}
