// config: `teams:` and `schedules:` (config/oncall.cpp): every key, defaults, the example,
// positioned errors with the key path (unknown responders with did-you-mean, zones, times,
// dates, lengths, empty lists, overrides that end before they begin, duplicate ids), lists
// across files, team:/schedule: route targets, hostile sizes.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "config_test_support.hpp"
#include "temp_dir.hpp"

using hotline::config::load_config;
using hotline::config::load_result;
using hotline::test::temp_dir;
namespace rules = hotline::rules;

namespace {

using hotline::test::dump;

// Each expected line must start one error, and there must be no other error.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    hotline::test::expect_errors(r, expected, hotline::test::error_starts_with);
}

// Lines 1 to 12; what a test adds begins on line 13.
std::string base(const std::string& extra, const std::string& notify = "[responder:alice]") {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - {name: web, token_file: token}\n"
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "  - {id: boris, contacts: [{channel: hook, address: b}]}\n"
           "  - {id: carol, contacts: [{channel: hook, address: c}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
           "route:\n"
           "  notify: " +
           notify + "\n" + extra;
}

struct fixture {
    temp_dir dir{"hotline-oncall"};
    std::string file;  // the main file, written by load()
    fixture() : file(dir.file("main.yaml")) { dir.write("secrets/token", "t0ken\n"); }
    load_result load(const std::string& extra, const std::string& notify = "[responder:alice]") {
        file = dir.write("main.yaml", base(extra, notify));
        return load_config(file);
    }
    [[nodiscard]] std::string at(int line, int column) const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    }
};

std::int64_t utc_ms(const std::string& iso) {
    const auto t = rules::parse_time(iso, "UTC");
    REQUIRE(t.ok());
    return *t;
}

const std::string good =
    "teams:\n"
    "  - id: local\n"
    "    name: Local rapid response\n"
    "    members: [alice, boris]\n"
    "  - {id: solo, members: [carol]}\n"
    "schedules:\n"
    "  - id: local-week\n"
    "    time_zone: Europe/Kyiv\n"
    "    rotations:\n"
    "      - {type: weekly, handoff: \"09:00\", start: 2026-11-30, members: [alice, boris]}\n"
    "      - {type: custom, length: 12h, start: 2026-12-01, members: [carol, carol, alice]}\n"
    "      - {type: custom, length: 3d, handoff: \"21:30\", start: 2026-12-01, members: [boris]}\n"
    "    overrides:\n"
    "      - {from: 2026-12-05T18:00, to: 2026-12-06T09:00, who: boris}\n"
    "      - {from: \"2026-12-24T00:00+00:00\", to: 2026-12-25, who: carol}\n"
    "  - id: daily\n"
    "    time_zone: UTC\n"
    "    rotations:\n"
    "      - {type: daily, start: 2026-01-01, members: [alice]}\n";

}  // namespace

TEST_CASE("teams and schedules: every key and the defaults") {
    fixture f;
    const auto r = f.load(good, "[team:local, schedule:local-week, schedule:daily, team:solo]");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& c = *r.cfg;
    REQUIRE(c.teams.size() == 2);
    CHECK(c.teams[0].id == "local");
    CHECK(c.teams[0].name == "Local rapid response");
    CHECK(c.teams[0].members == std::vector<std::string>{"alice", "boris"});
    CHECK(c.teams[0].at.line == 14);
    CHECK(c.teams[1].name == "solo");  // defaults to the id
    REQUIRE(c.find_team("solo") != nullptr);
    CHECK(c.find_team("solo")->members == std::vector<std::string>{"carol"});
    CHECK(c.find_team("nope") == nullptr);

    REQUIRE(c.schedules.size() == 2);
    const auto* s = c.find_schedule("local-week");
    REQUIRE(s != nullptr);
    CHECK(c.find_schedule("nope") == nullptr);
    CHECK(s->time_zone == "Europe/Kyiv");
    CHECK(s->at.line == 19);
    REQUIRE(s->rotations.size() == 3);
    CHECK(s->rotations[0].type == "weekly");
    CHECK(s->rotations[0].length_ms == 7 * rules::day_ms);
    CHECK(s->rotations[0].handoff == "09:00");
    CHECK(s->rotations[0].start == "2026-11-30");
    CHECK(s->rotations[0].members == std::vector<std::string>{"alice", "boris"});
    CHECK(s->rotations[0].at.line == 22);
    CHECK(s->rotations[1].type == "custom");
    CHECK(s->rotations[1].length_ms == 12 * 3'600'000);
    CHECK(s->rotations[1].handoff == "09:00");  // the default
    // A rotation may name someone twice (turns of different lengths).
    CHECK(s->rotations[1].members == std::vector<std::string>{"carol", "carol", "alice"});
    CHECK(s->rotations[2].length_ms == 3 * rules::day_ms);
    CHECK(s->rotations[2].handoff == "21:30");
    REQUIRE(s->overrides.size() == 2);
    // Local times in Europe/Kyiv (UTC+2 in December); an explicit offset wins.
    CHECK(s->overrides[0].from_ms == utc_ms("2026-12-05T16:00Z"));
    CHECK(s->overrides[0].to_ms == utc_ms("2026-12-06T07:00Z"));
    CHECK(s->overrides[0].who == "boris");
    CHECK(s->overrides[0].at.line == 26);
    CHECK(s->overrides[1].from_ms == utc_ms("2026-12-24T00:00Z"));
    CHECK(s->overrides[1].to_ms == utc_ms("2026-12-24T22:00Z"));  // 2026-12-25 00:00 local
    CHECK(c.find_schedule("daily")->rotations[0].length_ms == rules::day_ms);

    // What the loader read is what the math computes with.
    // 20:00Z: alice's week, carol's 12 h turn from 19:00Z, boris's 3 days.
    CHECK(rules::on_call(*s, utc_ms("2026-12-02T20:00Z")) ==
          std::vector<std::string>{"alice", "carol", "boris"});
    CHECK(rules::on_call(*s, utc_ms("2026-12-05T17:00Z")) == std::vector<std::string>{"boris"});
}

TEST_CASE("teams and schedules: positioned errors") {
    fixture f;
    const auto r = f.load(
        "teams:\n"                       // 13
        "  - id: local\n"                // 14
        "    members: [alice, alise]\n"  // 15
        "  - id: local\n"                // 16
        "    members: []\n"              // 17
        "  - id: twice\n"                // 18
        "    members: [boris, boris]\n"  // 19
        "  - name: No id\n"              // 20
        "    members: [carol]\n"         // 21
        "schedules:\n"                   // 22
        "  - id: s1\n"                   // 23
        "    time_zone: Europe/Kyiv\n"   // 24
        "    rotations:\n"               // 25
        "      - type: weekly\n"         // 26
        "        handoff: \"9:00\"\n"    // 27
        "        start: 2026-02-30\n"    // 28
        "        members: [alice]\n"     // 29
        "        length: 7d\n"           // 30
        "      - type: custom\n"         // 31
        "        start: 2026-01-01\n"    // 32
        "        members: [alice]\n"     // 33
        "      - type: custom\n"         // 34
        "        length: 30s\n"          // 35
        "        start: 2026-01-01\n"    // 36
        "        members: []\n"          // 37
        "      - type: hourly\n"         // 38
        "        start: 2026-01-01\n"    // 39
        "        members: [carol]\n"     // 40
        "    overrides:\n"               // 41
        "      - {from: \"2026-12-06T09:00+02:00\", to: \"2026-12-05T18:00+02:00\", who: boris}\n"
        "      - {from: yesterday, to: 2026-12-06T09:00Z, who: nobody}\n"     // 43
        "  - id: s1\n"                                                        // 44
        "    time_zone: UTC\n"                                                // 45
        "    rotations: []\n"                                                 // 46
        "  - id: s3\n"                                                        // 47
        "    rotations:\n"                                                    // 48
        "      - {start: 2026-01-01, members: [alice], handof: \"10:00\"}\n"  // 49
        "  - id: s4\n"                                                        // 50
        "    time_zone: Europe/Londn\n"                                       // 51
        "    rotations:\n"                                                    // 52
        "      - {type: daily, start: 2026-01-01, members: [alice]}\n"        // 53
        "    overrides:\n"                                                    // 54
        "      - {from: 2026-12-05T18:00, to: 2026-12-06T09:00, who: alice}\n");
    expect_errors(
        r,
        {
            f.at(15, 22) +
                "teams[0].members[1]: unknown responder \"alise\"; did you mean \"alice\"?",
            f.at(16, 9) + "teams[1].id: duplicate id \"local\" (first at " + f.file + ":14:5)",
            f.at(17, 14) + "teams[1].members: must list at least one responder",
            f.at(19, 22) + "teams[2].members[1]: \"boris\" is listed twice",
            f.at(20, 5) + "teams[3].id: missing (every entry needs an id)",
            f.at(27, 18) + "schedules[0].rotations[0].handoff: expected a local time of day HH:MM "
                           "(00:00 to 23:59), got \"9:00\"",
            f.at(28, 16) + "schedules[0].rotations[0].start: expected a date YYYY-MM-DD (years "
                           "1900 to 9999), got \"2026-02-30\"",
            f.at(30, 17) + "schedules[0].rotations[0].length: only for type: custom",
            f.at(31, 9) + "schedules[0].rotations[1].length: missing (type: custom needs a length",
            f.at(35, 17) + "schedules[0].rotations[2].length: at least 1m, got \"30s\"",
            f.at(37, 18) + "schedules[0].rotations[2].members: must list at least one responder",
            f.at(38, 15) + "schedules[0].rotations[3].type: expected one of",
            f.at(42, 46) + "schedules[0].overrides[0].to: must be after from "
                           "(2026-12-06T09:00+02:00), got \"2026-12-05T18:00+02:00\"",
            f.at(43, 16) + "schedules[0].overrides[1].from: expected an ISO 8601 time",
            f.at(43, 55) + "schedules[0].overrides[1].who: unknown responder \"nobody\"",
            f.at(44, 9) + "schedules[1].id: duplicate id \"s1\" (first at " + f.file + ":23:5)",
            f.at(46, 16) + "schedules[1].rotations: must list at least one rotation",
            f.at(47, 5) + "schedules[2].time_zone: missing (an IANA name",
            f.at(49, 9) + "schedules[2].rotations[0].type: missing (daily, weekly or custom)",
            f.at(49, 47) +
                "schedules[2].rotations[0].handof: unknown key; did you mean \"handoff\"?",
            // A local-time override is not a second error beside its schedule's bad zone.
            f.at(51, 16) + "schedules[3].time_zone: unknown time zone \"Europe/Londn\" (an IANA "
                           "name like Europe/Kyiv); did you mean \"Europe/London\"?",
        });
    // "nobody" is not close to any responder: no suggestion.
    for (const auto& e : r.errors) {
        if (e.describe().find("\"nobody\"") != std::string::npos) {
            CHECK(e.describe().ends_with("unknown responder \"nobody\""));
        }
    }
}

TEST_CASE("teams and schedules: wrong shapes and values") {
    fixture f;
    expect_errors(
        f.load("teams: {local: [alice]}\nschedules: 5\n"),
        {f.at(13, 8) + "teams: expected a list", f.at(14, 12) + "schedules: expected a list"});
    expect_errors(
        f.load("teams:\n"
               "  - {id: t, members: alice}\n"                // 14
               "  - {id: u, members: [{id: alice}], x: 1}\n"  // 15
               "  - {id: \"bad id!\", members: [alice]}\n"),  // 16
        {f.at(14, 22) + "teams[0].members: expected a list",
         f.at(15, 23) + "teams[1].members[0]: expected a string, got a map",
         f.at(15, 37) + "teams[1].x: unknown key", f.at(16, 10) + "teams[2].id: expected"});
    expect_errors(
        f.load(
            "schedules:\n"
            "  - id: s\n"
            "    time_zone: UTC\n"
            "    rotations:\n"
            "      - {type: custom, length: 1h30s, start: 2026-01-01, members: [alice]}\n"    // 17
            "      - {type: custom, length: 12, start: 2026-01-01, members: [alice]}\n"       // 18
            "      - {type: daily, handoff: \"24:00\", start: \"2026-1-1\", members: [a]}\n"  // 19
            "      - {type: daily, handoff: [9], start: 2026-01-01, members: [alice]}\n"      // 20
            "      - {type: daily, start: 1899-12-31, members: [alice]}\n"                    // 21
            "    overrides:\n"
            "      - {from: 2026-12-05T24:00, to: 2026-12-06T09:00+25:00, who: alice}\n"  // 23
            "      - {from: 2026-12-05T18:00}\n"                                          // 24
            "      - [from, to]\n"),                                                      // 25
        {
            f.at(17, 32) + "schedules[0].rotations[0].length: a whole number of minutes",
            f.at(18, 32) +
                "schedules[0].rotations[1].length: invalid duration \"12\": missing unit",
            f.at(19, 32) + "schedules[0].rotations[2].handoff: expected a local time of day",
            f.at(19, 48) + "schedules[0].rotations[2].start: expected a date YYYY-MM-DD",
            f.at(19, 70) + "schedules[0].rotations[2].members[0]: unknown responder \"a\"",
            f.at(20, 32) + "schedules[0].rotations[3].handoff: expected a string",
            f.at(21, 30) + "schedules[0].rotations[4].start: expected a date YYYY-MM-DD (years "
                           "1900 to 9999), got \"1899-12-31\"",
            f.at(23, 16) + "schedules[0].overrides[0].from: no such time of day",
            f.at(23, 38) + "schedules[0].overrides[0].to: no such UTC offset",
            f.at(24, 9) + "schedules[0].overrides[1].to: missing (an ISO 8601 time",
            f.at(24, 9) + "schedules[0].overrides[1].who: missing (the responder on call instead)",
            f.at(25, 9) + "schedules[0].overrides[2]: expected a map",
        });
}

TEST_CASE("teams and schedules: lists across files, ids across files, route targets") {
    fixture f;
    f.dir.write("more.yaml",
                "teams:\n"
                "  - {id: far, members: [boris]}\n"
                "  - {id: local, members: [boris]}\n"
                "schedules:\n"
                "  - {id: nights, time_zone: Asia/Almaty, rotations: [{type: daily, "
                "start: 2026-01-01, members: [carol]}]}\n");
    auto r = f.load(good + "include: [more.yaml]\n", "[team:far, schedule:nights]");
    expect_errors(r, {f.dir.file("more.yaml") +
                      ":3:10: teams[1].id: duplicate id \"local\" (first at " + f.file + ":14:5)"});
    f.dir.write("more.yaml",
                "teams:\n"
                "  - {id: far, members: [boris]}\n"
                "schedules:\n"
                "  - {id: nights, time_zone: Asia/Almaty, rotations: [{type: daily, "
                "start: 2026-01-01, members: [carol]}]}\n");
    r = f.load(good + "include: [more.yaml]\n", "[team:far, schedule:nights]");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->teams.size() == 3);
    CHECK(r.cfg->schedules.size() == 3);
    CHECK(r.cfg->find_schedule("nights")->time_zone == "Asia/Almaty");
    // Route targets are checked against the ids declared here (config/references.cpp).
    expect_errors(
        f.load(good, "[team:locla, schedule:local-wek]"),
        {f.at(12, 12) + "route.notify[0]: unknown team \"locla\"; did you mean \"local\"?",
         f.at(12, 24) + "route.notify[1]: unknown schedule \"local-wek\"; did you mean "
                        "\"local-week\"?"});
    // A team with an error is not declared twice over: one error, not a cascade.
    expect_errors(f.load("teams: [{id: t, members: [zed]}]\n", "[team:t]"),
                  {f.at(13, 27) + "teams[0].members[0]: unknown responder \"zed\""});
}

TEST_CASE("schedules: hostile sizes are refused") {
    fixture f;
    std::string many =
        "schedules:\n"
        "  - id: s\n"
        "    time_zone: UTC\n"
        "    rotations: [{type: daily, start: 2026-01-01, members: [alice]}]\n"
        "    overrides:\n";
    for (int i = 0; i < 1001; ++i) {
        many += "      - {from: 2026-01-01T00:00Z, to: 2026-01-02T00:00Z, who: alice}\n";
    }
    expect_errors(f.load(many),
                  {f.at(18, 7) + "schedules[0].overrides: at most 1000 overrides, got 1001"});
    std::string layers =
        "schedules:\n"
        "  - id: s\n"
        "    time_zone: UTC\n"
        "    rotations:\n";
    for (int i = 0; i < 33; ++i) {
        layers += "      - {type: daily, start: 2026-01-01, members: [alice]}\n";
    }
    expect_errors(f.load(layers), {f.at(17, 7) + "schedules[0].rotations: at most 32 rotations"});
    const std::string zone(5000, 'Z');
    expect_errors(f.load("schedules:\n"
                         "  - id: s\n"
                         "    time_zone: " +
                         zone +
                         "\n"
                         "    rotations: [{type: daily, start: 2026-01-01, members: [alice]}]\n"
                         "    overrides: [{from: \"" +
                         std::string(3000, '2') + "\", to: 2026-01-02, who: alice}]\n"),
                  {f.at(15, 16) + "schedules[0].time_zone: unknown time zone \"ZZZZ",
                   f.at(17, 24) + "schedules[0].overrides[0].from: expected an ISO 8601 time"});
}

TEST_CASE("the shipped example has a team and a weekly schedule") {
    const temp_dir creds("hotline-oncall");
    creds.write("webhook.token", "example-token\n");
    creds.write("webhook-signing.key", "example-signing-key\n");
    ::setenv("CREDENTIALS_DIRECTORY", creds.path.c_str(), 1);
    const auto r = load_config(std::string(HOTLINE_SOURCE_DIR) + "/conf/hotline.yaml");
    ::unsetenv("CREDENTIALS_DIRECTORY");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto* t = r.cfg->find_team("local");
    REQUIRE(t != nullptr);
    CHECK(t->members == std::vector<std::string>{"alice", "boris"});
    const auto* s = r.cfg->find_schedule("local-week");
    REQUIRE(s != nullptr);
    REQUIRE(s->rotations.size() == 1);
    CHECK(s->rotations[0].type == "weekly");
    CHECK(s->rotations[0].members == std::vector<std::string>{"alice", "boris"});
    CHECK_FALSE(rules::on_call(*s, utc_ms("2027-01-01T12:00Z")).empty());
}
