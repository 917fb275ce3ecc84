// config: `tests:` in rule files (config/tests.cpp): every key read into the model, the
// shipped example, and positioned errors with the key path (unknown keys with did-you-mean,
// wrong types, times without an offset, team:/schedule: in expectations, duplicate names,
// unknown sources, missing keys, oversized lists).
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

// Each expected text must be in one error, and there must be no other error.
void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    hotline::test::expect_errors(r, expected, hotline::test::error_contains);
}

// Lines 1 to 13; a test's `tests:` list begins on line 14.
std::string base(const std::string& tests) {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - {name: web, token_file: token}\n"
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "partners:\n"
           "  - {id: ngo, sees: [labels], contacts: [{channel: hook, address: n}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
           "route:\n"
           "  notify: [responder:alice]\n"
           "tests:\n" +
           tests;
}

struct fixture {
    temp_dir dir{"hotline-tests"};
    std::string file;
    fixture() : file(dir.file("main.yaml")) { dir.write("secrets/token", "t0ken\n"); }
    load_result load(const std::string& tests) {
        file = dir.write("main.yaml", base(tests));
        return load_config(file);
    }
    [[nodiscard]] std::string at(int line, int column) const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    }
};

}  // namespace

TEST_CASE("tests: every key reaches the model") {
    fixture f;
    const auto r = f.load(
        "  - name: full\n"                     // 14
        "    at: 2026-12-07T09:00:00+02:00\n"  // 15
        "    report:\n"                        // 16
        "      source: web\n"                  // 17
        "      source_kind: sms\n"             // 18
        "      sender: \"+380501234567\"\n"    // 19
        "      country: UA\n"                  // 20
        "      subject: s\n"                   // 21
        "      text: Задержали\n"              // 22
        "      language: ru\n"                 // 23
        "      labels: {form: web}\n"          // 24
        "    expect:\n"                        // 25
        "      path: [root]\n"                 // 26
        "      severity: critical\n"           // 27
        "      policy: \"\"\n"                 // 28
        "      labels: {kind: x}\n"            // 29
        "      targets: [responder:alice, partner:ngo]\n"
        "      steps: [[responder:alice], []]\n"
        "      muted: false\n"
        "      muted_by: []\n"
        "      group_by: [sender]\n"
        "      group_window: 30m\n"
        "  - name: minimal\n"
        "    report: {text: hello}\n"
        "    expect: {paths: [[root], [root, x]]}\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    REQUIRE(r.cfg->tests.size() == 2);
    const auto& t = r.cfg->tests[0];
    CHECK(t.name == "full");
    CHECK(t.path == "tests[0]");
    CHECK(t.at.line == 14);
    REQUIRE(t.at_ms.has_value());
    CHECK(*t.at_ms == 1796626800000);  // 2026-12-07T07:00:00Z
    CHECK(t.report.source == "web");
    CHECK(t.report.source_kind == "sms");
    CHECK(t.report.sender == "+380501234567");
    CHECK(t.report.country == "UA");
    CHECK(t.report.subject == "s");
    CHECK(t.report.text == "Задержали");
    CHECK(t.report.language == std::optional<std::string>("ru"));
    CHECK(t.report.labels.at("form") == "web");
    const auto& e = t.expect;
    REQUIRE(e.paths.has_value());
    REQUIRE(e.paths->size() == 1);
    CHECK((*e.paths)[0] == std::vector<std::string>{"root"});
    CHECK(e.severity == std::optional<std::string>("critical"));
    CHECK(e.policy == std::optional<std::string>(""));
    CHECK(e.labels->at("kind") == "x");
    CHECK(*e.targets == std::vector<std::string>{"responder:alice", "partner:ngo"});
    REQUIRE(e.steps->size() == 2);
    CHECK((*e.steps)[0] == std::vector<std::string>{"responder:alice"});
    CHECK((*e.steps)[1].empty());
    CHECK(e.muted == std::optional(false));
    CHECK(e.muted_by->empty());
    CHECK(*e.group_by == std::vector<std::string>{"sender"});
    CHECK(e.group_window_ms == std::optional<std::int64_t>(30 * 60 * 1000));

    const auto& m = r.cfg->tests[1];
    CHECK_FALSE(m.at_ms.has_value());
    CHECK_FALSE(m.report.language.has_value());
    CHECK(m.report.source.empty());
    CHECK(m.expect.paths->size() == 2);
    CHECK_FALSE(m.expect.severity.has_value());
    CHECK_FALSE(m.expect.targets.has_value());
}

TEST_CASE("tests: unknown keys get a did-you-mean") {
    fixture f;
    expect_errors(
        f.load("  - name: a\n"
               "    report: {text: t, sendr: x}\n"
               "    expect: {severty: high}\n"
               "    att: 2026-12-07T09:00:00Z\n"),
        {f.at(15, 23) + "tests[0].report.sendr: unknown key; did you mean \"sender\"?",
         f.at(16, 14) + "tests[0].expect.severty: unknown key; did you mean \"severity\"?",
         f.at(17, 5) + "tests[0].att: unknown key; did you mean \"at\"?"});
}

TEST_CASE("tests: wrong types and values") {
    fixture f;
    expect_errors(
        f.load("  - name: a\n"                              // 14
               "    report: {text: [x], labels: [a]}\n"     // 15
               "    expect:\n"                              // 16
               "      severity: urgent\n"                   // 17
               "      targets: responder:alice\n"           // 18
               "      muted: maybe\n"                       // 19
               "      steps: [[team:local]]\n"              // 20
               "      group_window: soon\n"                 // 21
               "  - name: b\n"                              // 22
               "    report: {text: t, country: Ukraine}\n"  // 23
               "    expect: {targets: [nobody:x, responder:alice, responder:alice]}\n"),
        {f.at(15, 20) + "tests[0].report.text: expected a string",
         f.at(15, 33) + "tests[0].report.labels: expected a map",
         f.at(17, 17) + "tests[0].expect.severity: expected one of critical",
         f.at(18, 16) + "tests[0].expect.targets: expected a list",
         f.at(19, 14) + "tests[0].expect.muted: expected true or false",
         f.at(20, 16) + "tests[0].expect.steps[0][0]: expected a person (responder:ID "
                        "or partner:ID), got \"team:local\"",
         f.at(21, 21) + "tests[0].expect.group_window:",
         f.at(23, 32) + "tests[1].report.country: expected an ISO 3166-1 alpha-2",
         f.at(24, 24) + "tests[1].expect.targets[0]: expected responder:ID",
         f.at(24, 51) + "tests[1].expect.targets[2]: \"responder:alice\" is listed twice"});
}

TEST_CASE("tests: `at` is an RFC 3339 time with its offset") {
    fixture f;
    for (const std::string bad : {"2026-12-07T09:00", "2026-12-07", "tomorrow",
                                  "2026-13-07T09:00:00Z", "2026-12-07T25:00:00+02:00"}) {
        CAPTURE(bad);
        expect_errors(f.load("  - name: a\n"
                             "    at: \"" +
                             bad +
                             "\"\n"
                             "    report: {text: t}\n"
                             "    expect: {severity: low}\n"),
                      {f.at(15, 9) + "tests[0].at: expected an RFC 3339 time with its offset"});
    }
    for (const std::string good : {"2026-12-07T07:00:00Z", "2026-12-07T09:00:00+02:00",
                                   "2026-12-07T04:00:00-03:00", "2026-12-07T07:00Z"}) {
        CAPTURE(good);
        const auto r = f.load(
            "  - name: a\n"
            "    at: \"" +
            good +
            "\"\n"
            "    report: {text: t}\n"
            "    expect: {severity: low}\n");
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->tests[0].at_ms == std::optional<std::int64_t>(1796626800000));
    }
}

TEST_CASE("tests: missing keys, empty expectations, both path and paths") {
    fixture f;
    expect_errors(
        f.load("  - {name: a}\n"
               "  - {name: b, report: {subject: s}, expect: {}}\n"
               "  - {name: c, report: {text: t}, expect: {path: [root], paths: [[root]]}}\n"
               "  - [not, a, map]\n"),
        {f.at(14, 5) + "tests[0].report: missing", f.at(14, 5) + "tests[0].expect: missing",
         f.at(15, 23) + "tests[1].report.text: missing", f.at(15, 45) + "tests[1].expect: empty",
         f.at(16, 57) + "tests[2].expect.paths: give either path",
         f.at(17, 5) + "tests[3]: expected a map"});
}

TEST_CASE("tests: names are unique across files; sources must exist") {
    fixture f;
    f.dir.write("more.yaml",
                "tests:\n"
                "  - {name: same, report: {text: t}, expect: {severity: low}}\n"
                "  - {name: other, report: {text: t, source: webb}, expect: {severity: low}}\n");
    f.file = f.dir.write(
        "main.yaml", "include: [more.yaml]\n" + base("  - {name: same, report: {text: t}, expect: "
                                                     "{severity: low}}\n"));
    const auto r = load_config(f.file);
    expect_errors(r, {"more.yaml:2:12: tests[0].name: a test named \"same\" exists already at " +
                          f.file + ":15:12",
                      "more.yaml:3:45: tests[1].report.source: no source named \"webb\"; did "
                      "you mean \"web\"?"});
}

TEST_CASE("tests: hostile sizes") {
    fixture f;
    std::string many;
    for (int i = 0; i < 1001; ++i) {
        many +=
            "  - {name: t" + std::to_string(i) + ", report: {text: t}, expect: {muted: false}}\n";
    }
    expect_errors(f.load(many), {f.at(14, 3) + "tests: too many tests in one list (at most 1000)"});
    expect_errors(f.load("  - name: a\n"
                         "    report: {text: \"" +
                         std::string(70 * 1024, 'x') +
                         "\"}\n"
                         "    expect: {muted: false}\n"),
                  {"tests[0].report.text: too long (at most 65536 bytes)"});
    expect_errors(f.load("  - name: \"\"\n"
                         "    report: {text: t}\n"
                         "    expect: {muted: false}\n"),
                  {f.at(14, 11) + "tests[0].name:"});
}

TEST_CASE("tests: the rapid-response example loads with its tests") {
    const auto r = load_config(std::string(HOTLINE_SOURCE_DIR) +
                               "/rules/examples/rapid-response/hotline.yaml");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    CHECK(r.cfg->tests.size() >= 8);
}
