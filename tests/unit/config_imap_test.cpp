// config: sources of kind imap (config/source_imap.cpp): defaults, every key, positioned
// errors, secrets from files only, plaintext only to loopback.
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

// Every error must be present, and nothing else.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    hotline::test::expect_errors(r, expected, hotline::test::error_equals);
}

// Line 1 secrets_dir, line 2 "sources:", line 3 "  - name: mail", then the source's keys
// from line 4 on.
std::string with_source(const std::string& keys) {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - name: mail\n"
           "    kind: imap\n" +
           keys +
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
           "route:\n"
           "  notify: [responder:alice]\n";
}

}  // namespace

TEST_CASE("imap source: defaults") {
    const temp_dir dir("hotline-imap");
    dir.write("secrets/imap.password", "pa55\n");
    const auto r =
        load_config(dir.write("main.yaml", with_source("    host: imap.example.org\n"
                                                       "    username: hotline\n"
                                                       "    password_file: imap.password\n")));
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    REQUIRE(r.cfg->sources.size() == 1);
    const auto& s = r.cfg->sources[0];
    CHECK(s.kind == "imap");
    CHECK(s.imap.host == "imap.example.org");
    CHECK(s.imap.port == 993);
    CHECK(s.imap.tls == "tls");
    CHECK(s.imap.username == "hotline");
    CHECK(s.imap.password.value == "pa55");
    CHECK(s.imap.mailbox == "INBOX");
    CHECK(s.imap.move_to.empty());
    CHECK(s.imap.poll_interval == std::chrono::seconds(60));
    CHECK(s.imap.timeout == std::chrono::seconds(30));
    CHECK(s.imap.max_message_size == 25u * 1024 * 1024);
    CHECK(s.imap.max_attachment_size == 10u * 1024 * 1024);
    CHECK(s.imap.default_language.empty());
    CHECK(s.tokens.empty());
}

TEST_CASE("imap source: every key is read") {
    const temp_dir dir("hotline-imap");
    dir.write("secrets/imap.password", "pa55");
    dir.write("ca.pem", "x");
    const auto r = load_config(dir.write(
        "main.yaml", with_source("    host: 127.0.0.1\n"
                                 "    port: 1143\n"
                                 "    tls: starttls\n"
                                 "    ca_file: ca.pem\n"
                                 "    username: hotline@example.org\n"
                                 "    password_file: imap.password\n"
                                 "    mailbox: Reports\n"
                                 "    after_store: {move: Done}\n"
                                 "    poll_interval: 15s\n"
                                 "    timeout: 5s\n"
                                 "    max_message_size: 5MiB\n"
                                 "    max_attachment_size: 1MiB\n"
                                 "    default_language: ru\n"
                                 "    rate_limits: {source: {rate: 50/s, burst: 100}}\n")));
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& m = r.cfg->sources[0].imap;
    CHECK(m.port == 1143);
    CHECK(m.tls == "starttls");
    CHECK(m.ca_file == dir.file("ca.pem"));
    CHECK(m.mailbox == "Reports");
    CHECK(m.move_to == "Done");
    CHECK(m.poll_interval == std::chrono::seconds(15));
    CHECK(m.timeout == std::chrono::seconds(5));
    CHECK(m.max_message_size == 5u * 1024 * 1024);
    CHECK(m.max_attachment_size == 1u * 1024 * 1024);
    CHECK(m.default_language == "ru");
    CHECK(r.cfg->limits_for("mail").source.rate == 50);

    SUBCASE("tls: none on loopback, port 143 by default") {
        const auto plain =
            load_config(dir.write("plain.yaml", with_source("    host: 127.0.0.1\n"
                                                            "    tls: none\n"
                                                            "    username: u\n"
                                                            "    password_file: imap.password\n"
                                                            "    after_store: seen\n")));
        INFO(dump(plain));
        REQUIRE(plain.cfg != nullptr);
        CHECK(plain.cfg->sources[0].imap.port == 143);
        CHECK(plain.cfg->sources[0].imap.move_to.empty());
    }
}

TEST_CASE("imap source: positioned errors") {
    const temp_dir dir("hotline-imap");
    dir.write("secrets/imap.password", "pa55");
    SUBCASE("missing host, username and password_file") {
        const auto file = dir.write("main.yaml", with_source("    port: 993\n"));
        expect_errors(load_config(file),
                      {file + ":3:5: sources[0].host: missing (an imap source needs the server's "
                              "host name)",
                       file + ":3:5: sources[0].username: missing (the IMAP login name)",
                       file + ":3:5: sources[0].password_file: missing (a file holding the IMAP "
                              "password)"});
    }
    SUBCASE("an inline password, plaintext off loopback, bad values, did-you-mean") {
        const auto file =
            dir.write("main.yaml", with_source("    host: imap.example.org\n"     // 5
                                               "    tls: none\n"                  // 6
                                               "    username: u\n"                // 7
                                               "    password: hunter2\n"          // 8
                                               "    port: 0\n"                    // 9
                                               "    after_store: delete\n"        // 10
                                               "    poll_interval: 0s\n"          // 11
                                               "    default_language: Russian\n"  // 12
                                               "    mailbx: INBOX\n"));           // 13
        expect_errors(
            load_config(file),
            {file + ":6:10: sources[0].tls: none sends the password and every mail in clear: it "
                    "is allowed only for a loopback host (127.0.0.1, ::1, localhost); use tls or "
                    "starttls",
             file + ":8:5: sources[0].password: secrets must come from a file: use password_file",
             file + ":3:5: sources[0].password_file: missing (a file holding the IMAP password)",
             file + ":9:11: sources[0].port: expected an integer from 1 to 65535, got 0",
             file +
                 ":10:18: sources[0].after_store: expected seen or {move: FOLDER}, got \"delete\"",
             file + ":11:20: sources[0].poll_interval: expected a duration above zero, got \"0s\"",
             file + ":12:23: sources[0].default_language: must be an ISO 639 code of 2-3 "
                    "lower-case letters (en, ru, uk)",
             file + ":13:5: sources[0].mailbx: unknown key; did you mean \"mailbox\"?"});
    }
    SUBCASE("move into the watched mailbox itself") {
        const auto file = dir.write("main.yaml", with_source("    host: imap.example.org\n"
                                                             "    username: u\n"
                                                             "    password_file: imap.password\n"
                                                             "    after_store: {move: INBOX}\n"));
        expect_errors(
            load_config(file),
            {file + ":8:25: sources[0].after_store.move: names the watched mailbox itself"});
    }
    SUBCASE("durations out of their range") {
        const auto file = dir.write("main.yaml", with_source("    host: imap.example.org\n"
                                                             "    username: u\n"
                                                             "    password_file: imap.password\n"
                                                             "    poll_interval: 48h\n"
                                                             "    timeout: 20m\n"));
        expect_errors(load_config(file),
                      {file + ":8:20: sources[0].poll_interval: must be between 1s and 1d",
                       file + ":9:14: sources[0].timeout: must be between 1s and 10m"});
    }
}
