// config::load_config: the schema of notes/schema.md, positioned errors, includes, secrets,
// the shipped example configuration and hostile files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace fs = std::filesystem;
using hotline::config::load_config;
using hotline::config::load_result;

namespace {

// A fresh folder per test, removed afterwards.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "hotline-config-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // Writes a file (creating folders) and returns its path as a string.
    std::string write(const std::string& name, const std::string& content) const {
        const fs::path file = path / name;
        fs::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary);
        out << content;
        return file.string();
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

// Sets or unsets an environment variable for one test.
struct env_guard {
    std::string name;
    std::string saved;
    bool had{false};
    env_guard(std::string n, const char* value) : name(std::move(n)) {
        if (const char* old = std::getenv(name.c_str())) {
            had = true;
            saved = old;
        }
        if (value == nullptr) {
            ::unsetenv(name.c_str());
        } else {
            ::setenv(name.c_str(), value, 1);
        }
    }
    ~env_guard() {
        if (had) {
            ::setenv(name.c_str(), saved.c_str(), 1);
        } else {
            ::unsetenv(name.c_str());
        }
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;
};

std::vector<std::string> messages(const load_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) {
        out.push_back(e.describe());
    }
    return out;
}

bool has(const load_result& r, const std::string& line) {
    for (const auto& m : messages(r)) {
        if (m == line) {
            return true;
        }
    }
    return false;
}

std::string dump(const load_result& r) {
    std::string out;
    for (const auto& m : messages(r)) {
        out += m + "\n";
    }
    return out;
}

// Every error must be present, and nothing else.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    INFO("errors:\n" << dump(r));
    CHECK(r.cfg == nullptr);
    for (const auto& e : expected) {
        CHECK_MESSAGE(has(r, e), "missing: " << e);
    }
    CHECK(r.errors.size() == expected.size());
    for (const auto& e : r.errors) {
        CHECK(e.code == "config");
    }
}

// The smallest valid configuration; tests append to or replace parts of it.
const std::string sources_part =
    "sources:\n"
    "  - name: hook\n"
    "    token_file: token\n";
const std::string channels_part =
    "channels:\n"
    "  - name: mail\n"
    "    type: smtp\n"
    "    options: {url: \"smtp://127.0.0.1:2525\"}\n";
// Three lines, as before admins became required (fault 10), so positions below stay put.
const std::string responders_part =
    "responders:\n"
    "  - {id: alice, contacts: [{channel: mail, address: a@example.org}]}\n"
    "admins: [{id: ops, contacts: [{channel: mail, address: ops@example.org}]}]\n";
const std::string route_part =
    "route:\n"
    "  notify: [responder:alice]\n";

// Lines 1..2 are secrets_dir + sources header, so positions below are stable.
std::string minimal(const std::string& extra = {}) {
    return "secrets_dir: secrets\n" + sources_part + channels_part + responders_part + route_part +
           extra;
}

void write_secrets(const temp_dir& dir) {
    dir.write("secrets/token", "s3cret-token\n");
    dir.write("secrets/signing.key", "k3y\r\n\n");
}

}  // namespace

TEST_CASE("a minimal configuration loads with defaults") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file = dir.write("main.yaml", minimal());
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    REQUIRE(r.errors.empty());
    const auto& c = *r.cfg;
    CHECK(c.file == file);
    CHECK(c.base_dir == fs::path(file).parent_path().string());
    CHECK(c.secrets_dir == (dir.path / "secrets").string());
    CHECK(c.plugin_dir == HOTLINE_PLUGIN_DIR);
    CHECK(c.case_tag_prefix == "HOTLINE");
    CHECK(c.server.listen_address == "127.0.0.1");
    CHECK(c.server.port == 8080);
    CHECK(c.server.body_limit == 64 * 1024);
    CHECK(c.storage.path == (dir.path / "var/hotline.db").string());
    CHECK(c.storage.max_batch == 512);
    CHECK(c.logging.format == "text");
    CHECK(c.logging.level == "info");
    REQUIRE(c.sources.size() == 1);
    CHECK(c.sources[0].kind == "webhook");
    REQUIRE(c.sources[0].tokens.size() == 1);
    CHECK(c.sources[0].tokens[0].value == "s3cret-token");  // trailing newline cut
    CHECK(c.sources[0].at.line == 3);
    CHECK(c.sources[0].at.column == 5);
    REQUIRE(c.channels.size() == 1);
    CHECK(c.channels[0].concurrency == 16);
    CHECK(c.channels[0].max_queued == 1000);
    CHECK(c.channels[0].timeout == std::chrono::seconds(10));
    CHECK(c.channels[0].retry.max_attempts == 8);
    REQUIRE(c.channels[0].options.size() == 1);
    CHECK(c.channels[0].options[0].key == "url");
    CHECK(c.channels[0].options[0].value == "smtp://127.0.0.1:2525");
    CHECK_FALSE(c.channels[0].options[0].is_secret);
    REQUIRE(c.responders.size() == 1);
    CHECK(c.responders[0].name == "alice");  // defaults to the id
    CHECK(c.responders[0].language == "en");
    CHECK(c.responders[0].timezone == "UTC");
    CHECK(c.route.name == "root");
    REQUIRE(c.route.notify.size() == 1);
    CHECK(c.route.notify[0].str() == "responder:alice");
    CHECK(c.find_channel("mail") == &c.channels[0]);
    CHECK(c.find_channel("nope") == nullptr);
    CHECK(c.find_source("hook") == &c.sources[0]);
    CHECK(c.find_responder("alice") == &c.responders[0]);
    CHECK(c.find_partner("alice") == nullptr);
}

TEST_CASE("every setting is read") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    dir.write("secrets/t2", "second\n");
    dir.write("secrets/smtp.pass", "pw\n");
    const auto file = dir.write(
        "etc/main.yaml",
        "secrets_dir: ../secrets\n"
        "plugin_dir: ../plugins\n"
        "public_url: https://hotline.example.org\n"
        "server:\n"
        "  address: 0.0.0.0\n"
        "  port: 0\n"
        "  body_limit: 1MiB\n"
        "  read_timeout: 1m30s\n"
        "  idle_timeout: 250ms\n"
        "  max_connections: 7\n"
        "storage: {path: /srv/h.db, max_batch: 64}\n"
        "logging: {format: json, level: debug}\n"
        "sources:\n"
        "  - name: hook\n"
        "    kind: webhook\n"
        "    token_files: [token, t2]\n"
        "channels:\n"
        "  - name: mail\n"
        "    type: smtp\n"
        "    concurrency: 3\n"
        "    max_queued: 250\n"
        "    timeout: 45s\n"
        "    retry: {max_attempts: 2, initial_backoff: 2s, max_backoff: 1h, max_age: 2d}\n"
        "    options:\n"
        "      url: smtp://127.0.0.1:2525\n"
        "      password_file: smtp.pass\n"
        "      insecure_skip_verify: false\n"
        "      port: 25\n" +
            responders_part +
            "partners:\n"
            "  - id: ngo\n"
            "    name: Partner NGO\n"
            "    language: ru\n"
            "    timezone: Europe/Moscow\n"
            "    sees: [subject, labels]\n"
            "    contacts: [{channel: mail, address: desk@ngo.example.org}]\n"
            "templates:\n"
            "  smtp:\n"
            "    ru: {subject: \"Дело {{case_id}}\", body: \"{{text}}\"}\n" +
            route_part);
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& c = *r.cfg;
    CHECK(c.secrets_dir == (dir.path / "secrets").string());
    CHECK(c.plugin_dir == (dir.path / "plugins").string());
    CHECK(c.public_url == "https://hotline.example.org");
    CHECK(c.server.listen_address == "0.0.0.0");
    CHECK(c.server.port == 0);
    CHECK(c.server.body_limit == 1024 * 1024);
    CHECK(c.server.read_timeout == std::chrono::seconds(90));
    CHECK(c.server.idle_timeout == std::chrono::milliseconds(250));
    CHECK(c.server.max_connections == 7);
    CHECK(c.storage.path == "/srv/h.db");
    CHECK(c.storage.max_batch == 64);
    CHECK(c.logging.format == "json");
    CHECK(c.logging.level == "debug");
    REQUIRE(c.sources[0].tokens.size() == 2);
    CHECK(c.sources[0].tokens[1].value == "second");
    CHECK(c.sources[0].tokens[1].file == (dir.path / "secrets/t2").string());
    const auto& ch = c.channels[0];
    CHECK(ch.concurrency == 3);
    CHECK(ch.max_queued == 250);
    CHECK(ch.timeout == std::chrono::seconds(45));
    CHECK(ch.retry.max_attempts == 2);
    CHECK(ch.retry.initial_backoff == std::chrono::seconds(2));
    CHECK(ch.retry.max_backoff == std::chrono::hours(1));
    CHECK(ch.retry.max_age == std::chrono::hours(48));
    REQUIRE(ch.options.size() == 4);
    CHECK(ch.options[1].key == "password");
    CHECK(ch.options[1].value == "pw");
    CHECK(ch.options[1].is_secret);
    CHECK(ch.options[1].at.line == 26);
    CHECK(ch.options[2].value == "false");
    CHECK(ch.options[3].value == "25");
    REQUIRE(c.partners.size() == 1);
    CHECK(c.partners[0].language == "ru");
    CHECK(c.partners[0].timezone == "Europe/Moscow");
    CHECK(c.partners[0].sees == std::set<std::string>{"subject", "labels"});
    REQUIRE(c.admins.size() == 1);
    CHECK(c.templates.at("smtp").at("ru").subject == "Дело {{case_id}}");
    CHECK(c.templates.at("smtp").at("ru").body == "{{text}}");
}

TEST_CASE("sizes: bytes, B, KB/MB (1000s), KiB/MiB (1024s); bad sizes are positioned errors") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const std::vector<std::pair<std::string, std::size_t>> good{
        {"65536", 65536}, {"512B", 512},     {"500KB", 500000},
        {"64KiB", 65536}, {"1MiB", 1048576}, {"2MB", 2000000}};
    for (const auto& [text, bytes] : good) {
        const auto r =
            load_config(dir.write("main.yaml", minimal("server: {body_limit: " + text + "}\n")));
        INFO(text << "\n" << dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->server.body_limit == bytes);
    }
    const auto file = dir.write("main.yaml", minimal("server:\n  body_limit: 64 KiB\n"));
    expect_errors(
        load_config(file),
        {file +
         ":15:15: server.body_limit: expected a size like 65536, 512B, 64KiB, 1MiB or 500KB, "
         "got \"64 KiB\""});
    const auto file2 = dir.write("main.yaml", minimal("server:\n  body_limit: 5GiB\n"));
    expect_errors(load_config(file2),
                  {file2 + ":15:15: server.body_limit: size too large (limit 1GiB), got \"5GiB\""});
    const auto file3 = dir.write("main.yaml", minimal("server:\n  body_limit: -1\n"));
    CHECK(load_config(file3).errors.size() == 1);
    const auto file4 = dir.write("main.yaml", minimal("server:\n  body_limit: 0\n"));
    expect_errors(load_config(file4),
                  {file4 + ":15:15: server.body_limit: expected a size above zero, got \"0\""});
}

TEST_CASE("durations use core::parse_duration and must be positive") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file =
        dir.write("main.yaml", minimal("server:\n  read_timeout: 10\n  idle_timeout: 0s\n"));
    expect_errors(
        load_config(file),
        {file + ":15:17: server.read_timeout: invalid duration \"10\": missing unit (expected e.g. "
                "90s, "
                "15m, 6h, 1h30m, 250ms)",
         file + ":16:17: server.idle_timeout: expected a duration above zero, got \"0s\""});
}

TEST_CASE("server.submit_timeout: 5s by default, a positive duration, errors at its position") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto defaults = load_config(dir.write("main.yaml", minimal()));
    REQUIRE(defaults.cfg != nullptr);
    CHECK(defaults.cfg->server.submit_timeout == std::chrono::seconds(5));

    const auto set =
        load_config(dir.write("set.yaml", minimal("server:\n  submit_timeout: 750ms\n")));
    INFO(dump(set));
    REQUIRE(set.cfg != nullptr);
    CHECK(set.cfg->server.submit_timeout == std::chrono::milliseconds(750));

    const auto file = dir.write("bad.yaml", minimal("server:\n  submit_timeout: 0s\n"));
    expect_errors(
        load_config(file),
        {file + ":15:19: server.submit_timeout: expected a duration above zero, got \"0s\""});
    const auto unit = dir.write("unit.yaml", minimal("server:\n  submit_timeout: 5\n"));
    expect_errors(load_config(unit),
                  {unit + ":15:19: server.submit_timeout: invalid duration \"5\": missing unit "
                          "(expected e.g. 90s, 15m, 6h, 1h30m, 250ms)"});
}

TEST_CASE("unknown keys are errors with did-you-mean, at the key's position") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file =
        dir.write("main.yaml", minimal("server:\n  prot: 80\nresponder: []\nzzz: 1\n"));
    expect_errors(
        load_config(file),
        {file + ":15:3: server.prot: unknown key; did you mean \"port\"?",
         file + ":16:1: responder: unknown key; did you mean \"responders\"?",
         file +
             ":17:1: zzz: unknown key (expected one of: include secrets_dir plugin_dir public_url "
             "case_tag_prefix ack_links server storage logging sources channels responders "
             "partners admins teams schedules templates time_intervals route routes policies "
             "tests checkins)"});
}

TEST_CASE("case_tag_prefix: HOTLINE by default, 1-32 of A-Z a-z 0-9 _ -, errors at the value") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    for (const std::string& ok :
         std::vector<std::string>{"HL", "hotline-ngo_2", std::string(32, 'x'), "7"}) {
        const auto r = load_config(dir.write("ok.yaml", minimal("case_tag_prefix: " + ok + "\n")));
        INFO(ok << ": " << dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->case_tag_prefix == ok);
    }
    // Line 14 is the first after minimal().
    for (const std::string& bad :
         std::vector<std::string>{"\"\"", "\"HOT LINE\"", "\"[HL]\"", "\"HL#\"", "\"Горячая\"",
                                  std::string(33, 'x'), "[HL]", "{a: b}"}) {
        const auto file = dir.write("bad.yaml", minimal("case_tag_prefix: " + bad + "\n"));
        const auto r = load_config(file);
        INFO(bad << ": " << dump(r));
        CHECK(r.cfg == nullptr);
        REQUIRE(r.errors.size() == 1);
        const auto m = r.errors[0].describe();
        CHECK(m.rfind(file + ":14:18: case_tag_prefix: ", 0) == 0);
    }
    const auto file = dir.write("bad.yaml", minimal("case_tag_prefix: \"a b\"\n"));
    expect_errors(load_config(file), {file + ":14:18: case_tag_prefix: expected 1 to 32 of A-Z "
                                             "a-z 0-9 _ -, got \"a b\""});
    // Set once, like the other top-level settings.
    dir.write("more.yaml", "case_tag_prefix: HL\n");
    const auto twice =
        dir.write("twice.yaml", minimal("include: [more.yaml]\ncase_tag_prefix: HOT\n"));
    const auto r = load_config(twice);
    INFO(dump(r));
    CHECK(r.cfg == nullptr);
    CHECK(dump(r).find("set it in one file only") != std::string::npos);
}

TEST_CASE("ack_links.ttl: 7d by default, 1s to 90d, errors at the value") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    {
        const auto r = load_config(dir.write("none.yaml", minimal("")));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->ack_links.ttl == std::chrono::hours(24 * 7));
    }
    for (const auto& [text, ms] : std::vector<std::pair<std::string, long long>>{
             {"1s", 1000}, {"12h", 43'200'000}, {"90d", 7'776'000'000}, {"1h30m", 5'400'000}}) {
        const auto r =
            load_config(dir.write("ok.yaml", minimal("ack_links:\n  ttl: " + text + "\n")));
        INFO(text << ": " << dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->ack_links.ttl.count() == ms);
    }
    // Line 15 is the second after minimal(); the value starts at column 8.
    for (const std::string& bad : std::vector<std::string>{
             "0s", "999ms", "91d", "7", "seven days", "-1d", "[7d]", "{d: 7}", "\"\"", "400d"}) {
        const auto file = dir.write("bad.yaml", minimal("ack_links:\n  ttl: " + bad + "\n"));
        const auto r = load_config(file);
        INFO(bad << ": " << dump(r));
        CHECK(r.cfg == nullptr);
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].describe().rfind(file + ":15:8: ack_links.ttl: ", 0) == 0);
    }
    expect_errors(load_config(dir.write("short.yaml", minimal("ack_links:\n  ttl: 500ms\n"))),
                  {dir.file("short.yaml") +
                   ":15:8: ack_links.ttl: expected a duration from 1s to 90d, got \"500ms\""});
    // Unknown keys get a did-you-mean; the section is a map.
    expect_errors(load_config(dir.write("typo.yaml", minimal("ack_links:\n  tll: 1d\n"))),
                  {dir.file("typo.yaml") + ":15:3: ack_links.tll: unknown key; did you mean "
                                           "\"ttl\"?"});
    {
        const auto r = load_config(dir.write("list.yaml", minimal("ack_links: [1d]\n")));
        INFO(dump(r));
        CHECK(r.cfg == nullptr);
        CHECK(dump(r).find("list.yaml:14:12: ack_links") != std::string::npos);
    }
    // Set once, like the other top-level settings.
    dir.write("more.yaml", "ack_links: {ttl: 1d}\n");
    const auto twice =
        dir.write("twice.yaml", minimal("include: [more.yaml]\nack_links: {ttl: 2d}\n"));
    const auto r = load_config(twice);
    INFO(dump(r));
    CHECK(r.cfg == nullptr);
    CHECK(dump(r).find("set it in one file only") != std::string::npos);
}

TEST_CASE("wrong types, bad enums, bad integers and empty required fields") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file = dir.write("main.yaml",
                                "secrets_dir: secrets\n"                         // 1
                                "sources:\n"                                     // 2
                                "  - name: hook\n"                               // 3
                                "    kind: pigeon\n"                             // 4
                                "    token_file: token\n"                        // 5
                                "channels:\n"                                    // 6
                                "  name: mail\n"                                 // 7
                                "responders:\n"                                  // 8
                                "  - id: alice\n"                                // 9
                                "    language: de\n"                             // 10
                                "    contacts: []\n"                             // 11
                                "  - id: \"\"\n"                                 // 12
                                "    contacts: [{channel: x, address: y}]\n"     // 13
                                "logging: {level: verbose, format: jsn}\n"       // 14
                                "server: {port: 70000, max_connections: 1.5}\n"  // 15
                                "route:\n"                                       // 16
                                "  severity: urgent\n"                           // 17
                                "  notify: responder:alice\n");                  // 18
    expect_errors(
        load_config(file),
        {file + ":4:11: sources[0].kind: expected one of webhook, imap, sms; got \"pigeon\"",
         file + ":7:3: channels: expected a list, got a map",
         file + ":10:15: responders[0].language: expected one of en, ru; got \"de\"; did you mean "
                "\"en\"?",
         file + ":11:15: responders[0].contacts: must list at least one contact",
         file + ":12:9: responders[1].id: must not be empty",
         file + ":13:26: responders[1].contacts[0].channel: unknown channel \"x\"",
         file + ":14:18: logging.level: expected one of trace, debug, info, warn, error; got "
                "\"verbose\"",
         file + ":14:35: logging.format: expected one of text, json; got \"jsn\"; did you mean "
                "\"json\"?",
         file + ":15:16: server.port: expected an integer from 0 to 65535, got 70000",
         file + ":15:40: server.max_connections: expected an integer, got \"1.5\"",
         file +
             ":17:13: route.severity: expected one of critical, high, normal, low; got \"urgent\"",
         file + ":18:11: route.notify: expected a list, got \"responder:alice\"",
         file + ":1:1: admins: at least one admin is required (dead letters, the notifications "
                "no contact could deliver, are sent to the admins)"});
}

TEST_CASE("channels[].max_queued: an integer from 1 to 1,000,000, at least concurrency") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto channel = [](const std::string& extra) {
        return "secrets_dir: secrets\n" + sources_part +
               "channels:\n"
               "  - name: mail\n"
               "    type: smtp\n" +
               extra + "    options: {url: \"smtp://127.0.0.1:2525\"}\n" + responders_part +
               route_part;
    };
    auto file = dir.write("main.yaml", channel("    max_queued: 0\n"));
    expect_errors(load_config(file),
                  {file + ":8:17: channels[0].max_queued: expected an integer from 1 to 1000000, "
                          "got 0"});
    file = dir.write("main.yaml", channel("    max_queued: lots\n"));
    expect_errors(load_config(file),
                  {file + ":8:17: channels[0].max_queued: expected an integer, got \"lots\""});
    file = dir.write("main.yaml", channel("    concurrency: 64\n    max_queued: 32\n"));
    expect_errors(
        load_config(file),
        {file + ":9:17: channels[0].max_queued: must be at least concurrency (64), got 32"});
    file = dir.write("main.yaml", channel("    concurrency: 64\n    max_queued: 64\n"));
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->channels[0].max_queued == 64);
    // The default bound applies with a larger concurrency (the dispatcher uses the larger).
    file = dir.write("main.yaml", channel("    concurrency: 2000\n"));
    const auto big = load_config(file);
    INFO(dump(big));
    REQUIRE(big.cfg != nullptr);
    CHECK(big.cfg->channels[0].max_queued == 1000);
}

TEST_CASE("channels[].max_segments (1..10, default 3) and transliterate (bool, default false)") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto channel = [](const std::string& extra) {
        return "secrets_dir: secrets\n" + sources_part +
               "channels:\n"
               "  - name: mail\n"
               "    type: smtp\n" +
               extra + "    options: {url: \"smtp://127.0.0.1:2525\"}\n" + responders_part +
               route_part;
    };
    auto file = dir.write("main.yaml", channel(""));
    auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->channels[0].max_segments == 3);
    CHECK_FALSE(r.cfg->channels[0].transliterate);
    CHECK(r.cfg->channels[0].sms_key.empty());
    file = dir.write("main.yaml", channel("    max_segments: 1\n    transliterate: true\n"));
    r = load_config(file);
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->channels[0].max_segments == 1);
    CHECK(r.cfg->channels[0].transliterate);
    // Where the first SMS key is, for plugin_host's "only for SMS channels".
    CHECK(r.cfg->channels[0].sms_key == "max_segments");
    CHECK(r.cfg->channels[0].sms_key_at.line == 8);
    CHECK(r.cfg->channels[0].sms_key_at.column == 5);
    file = dir.write("main.yaml", channel("    max_segments: 11\n"));
    expect_errors(load_config(file),
                  {file + ":8:19: channels[0].max_segments: expected an integer from 1 to 10, "
                          "got 11"});
    file = dir.write("main.yaml", channel("    max_segments: 0\n"));
    expect_errors(load_config(file),
                  {file + ":8:19: channels[0].max_segments: expected an integer from 1 to 10, "
                          "got 0"});
    file = dir.write("main.yaml", channel("    transliterate: maybe\n"));
    const auto bad = load_config(file);
    REQUIRE(bad.cfg == nullptr);
    CHECK(dump(bad).find(":8:20: channels[0].transliterate") != std::string::npos);
}

TEST_CASE("duplicates: ids, names, YAML keys, templates, settings in two files") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto other = dir.write("other.yaml",
                                 "server: {port: 1}\n"
                                 "responders:\n"
                                 "  - id: alice\n"
                                 "    contacts: [{channel: mail, address: b@example.org}]\n"
                                 "channels:\n"
                                 "  - {name: mail, type: webhook}\n"
                                 "sources:\n"
                                 "  - {name: hook, token_file: token}\n"
                                 "templates:\n"
                                 "  smtp:\n"
                                 "    en: {subject: a, body: b}\n");
    const auto file = dir.write(
        "main.yaml", "include: [other.yaml]\n" + minimal("server: {port: 2}\n"
                                                         "templates:\n"
                                                         "  smtp:\n"
                                                         "    en: {subject: c, body: d}\n"
                                                         "logging: {level: info, level: warn}\n"));
    expect_errors(
        load_config(file),
        {other + ":1:1: server: already set at " + file + ":15:1; set it in one file only",
         other + ":3:9: responders[0].id: duplicate id \"alice\" (first at " + file + ":11:5)",
         other + ":6:12: channels[0].name: duplicate channel name \"mail\" (first at " + file +
             ":7:11)",
         other + ":8:12: sources[0].name: duplicate source name \"hook\" (first at " + file +
             ":4:11)",
         other + ":11:5: templates.smtp.en: template already defined at " + file + ":18:9",
         file + ":19:24: logging.level: duplicate key (first at " + file + ":19:11)"});
}

TEST_CASE("cross references: notify targets and contact channels, with did-you-mean") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file =
        dir.write("main.yaml", "secrets_dir: secrets\n" + sources_part + channels_part +
                                   "responders:\n"
                                   "  - id: alice\n"
                                   "    contacts: [{channel: mial, address: a@example.org}]\n"
                                   "partners:\n"
                                   "  - id: ngo\n"
                                   "    contacts: [{channel: mail, address: n@example.org}]\n"
                                   "route:\n"
                                   "  notify: [responder:alice, responder:nobody]\n"
                                   "  routes:\n"
                                   "    - notify: [partner:ngoo, responder:alise, group:x]\n");
    expect_errors(
        load_config(file),
        {file + ":11:26: responders[0].contacts[0].channel: unknown channel \"mial\"; did you mean "
                "\"mail\"?",
         file + ":16:29: route.notify[1]: unknown responder \"nobody\"",
         file +
             ":18:16: route.routes[0].notify[0]: unknown partner \"ngoo\"; did you mean \"ngo\"?",
         file + ":18:30: route.routes[0].notify[1]: unknown responder \"alise\"; did you mean "
                "\"alice\"?",
         file + ":18:47: route.routes[0].notify[2]: expected responder:ID, partner:ID, team:ID "
                "or schedule:ID, got \"group:x\"",
         file + ":1:1: admins: at least one admin is required (dead letters, the notifications "
                "no contact could deliver, are sent to the admins)"});
}

TEST_CASE("required parts: a source, a route, contacts, names and types") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file = dir.write("main.yaml",
                                "channels:\n"
                                "  - name: mail\n"
                                "  - type: ../evil\n"
                                "responders:\n"
                                "  - id: alice\n"
                                "admins:\n"
                                "  - id: ops\n"
                                "    contacts: [{channel: mail}]\n");
    expect_errors(
        load_config(file),
        {file + ":2:5: channels[0].type: missing (the plugin type, e.g. webhook or smtp)",
         file + ":3:5: channels[1].name: missing (every channel needs a name)",
         file +
             ":3:11: channels[1].type: expected a plugin type of letters, digits, '_' or '-', got "
             "\"../evil\"",
         file + ":5:5: responders[0].contacts: missing (at least one {channel, address} is needed)",
         file + ":8:16: admins[0].contacts[0].address: missing",
         file + ":1:1: sources: at least one source is required",
         file + ":1:1: route: missing: exactly one `route:` (the root of the routing tree) is "
                "required"});
}

TEST_CASE("secrets: read from files, never inline") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    dir.write("secrets/empty", "\n");
    fs::create_directories(dir.path / "secrets/folder");
    SUBCASE("channel X_file becomes secret option X with the newline cut") {
        const auto file = dir.write("main.yaml", minimal() + "  routes: []\n");
        const auto r =
            load_config(dir.write("main.yaml", "secrets_dir: secrets\n" + sources_part +
                                                   "channels:\n"
                                                   "  - name: mail\n"
                                                   "    type: webhook\n"
                                                   "    options: {secret_file: signing.key}\n" +
                                                   responders_part + route_part));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        REQUIRE(r.cfg->channels[0].options.size() == 1);
        CHECK(r.cfg->channels[0].options[0].key == "secret");
        CHECK(r.cfg->channels[0].options[0].value == "k3y");
        CHECK(r.cfg->channels[0].options[0].is_secret);
    }
    SUBCASE("missing, empty and non-regular secret files are positioned errors") {
        const auto file = dir.write("main.yaml",
                                    "secrets_dir: secrets\n"
                                    "sources:\n"
                                    "  - name: hook\n"
                                    "    token_files: [token, nope, empty, folder]\n" +
                                        channels_part + responders_part + route_part);
        const std::string s = (dir.path / "secrets").string();
        expect_errors(
            load_config(file),
            {file + ":4:26: sources[0].token_files[1]: cannot read secret file \"" + s +
                 "/nope\": No such file or directory",
             file + ":4:32: sources[0].token_files[2]: secret file \"" + s + "/empty\" is empty",
             file + ":4:39: sources[0].token_files[3]: cannot read secret file \"" + s +
                 "/folder\": not a regular file"});
    }
    SUBCASE("inline secrets are rejected") {
        const auto file =
            dir.write("main.yaml",
                      "secrets_dir: secrets\n"
                      "sources:\n"
                      "  - name: hook\n"
                      "    token: abc\n"
                      "channels:\n"
                      "  - name: mail\n"
                      "    type: smtp\n"
                      "    options: {password: x, secret: y, api_key: z, token: t}\n" +
                          responders_part + route_part);
        expect_errors(
            load_config(file),
            {file + ":4:5: sources[0].token: secrets must come from a file: use token_file",
             file + ":3:5: sources[0].token_file: missing (a webhook source needs token_file or "
                    "token_files)",
             file + ":8:15: channels[0].options.password: secrets must come from a file: use "
                    "password_file",
             file + ":8:28: channels[0].options.secret: secrets must come from a file: use "
                    "secret_file",
             file + ":8:39: channels[0].options.api_key: secrets must come from a file: use "
                    "api_key_file",
             file + ":8:51: channels[0].options.token: secrets must come from a file: use "
                    "token_file"});
    }
    SUBCASE("CREDENTIALS_DIRECTORY wins over secrets_dir") {
        const temp_dir creds;
        creds.write("token", "from-systemd\n");
        const env_guard credentials("CREDENTIALS_DIRECTORY", creds.path.c_str());
        const auto r = load_config(dir.write("main.yaml", minimal()));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->secrets_dir == creds.path.string());
        CHECK(r.cfg->sources[0].tokens[0].value == "from-systemd");
    }
    SUBCASE("options must be scalars; X and X_file together are a duplicate") {
        const auto file = dir.write("main.yaml", "secrets_dir: secrets\n" + sources_part +
                                                     "channels:\n"
                                                     "  - name: mail\n"
                                                     "    type: smtp\n"
                                                     "    options:\n"
                                                     "      url: [a, b]\n"
                                                     "      username: u\n"
                                                     "      username_file: signing.key\n"
                                                     "      tls:\n" +
                                                     responders_part + route_part);
        expect_errors(
            load_config(file),
            {file + ":9:12: channels[0].options.url: plugin options are strings: expected a scalar "
                    "value, got a list",
             file +
                 ":11:7: channels[0].options.username_file: option \"username\" is already set "
                 "at " +
                 file + ":10:7",
             file + ":12:7: channels[0].options.tls: plugin options are strings: expected a scalar "
                    "value, got nothing (null)"});
    }
}

TEST_CASE(
    "includes: relative to the including file, globs sorted, nested, routes appended in order") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    dir.write("conf/people/responders.yaml",
              "responders:\n"
              "  - id: bob\n"
              "    contacts: [{channel: mail, address: b@example.org}]\n");
    dir.write("conf/rules/b.yaml", "routes:\n  - name: second\n");
    dir.write("conf/rules/a.yaml",
              "include: [../people/responders.yaml]\nroutes:\n  - name: first\n    notify: "
              "[responder:bob]\n");
    dir.write("conf/rules/c.yml", "routes: [{name: ignored}]\n");
    dir.write("conf/rules/z.yaml", "");  // empty files are fine
    const auto file = dir.write("conf/main.yaml",
                                "include: [rules/*.yaml]\n"
                                "secrets_dir: ../secrets\n"
                                "storage: {path: ../var/db.sqlite}\n" +
                                    sources_part + channels_part + responders_part +
                                    "route:\n"
                                    "  notify: [responder:alice]\n"
                                    "  routes:\n"
                                    "    - name: zero\n"
                                    "    - match: ['text = \"x\"']\n"
                                    "      routes: [{}]\n");
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& c = *r.cfg;
    CHECK(c.storage.path == (dir.path / "var/db.sqlite").string());
    REQUIRE(c.responders.size() == 2);
    CHECK(c.responders[1].id == "bob");
    REQUIRE(c.route.routes.size() == 4);
    CHECK(c.route.routes[0].name == "zero");
    CHECK(c.route.routes[1].name == "root/routes[1]");
    REQUIRE(c.route.routes[1].routes.size() == 1);
    CHECK(c.route.routes[1].routes[0].name == "root/routes[1]/routes[0]");
    CHECK(c.route.routes[2].name == "first");
    CHECK(c.route.routes[2].at.file == (fs::path(file).parent_path() / "rules/a.yaml").string());
    CHECK(c.route.routes[3].name == "second");
}

TEST_CASE("include errors: missing file, glob without match, cycle, twice") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto a = dir.write("a.yaml", "include: [b.yaml]\n");
    const auto b = dir.write("b.yaml", "include:\n  - a.yaml\n");
    const auto file = dir.write(
        "main.yaml", "include: [a.yaml, missing.yaml, 'rules/*.yaml', a.yaml]\n" + minimal());
    expect_errors(
        load_config(file),
        {b + ":2:5: include[0]: include cycle: " + a + " -> " + b + " -> " + a,
         file + ":1:19: include[1]: cannot read \"" + dir.file("missing.yaml") +
             "\": No such file or directory",
         file + ":1:33: include[2]: \"rules/*.yaml\" matches no file",
         file + ":1:49: include[3]: \"" + a + "\" is already included (as \"" + a + "\")"});
}

TEST_CASE("YAML syntax errors carry the parser's position") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    const auto file = dir.write("main.yaml", "server:\n  port: [1, 2\nroute: {}\n");
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].context.rfind(file + ":3:", 0) == 0);
    CHECK(r.errors[0].message.rfind("invalid YAML: ", 0) == 0);
    const auto tabs = dir.write("tabs.yaml", "a: b: c\n");
    const auto r2 = load_config(tabs);
    REQUIRE(r2.errors.size() == 1);
    CHECK(r2.errors[0].message.rfind("invalid YAML: ", 0) == 0);
    // yaml-cpp 0.7 never returns on this one (found by tests/fuzz): libyaml refuses it first.
    const auto loop = dir.write("loop.yaml", "  a: 1\n,\n");
    const auto r3 = load_config(loop);
    REQUIRE(r3.errors.size() == 1);
    CHECK(r3.errors[0].context == loop + ":2:1");
    CHECK(r3.errors[0].message.rfind("invalid YAML: ", 0) == 0);
    const auto two = dir.write("two.yaml", "a: 1\n---\nb: 2\n");
    expect_errors(load_config(two), {two + ":3:1: more than one YAML document in one file"});
    const auto top = dir.write("top.yaml", "- a\n- b\n");
    expect_errors(load_config(top), {top + ":1:1: expected a map, got a list",
                                     top + ":1:1: sources: at least one source is required",
                                     top + ":1:1: admins: at least one admin is required (dead "
                                           "letters, the notifications no contact could "
                                           "deliver, are sent to the admins)",
                                     top + ":1:1: route: missing: exactly one `route:` (the root "
                                           "of the routing tree) is required"});
    expect_errors(load_config(dir.file("nothing.yaml")),
                  {dir.file("nothing.yaml") + ": cannot read \"" + dir.file("nothing.yaml") +
                   "\": No such file or directory"});
}

TEST_CASE("routes: matchers, keywords, labels and the root's restrictions") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto file =
        dir.write("main.yaml",
                  "secrets_dir: secrets\n" + sources_part + channels_part + responders_part +
                      "route:\n"                                                          // 12
                      "  match: ['text = \"x\"']\n"                                       // 13
                      "  routes:\n"                                                       // 14
                      "    - match: ['text =~ \"(unclosed\"', 'body = x', texts =~ a]\n"  // 15
                      "      keywords: [арест, '  ']\n"                                   // 16
                      "      continue: yes\n"                                             // 17
                      "      labels: {kind: x, 9bad: y, k: [1]}\n"                        // 18
                      "      name: 'a/b'\n");                                             // 19
    expect_errors(
        load_config(file),
        {file + ":13:3: route.match: the root route always matches; put \"match\" on a child route",
         file + ":15:25: route.routes[0].match[0]: invalid regex: missing ): (unclosed",
         file + ":15:39: route.routes[0].match[1]: unknown field \"body\" (expected source, "
                "source_kind, "
                "sender, country, subject, text, language, attachments, time_interval or "
                "labels.<name>)",
         file + ":15:50: route.routes[0].match[2]: unknown field \"texts\" (expected source, "
                "source_kind, "
                "sender, country, subject, text, language, attachments, time_interval or "
                "labels.<name>); did you "
                "mean "
                "\"text\"?",
         file + ":16:17: route.routes[0].keywords: empty keyword",
         file + ":17:17: route.routes[0].continue: expected true or false, got \"yes\"",
         file + ":18:25: route.routes[0].labels: expected a label name of letters, digits, '_', "
                "'-' or '.' (starting with a letter or '_', at most 64 bytes), got \"9bad\"",
         file + ":18:37: route.routes[0].labels.k: expected a string, got a list",
         file + ":19:13: route.routes[0].name: expected a name of letters, digits, '_', '-' or "
                "'.', got "
                "\"a/b\""});
}

TEST_CASE("route depth is limited") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    std::string nested = "{}";
    for (int i = 0; i < 40; ++i) {
        nested = "{routes: [" + nested + "]}";
    }
    const auto r =
        load_config(dir.write("main.yaml", "secrets_dir: secrets\n" + sources_part + channels_part +
                                               responders_part + "route: " + nested + "\n"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("routes nested deeper than 32 levels") != std::string::npos);
}

TEST_CASE("hostile files: huge, deeply nested, aliases, binary, invalid UTF-8") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    SUBCASE("a 5 MB file is refused before parsing") {
        std::string big = minimal() + "#";
        big.append(5 * 1024 * 1024, 'x');
        const auto file = dir.write("main.yaml", big + "\n");
        const auto start = std::chrono::steady_clock::now();
        expect_errors(load_config(file),
                      {file + ":1:1: file too large (" + std::to_string(big.size() + 1) +
                       " bytes; the limit is 4 MiB)"});
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    }
    SUBCASE("a 1.2 MB file of 8000 responders loads") {
        std::string people = "responders:\n";
        for (int i = 0; i < 8000; ++i) {
            people +=
                "  - id: r" + std::to_string(i) + "\n    name: Responder number " +
                std::to_string(i) + " with a long name\n    contacts: [{channel: mail, address: r" +
                std::to_string(i) + "@example.org}, {channel: mail, address: x@example.org}]\n";
        }
        CHECK(people.size() > 1'200'000);
        const auto file = dir.write(
            "main.yaml", "secrets_dir: secrets\n" + sources_part + channels_part + people +
                             "admins: [{id: ops, contacts: [{channel: mail, "
                             "address: ops@example.org}]}]\n" +
                             "route: {notify: [responder:r7999]}\n");
        const auto r = load_config(file);
        INFO(dump(r).substr(0, 1000));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->responders.size() == 8000);
    }
    SUBCASE("deep nesting errors instead of crashing") {
        for (const auto& [open, close] :
             {std::pair<std::string, std::string>{"[", "]"}, {"{a: ", "}"}}) {
            std::string deep = "route: ";
            for (int i = 0; i < 100000; ++i) {
                deep += open;
            }
            for (int i = 0; i < 100000; ++i) {
                deep += close;
            }
            const auto file = dir.write("main.yaml", deep + "\n");
            const auto r = load_config(file);
            REQUIRE(r.errors.size() == 1);
            CHECK(r.errors[0].message == "invalid YAML: nested too deeply");
            CHECK(r.errors[0].context.rfind(file + ":1:", 0) == 0);
        }
        std::string block = "route:\n";
        for (int i = 0; i < 5000; ++i) {
            block += std::string(static_cast<std::size_t>(i) + 2, ' ') + "- \n";
        }
        const auto r = load_config(dir.write("main.yaml", block));
        CHECK(r.cfg == nullptr);
        CHECK_FALSE(r.errors.empty());
    }
    SUBCASE("alias expansion (billion laughs) is bounded") {
        std::string laughs = "secrets_dir: secrets\n" + sources_part + channels_part +
                             responders_part + "x0: &a0 {name: lol}\n";
        laughs = "secrets_dir: secrets\n" + sources_part + channels_part + responders_part;
        laughs += "route:\n  routes:\n";
        std::string defs = "    - &a0 {name: lol}\n";
        laughs += defs;
        // Each level lists the previous one ten times: 10^8 route nodes if walked naively.
        std::string anchors;
        for (int level = 1; level <= 8; ++level) {
            anchors += "    - &a" + std::to_string(level) + " {routes: [";
            for (int k = 0; k < 10; ++k) {
                anchors += std::string(k == 0 ? "" : ", ") + "*a" + std::to_string(level - 1);
            }
            anchors += "]}\n";
        }
        const auto file = dir.write("main.yaml", laughs + anchors);
        const auto start = std::chrono::steady_clock::now();
        const auto r = load_config(file);
        CHECK(r.cfg == nullptr);
        INFO(dump(r));
        CHECK(has(r, file + ": too many YAML nodes (more than 1000000; are aliases expanding?)"));
        // The node budget above is the guarantee; this only catches an unbounded expansion
        // (it would run for hours). 60 s: the ASan build took up to 39 s on a loaded machine.
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
    }
    SUBCASE("binary garbage") {
        std::string garbage;
        std::uint32_t x = 12345;
        for (int i = 0; i < 4096; ++i) {
            x = x * 1103515245U + 12345U;
            garbage += static_cast<char>(x >> 24U);
        }
        const auto file = dir.write("main.yaml", "route: {}\n" + garbage);
        const auto r = load_config(file);
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].context.rfind(file + ":", 0) == 0);
        CHECK(r.cfg == nullptr);
        const auto nul = dir.write("nul.yaml", std::string("route:\n  name: a\0b\n", 18));
        expect_errors(load_config(nul),
                      {nul + ":2:10: control character 0 is not allowed in YAML"});
    }
    SUBCASE("invalid UTF-8 is refused with its position") {
        const auto file =
            dir.write("main.yaml", "route:\n  name: \"ok\"\n  labels: {a: \"\xd0\xb0\xff\"}\n");
        expect_errors(load_config(file), {file + ":3:18: invalid UTF-8"});
        const auto overlong = dir.write("o.yaml", "a: \xc0\xaf\n");
        expect_errors(load_config(overlong), {overlong + ":1:4: invalid UTF-8"});
        const auto surrogate = dir.write("s.yaml", "a: \xed\xa0\x80\n");
        expect_errors(load_config(surrogate), {surrogate + ":1:4: invalid UTF-8"});
    }
}

TEST_CASE("the shipped example configuration loads") {
    const temp_dir creds;
    creds.write("webhook.token", "example-token\n");
    creds.write("webhook-signing.key", "example-signing-key\n");
    const env_guard credentials("CREDENTIALS_DIRECTORY", creds.path.c_str());
    const std::string file = std::string(HOTLINE_SOURCE_DIR) + "/conf/hotline.yaml";
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& c = *r.cfg;
    CHECK(c.server.listen_address == "127.0.0.1");
    CHECK(c.server.port == 8080);
    CHECK(c.storage.path == std::string(HOTLINE_SOURCE_DIR) + "/var/hotline.db");
    REQUIRE(c.sources.size() == 2);
    CHECK(c.find_source("kannel")->kind == "sms");
    CHECK(c.find_source("kannel")->sms.gateway == "kannel");
    CHECK(c.find_source("kannel")->sms.path == "/v1/sms/kannel");
    REQUIRE(c.channels.size() == 2);
    CHECK(c.find_channel("ops-webhook")->type == "webhook");
    CHECK(c.find_channel("email")->type == "smtp");
    CHECK(c.find_channel("ops-webhook")->options[0].value == "example-signing-key");
    CHECK(c.responders.size() == 2);
    CHECK(c.partners.size() == 1);
    CHECK(c.admins.size() == 1);
    CHECK(c.route.routes.size() >= 4);
    CHECK(c.route.routes.front().name == "detention");
    CHECK(c.route.routes.back().name == "default");
}

namespace {

hotline::domain::report report_with(const std::string& text) {
    hotline::domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.text = text;
    return r;
}

std::string leaf(const hotline::rules::decision& d, std::size_t i = 0) {
    REQUIRE(d.paths.size() > i);
    return d.paths[i].back();
}

}  // namespace

TEST_CASE("the shipped example routes decide like an admin expects") {
    const temp_dir creds;
    creds.write("webhook.token", "t\n");
    creds.write("webhook-signing.key", "k\n");
    const env_guard credentials("CREDENTIALS_DIRECTORY", creds.path.c_str());
    const auto r = load_config(std::string(HOTLINE_SOURCE_DIR) + "/conf/hotline.yaml");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& root = r.cfg->route;
    using hotline::rules::evaluate;
    auto d = evaluate(root, report_with("Моего брата АРЕСТОВАЛИ у подъезда"));
    CHECK(leaf(d) == "detention");
    CHECK(d.severity == "critical");
    CHECK(d.labels.at("kind") == "detention");
    CHECK(d.labels.at("team") == "duty");
    REQUIRE(d.targets.size() == 3);
    CHECK(d.targets[0].str() == "responder:alice");
    CHECK(d.targets[1].str() == "responder:boris");
    CHECK(d.targets[2].str() == "partner:ngo");
    CHECK(leaf(evaluate(root, report_with("They detained our lawyer"))) == "detention");
    d = evaluate(root, report_with("Police raid at the office, обыск идёт"));
    CHECK(leaf(d) == "search");
    CHECK(d.severity == "critical");
    d = evaluate(root, report_with("За нами СЛЕЖКА второй день"));
    CHECK(leaf(d) == "surveillance");
    CHECK(d.severity == "high");
    d = evaluate(root, report_with("I think I am being followed"));
    CHECK(leaf(d) == "surveillance");
    d = evaluate(root, report_with("Нужна консультация по гранту"));
    CHECK(leaf(d) == "default");
    CHECK(d.severity == "normal");
    REQUIRE(d.targets.size() == 1);
    CHECK(d.targets[0].str() == "responder:alice");
}

TEST_CASE("the example rule set rules/detention.yaml loads and routes en/ru reports") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    dir.write("webhook.token", "t\n");
    const std::string src = HOTLINE_SOURCE_DIR;
    const auto file =
        dir.write("main.yaml",
                  "include: [" + src + "/conf/responders.yaml, " + src +
                      "/rules/*.yaml]\n"
                      "sources: [{name: partner-webhook, token_file: webhook.token}]\n"
                      "channels: [{name: ops-webhook, type: webhook}, {name: email, type: smtp}]\n"
                      "route: {notify: [responder:alice]}\n");
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& root = r.cfg->route;
    using hotline::rules::evaluate;
    auto d = evaluate(root, report_with("Задержали в аэропорту Шереметьево"));
    CHECK(d.paths.size() == 1);
    CHECK(leaf(d) == "detention-border");
    CHECK(d.severity == "critical");
    CHECK(d.labels.at("need") == "border-protocol");
    d = evaluate(root, report_with("He was arrested and taken to the police station on Tverskaya"));
    CHECK(leaf(d) == "detention-station");
    CHECK(d.labels.at("need") == "lawyer");
    d = evaluate(root, report_with("Нам угрожают, и сегодня пришли с обыском"));
    REQUIRE(d.paths.size() == 2);
    CHECK(leaf(d, 0) == "threats");
    CHECK(leaf(d, 1) == "search");
    CHECK(d.severity == "critical");
    CHECK(d.labels.at("kind") == "search");                     // the more urgent leaf's labels win
    d = evaluate(root, report_with("I am afraid to go home"));  // "raid" only as a word
    CHECK(leaf(d) == "routine");
    CHECK(d.severity == "low");
    d = evaluate(root, report_with("Мне пришла повестка в СК"));
    CHECK(leaf(d) == "summons");
    d = evaluate(root, report_with("Меня вызвали на допрос"));
    CHECK(leaf(d) == "summons");
    CHECK(d.severity == "high");
}

TEST_CASE("floods: connection caps, metrics listener and rate limits have defaults") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const auto r = load_config(dir.write("main.yaml", minimal()));
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& s = r.cfg->server;
    CHECK(s.max_connections_per_ip == 64);
    CHECK(s.reserved() == 256);  // a quarter of max_connections
    CHECK(s.preauth_timeout == std::chrono::seconds(10));
    CHECK(s.metrics_address == "127.0.0.1");
    CHECK(s.metrics_port == 9464);
    CHECK(s.metrics_token.value.empty());
    CHECK(s.limits.source.rate == doctest::Approx(200));
    CHECK(s.limits.source.burst == 400);
    CHECK(s.limits.sender.rate == doctest::Approx(20.0 / 60.0));
    CHECK(s.limits.sender.burst == 10);
    CHECK(s.ingest.max_in_flight == 256);
    CHECK(s.ingest.max_in_flight_per_source == 128);
    CHECK(r.cfg->limits_for("hook").sender.burst == 10);
}

TEST_CASE("floods: every new server key and a source's rate_limits are read") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    dir.write("secrets/metrics.token", "m3trics\n");
    const auto file = dir.write("main.yaml",
                                "secrets_dir: secrets\n"
                                "sources:\n"
                                "  - name: hook\n"
                                "    token_file: token\n"
                                "    rate_limits:\n"
                                "      sender: {rate: 60/min, burst: 5}\n"
                                "  - name: quiet\n"
                                "    token_file: token\n"
                                "    rate_limits: {source: {rate: off}}\n" +
                                    channels_part + responders_part + route_part +
                                    "server:\n"
                                    "  max_connections: 100\n"
                                    "  max_connections_per_ip: 8\n"
                                    "  reserved_connections: 30\n"
                                    "  preauth_timeout: 3s\n"
                                    "  metrics_listen: \"[::1]:9100\"\n"
                                    "  metrics_token_file: metrics.token\n"
                                    "  rate_limits:\n"
                                    "    source: {rate: 1000/h, burst: 50}\n"
                                    "    sender: {rate: 2/s, burst: 4}\n"
                                    "  ingest: {max_in_flight: 10, "
                                    "max_in_flight_per_source: 3, max_queued: 99, "
                                    "max_queued_per_source: 9}\n");
    const auto r = load_config(file);
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& s = r.cfg->server;
    CHECK(s.max_connections_per_ip == 8);
    CHECK(s.reserved() == 30);
    CHECK(s.preauth_timeout == std::chrono::seconds(3));
    CHECK(s.metrics_address == "::1");
    CHECK(s.metrics_port == 9100);
    CHECK(s.metrics_token.value == "m3trics");
    CHECK(s.limits.source.rate == doctest::Approx(1000.0 / 3600.0));
    CHECK(s.limits.source.burst == 50);
    CHECK(s.limits.sender.rate == doctest::Approx(2));
    CHECK(s.ingest.max_in_flight == 10);
    CHECK(s.ingest.max_in_flight_per_source == 3);
    CHECK(s.ingest.max_queued == 99);
    CHECK(s.ingest.max_queued_per_source == 9);
    const auto hook = r.cfg->limits_for("hook");
    CHECK(hook.sender.rate == doctest::Approx(1));
    CHECK(hook.sender.burst == 5);
    CHECK(hook.source.burst == 50);  // from server.rate_limits
    const auto quiet = r.cfg->limits_for("quiet");
    CHECK_FALSE(quiet.source.enabled());
    CHECK(quiet.sender.burst == 4);
}

TEST_CASE("floods: metrics_listen off, and bad limits are positioned errors") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    {
        const auto r =
            load_config(dir.write("off.yaml", minimal("server: {metrics_listen: off}\n")));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->server.metrics_address.empty());
    }
    {
        const auto clash = dir.write(
            "clash.yaml", minimal("server: {port: 8080, metrics_listen: \"127.0.0.1:8080\"}\n"));
        expect_errors(load_config(clash),
                      {clash + ":14:38: server.metrics_listen: is the main listener's address and "
                               "port; give another port, or off"});
    }
    // minimal() has 13 lines; the server map starts on line 14.
    const auto file = dir.write("main.yaml",
                                minimal("server:\n"                               // 14
                                        "  max_connections: 8\n"                  // 15
                                        "  reserved_connections: 8\n"             // 16
                                        "  metrics_listen: 0.0.0.0:9464\n"        // 17
                                        "  rate_limits:\n"                        // 18
                                        "    source: {rate: 20/day, burst: 1}\n"  // 19
                                        "    sender: {rate: 5/s}\n"               // 20
                                        "  ingest: {max_in_flight: 0}\n"          // 21
                                        "  max_connections_per_ip: many\n"));     // 22
    expect_errors(
        load_config(file),
        {file + ":16:25: server.reserved_connections: must be below max_connections (8)",
         file + ":17:19: server.metrics_listen: a non-loopback metrics listener needs "
                "server.metrics_token_file",
         file + ":19:20: server.rate_limits.source.rate: expected a rate like 200/s, 20/min or "
                "1000/h, or off",
         file + ":20:13: server.rate_limits.sender.burst: missing (a limit needs rate and burst)",
         file + ":21:27: server.ingest.max_in_flight: expected an integer from 1 to 1000000, got 0",
         file + ":22:27: server.max_connections_per_ip: expected an integer, got \"many\""});
}

TEST_CASE("admins are required: dead letters must reach someone (fault 10)") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    const std::string message =
        "admins: at least one admin is required (dead letters, the notifications no contact "
        "could deliver, are sent to the admins)";
    const std::string without = "secrets_dir: secrets\n" + sources_part + channels_part +
                                "responders:\n"
                                "  - {id: alice, contacts: [{channel: mail, address: a@x.org}]}\n" +
                                route_part;
    SUBCASE("no admins section: at the start of the main file") {
        const auto file = dir.write("main.yaml", without);
        expect_errors(load_config(file), {file + ":1:1: " + message});
    }
    SUBCASE("an empty list: at the list") {
        const auto file = dir.write("main.yaml", without + "admins: []\n");
        expect_errors(load_config(file), {file + ":13:9: " + message});
    }
    SUBCASE("an empty list in an include, admins in another file: fine") {
        dir.write("people.yaml",
                  "admins: [{id: ops, contacts: [{channel: mail, address: o@x.org}]}]\n");
        const auto file =
            dir.write("main.yaml", "include: [people.yaml]\n" + without + "admins: []\n");
        const auto r = load_config(file);
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->admins.size() == 1);
    }
    SUBCASE("a bad admin entry gives its own error only") {
        const auto file = dir.write("main.yaml", without + "admins: [{id: ops}]\n");
        expect_errors(load_config(file),
                      {file + ":13:10: admins[0].contacts: missing (at least one {channel, "
                              "address} is needed)"});
    }
}

TEST_CASE("api_token_file: a responder's or admin's API token, from a file, unique, never shown") {
    const env_guard no_credentials("CREDENTIALS_DIRECTORY", nullptr);
    const temp_dir dir;
    write_secrets(dir);
    dir.write("secrets/alice.token", "alice-token-0123456789\n");
    dir.write("secrets/ops.token", "ops-token-0123456789\r\n");
    dir.write("secrets/short.token", "0123456789abcde\n");  // 15 characters
    dir.write("secrets/empty.token", "\n");
    fs::create_directories(dir.path / "secrets/folder");
    const std::string s = (dir.path / "secrets").string();
    // Lines 9..16: the people; each api_token_file value starts at column 21.
    const auto people = [](const std::string& alice_file, const std::string& ops_file) {
        return "responders:\n"    // 9
               "  - id: alice\n"  // 10
               "    api_token_file: " +
               alice_file +
               "\n"                                                         // 11
               "    contacts: [{channel: mail, address: a@example.org}]\n"  // 12
               "admins:\n"                                                  // 13
               "  - id: ops\n"                                              // 14
               "    api_token_file: " +
               ops_file +
               "\n"                                                          // 15
               "    contacts: [{channel: mail, address: o@example.org}]\n";  // 16
    };
    const auto config_with = [&](const std::string& people_part, const std::string& extra = {}) {
        return dir.write("main.yaml", "secrets_dir: secrets\n" + sources_part + channels_part +
                                          people_part + route_part + extra);
    };
    // No message ever quotes a token.
    const auto no_token_in = [](const load_result& r) {
        for (const auto& m : messages(r)) {
            CHECK(m.find("0123456789") == std::string::npos);
        }
    };

    SUBCASE("read with the newline cut; no file, no token") {
        const auto r = load_config(config_with(people("alice.token", "ops.token") +
                                               "  - {id: ops2, contacts: [{channel: mail, "
                                               "address: p@example.org}]}\n"));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->responders[0].api_token == "alice-token-0123456789");
        CHECK(r.cfg->admins[0].api_token == "ops-token-0123456789");
        CHECK(r.cfg->admins[1].api_token.empty());
    }
    SUBCASE("an absolute path is taken as it is") {
        const auto r = load_config(config_with(people(s + "/alice.token", "ops.token")));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->responders[0].api_token == "alice-token-0123456789");
    }
    SUBCASE("missing, empty, not a file, too short: positioned errors") {
        auto file = config_with(people("nope", "empty.token"));
        expect_errors(load_config(file),
                      {file + ":11:21: responders[0].api_token_file: cannot read secret file \"" +
                           s + "/nope\": No such file or directory",
                       file + ":15:21: admins[0].api_token_file: secret file \"" + s +
                           "/empty.token\" is empty"});
        file = config_with(people("folder", "short.token"));
        const auto r = load_config(file);
        expect_errors(
            r, {file + ":11:21: responders[0].api_token_file: cannot read secret file \"" + s +
                    "/folder\": not a regular file",
                file + ":15:21: admins[0].api_token_file: the token in \"" + s +
                    "/short.token\" is shorter than 16 characters (generate one with: "
                    "head -c 32 /dev/urandom | base64)"});
        no_token_in(r);
    }
    SUBCASE("two people with one token: an error naming both places, not the token") {
        // Within a file, sections are read in key order: admins before responders.
        const auto file = config_with(people("alice.token", "alice.token"));
        const auto r = load_config(file);
        expect_errors(r, {file +
                          ":11:21: responders[0].api_token_file: the same API token as "
                          "admins ops (at " +
                          file + ":15:21); every person needs a token of their own"});
        no_token_in(r);
        // The same contents in another file are the same token too.
        dir.write("secrets/copy.token", "alice-token-0123456789");
        const auto again = load_config(config_with(people("alice.token", "copy.token")));
        CHECK(again.cfg == nullptr);
        REQUIRE(again.errors.size() == 1);
        CHECK(again.errors[0].describe().find("the same API token as admins ops") !=
              std::string::npos);
        no_token_in(again);
    }
    SUBCASE("not a string; partners take none; never inline") {
        const auto file = config_with(people("[a, b]", "ops.token") +
                                      "partners:\n"
                                      "  - id: ngo\n"
                                      "    api_token_file: alice.token\n"
                                      "    contacts: [{channel: mail, address: n@example.org}]\n");
        const auto r = load_config(file);
        INFO(dump(r));
        CHECK(r.cfg == nullptr);
        REQUIRE(r.errors.size() == 2);
        CHECK(has(r, file + ":11:21: responders[0].api_token_file: expected a string, got a list"));
        CHECK(has(r, file + ":19:5: partners[0].api_token_file: unknown key (expected one of: id "
                            "name language timezone contacts sees)"));
        const auto inline_token = load_config(config_with(
            "responders:\n"
            "  - {id: alice, api_token: x, contacts: [{channel: mail, address: a@x.org}]}\n"
            "admins: [{id: ops, contacts: [{channel: mail, address: o@x.org}]}]\n"));
        CHECK(inline_token.cfg == nullptr);
        REQUIRE(inline_token.errors.size() == 1);
        CHECK(inline_token.errors[0].describe().find("responders[0].api_token:") !=
              std::string::npos);
    }
}
