// config: `time_intervals:` (config/time_intervals.cpp) and the route keys that use them and
// the escalation engine reads (config/routes.cpp): policy, group_by, group_window,
// active_time_intervals, mute_time_intervals, the time_interval matcher. Positioned errors
// for every bad value; names resolved once every file is read.
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

// Each expected line must start one error after the temporary folder ("main.yaml:12:19: ..."),
// and there must be no other error.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    // An error matches from its file name on (the temp dir's path varies).
    hotline::test::expect_errors(r, expected, [](const std::string& text, const std::string& e) {
        const auto slash = text.rfind('/', text.find(".yaml:"));
        return text.compare(slash == std::string::npos ? 0 : slash + 1, e.size(), e) == 0;
    });
}

// Lines 1-8 are the base; `top` starts at line 9; then "route:" and its notify, then
// `route_keys` (indented under route:).
std::string config_with(const std::string& top, const std::string& route_keys = {}) {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - {name: hook, kind: webhook, token_files: [token]}\n"
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n" +
           top +
           "route:\n"
           "  notify: [responder:alice]\n" +
           route_keys;
}

load_result load(const std::string& top, const std::string& route_keys = {}) {
    const temp_dir dir("hotline-ti");
    dir.write("secrets/token", "t0ken-t0ken-t0ken-t0ken\n");
    return load_config(dir.write("main.yaml", config_with(top, route_keys)));
}

// One interval "x" with one entry made of `entry` (keys at 8 spaces, from line 12).
std::string one_interval(const std::string& entry) {
    return "time_intervals:\n"      // 9
           "  - name: x\n"          // 10
           "    time_intervals:\n"  // 11
           "      - " +
           entry;  // 12
}

// 2026-03-29 is the Sunday Europe/Kyiv moves from UTC+2 to UTC+3 at 03:00 local (01:00 UTC).
constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t mar_29_2026_utc = 1'774'742'400'000;  // 2026-03-29T00:00:00Z

}  // namespace

TEST_CASE("time_intervals: the Alertmanager example") {
    const auto r = load(
        "time_intervals:\n"
        "  - name: office-hours\n"
        "    time_intervals:\n"
        "      - times: [{start_time: \"09:00\", end_time: \"18:00\"}]\n"
        "        weekdays: ['monday:friday']\n"
        "        days_of_month: ['1:5', '-3:-1']\n"
        "        months: ['january:march', 'december']\n"
        "        years: ['2026:2027']\n"
        "        location: Europe/Kyiv\n"
        "  - name: always\n"
        "    time_intervals: [{}]\n"
        "  - name: never\n"
        "    time_intervals: []\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    REQUIRE(r.cfg->time_intervals.size() == 3);
    const auto& office = r.cfg->time_intervals[0];
    CHECK(office.name == "office-hours");
    CHECK(office.at.line == 10);
    REQUIRE(office.interval->entries.size() == 1);
    const auto& e = office.interval->entries[0];
    REQUIRE(e.times.size() == 1);
    CHECK(e.times[0].start_minute == 9 * 60);
    CHECK(e.times[0].end_minute == 18 * 60);
    REQUIRE(e.weekdays.size() == 1);
    CHECK(e.weekdays[0].begin == 1);
    CHECK(e.weekdays[0].end == 5);
    REQUIRE(e.days_of_month.size() == 2);
    CHECK(e.days_of_month[1].begin == -3);
    CHECK(e.days_of_month[1].end == -1);
    REQUIRE(e.months.size() == 2);
    CHECK(e.months[0].begin == 1);
    CHECK(e.months[0].end == 3);
    CHECK(e.months[1].begin == 12);
    CHECK(e.months[1].end == 12);
    CHECK(e.years[0].begin == 2026);
    CHECK(e.years[0].end == 2027);
    CHECK(e.location == "Europe/Kyiv");
    CHECK(e.zone != nullptr);
    // Monday 2026-03-02 10:00 Kyiv (08:00 UTC, winter time): inside.
    const std::int64_t mar_2_2026 = 1'772'409'600'000;  // 2026-03-02T00:00:00Z
    CHECK(contains(*office.interval, mar_2_2026 + 8 * hour_ms));
    CHECK_FALSE(contains(*office.interval, mar_2_2026 + 6 * hour_ms));  // 08:00 local
    CHECK(contains(*r.cfg->time_intervals[1].interval, 0));
    CHECK_FALSE(contains(*r.cfg->time_intervals[2].interval, 0));
}

TEST_CASE("time_intervals: bad values name file:line:column and the key path") {
    SUBCASE("weekday names, with a suggestion") {
        expect_errors(load(one_interval("weekdays: [mondy, 'tuesday:']\n")),
                      {"main.yaml:12:20: time_intervals[0].time_intervals[0].weekdays[0]: unknown "
                       "weekday \"mondy\" (expected sunday .. saturday); did you mean \"monday\"?",
                       "main.yaml:12:27: time_intervals[0].time_intervals[0].weekdays[1]: expected "
                       "a weekday or a range of them like \"monday:friday\", got \"tuesday:\""});
    }
    SUBCASE("a weekday range backwards") {
        expect_errors(
            load(one_interval("weekdays: ['saturday:sunday']\n")),
            {"main.yaml:12:20: time_intervals[0].time_intervals[0].weekdays[0]: the range "
             "\"saturday:sunday\" starts after it ends"});
    }
    SUBCASE("times: 25:00, start not before end, missing end, 24:00 as a start") {
        expect_errors(
            load(one_interval("times:\n"
                              "          - {start_time: \"25:00\", end_time: \"26:00\"}\n"
                              "          - {start_time: \"18:00\", end_time: \"09:00\"}\n"
                              "          - {start_time: \"09:00\"}\n"
                              "          - {start_time: \"24:00\", end_time: \"24:00\"}\n"
                              "          - {start_time: \"9:00\", end_time: \"24:00\"}\n"
                              "          - {start_time: \"22:00\", end_time: \"24:01\"}\n"
                              "          - {start_time: \"00:00\", end_time: \"24:00\", x: 1}\n")),
            {"main.yaml:13:26: time_intervals[0].time_intervals[0].times[0].start_time: "
             "expected start_time as HH:MM from 00:00 to 23:59, got \"25:00\"",
             "main.yaml:14:45: time_intervals[0].time_intervals[0].times[1].end_time: start_time "
             "\"18:00\" is not before end_time \"09:00\"",
             "main.yaml:15:13: time_intervals[0].time_intervals[0].times[2]: missing end_time",
             "main.yaml:16:26: time_intervals[0].time_intervals[0].times[3].start_time: expected "
             "start_time as HH:MM from 00:00 to 23:59, got \"24:00\"",
             "main.yaml:17:26: time_intervals[0].time_intervals[0].times[4].start_time: expected "
             "start_time as HH:MM from 00:00 to 23:59, got \"9:00\"",
             "main.yaml:18:45: time_intervals[0].time_intervals[0].times[5].end_time: expected "
             "end_time as HH:MM from 00:00 to 24:00, got \"24:01\"",
             "main.yaml:19:54: time_intervals[0].time_intervals[0].times[6].x: unknown key "
             "(expected one of: "
             "start_time end_time)"});
    }
    SUBCASE("days of the month, months, years") {
        expect_errors(load(one_interval("days_of_month: ['0', '32', '-3:-5', '5:1', 'x']\n"
                                        "        months: ['janury', '13', 'march:january']\n"
                                        "        years: ['0', '2027:2026', '10000']\n")),
                      {"main.yaml:12:25: time_intervals[0].time_intervals[0].days_of_month[0]: "
                       "expected a day of the month from 1 to 31 or -31 to -1, got \"0\"",
                       "main.yaml:12:30: time_intervals[0].time_intervals[0].days_of_month[1]: "
                       "expected a day of the month",
                       "main.yaml:12:36: time_intervals[0].time_intervals[0].days_of_month[2]: "
                       "the range \"-3:-5\" starts after it ends",
                       "main.yaml:12:45: time_intervals[0].time_intervals[0].days_of_month[3]: "
                       "the range \"5:1\" starts after it ends",
                       "main.yaml:12:52: time_intervals[0].time_intervals[0].days_of_month[4]: "
                       "expected a day of the month",
                       "main.yaml:13:18: time_intervals[0].time_intervals[0].months[0]: unknown "
                       "month \"janury\" (expected january .. december or 1 .. 12); did you mean "
                       "\"january\"?",
                       "main.yaml:13:28: time_intervals[0].time_intervals[0].months[1]: unknown "
                       "month \"13\"",
                       "main.yaml:13:34: time_intervals[0].time_intervals[0].months[2]: the range "
                       "\"march:january\" starts after it ends",
                       "main.yaml:14:17: time_intervals[0].time_intervals[0].years[0]: expected a "
                       "year from 1 to 9999, got \"0\"",
                       "main.yaml:14:22: time_intervals[0].time_intervals[0].years[1]: the range "
                       "\"2027:2026\" starts after it ends",
                       "main.yaml:14:35: time_intervals[0].time_intervals[0].years[2]: expected a "
                       "year from 1 to 9999"});
    }
    SUBCASE("an unknown location, with a suggestion; Local is refused") {
        expect_errors(
            load("time_intervals:\n"
                 "  - name: x\n"
                 "    time_intervals: [{location: Europe/Kyyiv}]\n"
                 "  - name: y\n"
                 "    time_intervals: [{location: Local}]\n"
                 "  - name: z\n"
                 "    time_intervals: [{location: [Europe/Kyiv]}]\n"),
            {"main.yaml:11:33: time_intervals[0].time_intervals[0].location: unknown time "
             "zone \"Europe/Kyyiv\"; did you mean \"Europe/Kyiv\"?",
             "main.yaml:13:33: time_intervals[1].time_intervals[0].location: unknown time "
             "zone \"Local\"; the daemon's own zone is not used",
             "main.yaml:15:33: time_intervals[2].time_intervals[0].location: expected a "
             "string, got a list"});
    }
    SUBCASE("names: missing, duplicate, not a name; entries: not a list, unknown keys") {
        expect_errors(
            load("time_intervals:\n"
                 "  - name: x\n"
                 "    time_intervals: [{}]\n"
                 "  - name: x\n"
                 "    time_intervals: [{}]\n"
                 "  - time_intervals: [{}]\n"
                 "  - name: 'a b'\n"
                 "    time_intervals: [{}]\n"
                 "  - name: y\n"
                 "  - name: z\n"
                 "    time_intervals: {times: []}\n"
                 "  - name: w\n"
                 "    time_intervals: [{weekday: [monday]}]\n"),
            {"main.yaml:12:11: time_intervals[1].name: duplicate time interval \"x\" "
             "(first at ",
             "main.yaml:14:5: time_intervals[2]: missing name",
             "main.yaml:15:11: time_intervals[3].name: expected a name of letters",
             "main.yaml:17:5: time_intervals[4]: missing time_intervals",
             "main.yaml:19:21: time_intervals[5].time_intervals: expected a list, got a map",
             "main.yaml:21:23: time_intervals[6].time_intervals[0].weekday: unknown key; "
             "did you mean \"weekdays\"?"});
    }
    SUBCASE("not a list") {
        expect_errors(load("time_intervals: {name: x}\n"),
                      {"main.yaml:9:17: time_intervals: expected a list"});
    }
}

TEST_CASE("time_intervals: a duplicate name across files") {
    const temp_dir dir("hotline-ti");
    dir.write("secrets/token", "t0ken-t0ken-t0ken-t0ken\n");
    dir.write("more.yaml", "time_intervals:\n  - {name: night, time_intervals: [{}]}\n");
    const auto r = load_config(dir.write(
        "main.yaml", config_with("include: [more.yaml]\n"
                                 "time_intervals:\n  - {name: night, time_intervals: [{}]}\n")));
    expect_errors(r, {"more.yaml:2:12: time_intervals[0].name: duplicate time interval \"night\" "
                      "(first at /"});
}

TEST_CASE("routes: time intervals resolved by name, in any file order") {
    const auto r = load("",
                        "  mute_time_intervals: [night]\n"
                        "  routes:\n"
                        "    - name: office\n"
                        "      match: ['time_interval = \"office\"']\n"
                        "      active_time_intervals: [office, night]\n"
                        "    - name: after-hours\n"
                        "      match: ['time_interval != \"office\"']\n"
                        "      mute_time_intervals: []\n"
                        "time_intervals:\n"
                        "  - {name: office, time_intervals: [{times: [{start_time: '09:00', "
                        "end_time: '18:00'}]}]}\n"
                        "  - {name: night, time_intervals: [{times: [{start_time: '00:00', "
                        "end_time: '06:00'}]}]}\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& root = r.cfg->route;
    REQUIRE(root.mute_time_intervals);
    REQUIRE(root.mute_time_intervals->size() == 1);
    CHECK(root.mute_time_intervals->at(0).interval == r.cfg->time_intervals.at(1).interval);
    CHECK_FALSE(root.active_time_intervals);
    const auto& office = root.routes.at(0);
    CHECK(office.match.at(0).interval == r.cfg->time_intervals.at(0).interval);
    REQUIRE(office.active_time_intervals);
    CHECK(office.active_time_intervals->at(1).name == "night");
    CHECK(office.active_time_intervals->at(1).interval != nullptr);
    CHECK_FALSE(office.mute_time_intervals);  // inherited at evaluation
    const auto& after = root.routes.at(1);
    CHECK(after.match.at(0).interval == r.cfg->time_intervals.at(0).interval);
    REQUIRE(after.mute_time_intervals);
    CHECK(after.mute_time_intervals->empty());  // [] clears the inherited mutes

    hotline::domain::report rep;
    rep.sender = "+380441234567";
    rep.text = "x";
    rep.received_at = mar_29_2026_utc + 10 * hour_ms;  // 10:00 UTC
    auto d = hotline::rules::evaluate(root, rep);
    CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "office"}});
    CHECK(d.muted_by.empty());
    rep.received_at = mar_29_2026_utc + 3 * hour_ms;  // 03:00 UTC: night
    d = hotline::rules::evaluate(root, rep);
    CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "after-hours"}});
    CHECK(d.muted_by.empty());  // after-hours cleared the root's mute
}

TEST_CASE("routes: unknown interval names, with suggestions") {
    expect_errors(load("time_intervals:\n  - {name: office-hours, time_intervals: [{}]}\n",
                       "  active_time_intervals: [ofice-hours]\n"
                       "  routes:\n"
                       "    - match: ['time_interval = \"office-hour\"']\n"
                       "      mute_time_intervals: [office-hours, nights]\n"),
                  {"main.yaml:13:27: route.active_time_intervals[0]: unknown time interval "
                   "\"ofice-hours\"; did you mean \"office-hours\"?",
                   "main.yaml:15:16: route root/routes[0] match: unknown time interval "
                   "\"office-hour\"; did you mean \"office-hours\"?",
                   "main.yaml:16:43: route.routes[0].mute_time_intervals[1]: unknown time interval "
                   "\"nights\""});
    expect_errors(load("", "  mute_time_intervals: [night]\n"),
                  {"main.yaml:11:25: route.mute_time_intervals[0]: unknown time interval \"night\" "
                   "(no `time_intervals:` are declared)"});
}

TEST_CASE("routes: bad interval lists and time_interval matchers") {
    expect_errors(
        load("time_intervals:\n  - {name: office-hours, time_intervals: [{}]}\n",
             "  mute_time_intervals: [office-hours, office-hours, 'a b']\n"
             "  active_time_intervals: office-hours\n"
             "  routes:\n"
             "    - match: ['time_interval = \"x\"', 'time_interval =~ \"x\"']\n"
             "    - match: ['time_interval = \"\"']\n"),
        {"main.yaml:13:39: route.mute_time_intervals[1]: \"office-hours\" is listed twice",
         "main.yaml:13:53: route.mute_time_intervals[2]: expected a name of letters",
         "main.yaml:14:26: route.active_time_intervals: expected a list",
         "main.yaml:16:", "main.yaml:17:"});
}

std::string policies(std::initializer_list<const char*> ids) {
    std::string out = "policies:\n";
    for (const char* id : ids) {
        out += std::string("  - {id: ") + id + ", steps: [{targets: [responder:alice]}]}\n";
    }
    return out;
}

TEST_CASE("routes: policy, group_by, group_window") {
    const auto r = load(policies({"default", "urgent"}),
                        "  policy: default\n"
                        "  group_by: [sender]\n"
                        "  group_window: 30m\n"
                        "  routes:\n"
                        "    - name: detention\n"
                        "      policy: urgent\n"
                        "      group_by: [source, sender, labels.region]\n"
                        "    - name: all\n"
                        "      group_by: ['...']\n"
                        "      group_window: 2h\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto& root = r.cfg->route;
    CHECK(root.policy == "default");
    CHECK(root.group_by == std::vector<std::string>{"sender"});
    CHECK(root.group_window_ms == 30 * 60'000);
    const auto& detention = root.routes.at(0);
    CHECK(detention.policy == "urgent");
    CHECK(detention.group_by == std::vector<std::string>{"source", "sender", "labels.region"});
    CHECK_FALSE(detention.group_window_ms);
    const auto& all = root.routes.at(1);
    CHECK_FALSE(all.policy);
    CHECK(all.group_by == std::vector<std::string>{"..."});
    CHECK(all.group_window_ms == 2 * 3'600'000);
}

TEST_CASE("routes: bad policy, group_by and group_window values") {
    expect_errors(load("",
                       "  policy: 'a b'\n"
                       "  group_by: [sendr, sender, sender, 'labels.9x', text]\n"
                       "  group_window: 0s\n"
                       "  routes:\n"
                       "    - group_by: ['...', sender]\n"
                       "      group_window: 31d\n"
                       "    - group_by: sender\n"
                       "      policy: [a]\n"
                       "      group_window: soon\n"),
                  {"main.yaml:11:11: route.policy: ",
                   "main.yaml:12:14: route.group_by[0]: unknown group_by field \"sendr\" "
                   "(expected source, sender, subject, country, language, labels.<name> or "
                   "\"...\" for all of them); did you mean \"sender\"?",
                   "main.yaml:12:29: route.group_by[2]: \"sender\" is listed twice",
                   "main.yaml:12:37: route.group_by[3]: expected a label name",
                   "main.yaml:12:50: route.group_by[4]: unknown group_by field \"text\"",
                   "main.yaml:13:17: route.group_window: expected a duration above zero",
                   "main.yaml:15:17: route.routes[0].group_by: \"...\" (every field) must be the "
                   "only entry",
                   "main.yaml:16:21: route.routes[0].group_window: expected a duration of at most "
                   "30d, got \"31d\"",
                   "main.yaml:17:17: route.routes[1].group_by: expected a list",
                   "main.yaml:18:15: route.routes[1].policy: ",
                   "main.yaml:19:21: route.routes[1].group_window: "});
}

TEST_CASE("routes: every policy name is checked against policies:") {
    const auto r = load(policies({"p1", "p2"}), "  policy: p1\n  routes:\n    - {policy: p2}\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->route.routes.at(0).policy == "p2");
    // An undeclared one is an error at its use, with a suggestion.
    expect_errors(load(policies({"p1"}), "  policy: p2\n"),
                  {"main.yaml:13:11: route.policy: unknown policy \"p2\"; did you mean \"p1\"?"});
}
