// ctl/test_rules: a test's report through the daemon's routing and escalation planning, at
// the test's time: passes, mismatches named per field with expected and got, set
// differences of people, steps fired after ack_within, muted reports, the output's lines,
// exit codes and JSON; the shipped rapid-response example passes.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "ctl/test_rules.hpp"
#include "temp_dir.hpp"

using hotline::config::load_config;
using hotline::config::load_result;
using hotline::test::temp_dir;
namespace ctl = hotline::ctl;

namespace {

std::string dump(const load_result& r) {
    std::string out;
    for (const auto& e : r.errors) {
        out += e.describe() + "\n";
    }
    return out;
}

const std::string config_head =
    "secrets_dir: secrets\n"
    "sources:\n"
    "  - {name: web, token_file: token}\n"
    "channels:\n"
    "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
    "responders:\n"
    "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
    "  - {id: boris, contacts: [{channel: hook, address: b}]}\n"
    "partners:\n"
    "  - {id: ngo, sees: [labels], contacts: [{channel: hook, address: n}]}\n"
    "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
    "teams: [{id: all, members: [alice, boris]}]\n"
    "schedules:\n"
    "  - id: week\n"
    "    time_zone: Europe/Kyiv\n"
    "    rotations: [{type: weekly, handoff: \"09:00\", start: 2026-11-30, members: [alice, "
    "boris]}]\n"
    "policies:\n"
    "  - id: p\n"
    "    steps:\n"
    "      - {targets: [\"schedule:week\"], ack_within: 10m}\n"
    "      - {targets: [\"partner:ngo\", \"schedule:week\"], ack_within: 20m}\n"
    "time_intervals:\n"
    "  - name: day\n"
    "    time_intervals: [{times: [{start_time: \"09:00\", end_time: \"18:00\"}], location: "
    "Europe/Kyiv}]\n"
    "route:\n"
    "  severity: normal\n"
    "  notify: [responder:boris]\n"
    "  routes:\n"
    "    - name: detention\n"
    "      match: ['text =~ \"задерж|detain\"']\n"
    "      severity: critical\n"
    "      labels: {kind: detention}\n"
    "      policy: p\n"
    "      group_by: [sender]\n"
    "      group_window: 30m\n"
    "    - name: quiet\n"
    "      active_time_intervals: [day]\n"
    "      notify: [team:all]\n"
    "tests:\n";

struct fixture {
    temp_dir dir{"hotline-test-rules"};
    std::shared_ptr<const hotline::config::config> cfg;
    explicit fixture(const std::string& tests) {
        dir.write("secrets/token", "t0ken\n");
        const auto r = load_config(dir.write("main.yaml", config_head + tests));
        INFO(dump(r));
        REQUIRE(r.cfg != nullptr);
        cfg = r.cfg;
    }
};

}  // namespace

TEST_CASE("test-rules: a passing test, the people paged at its time and the steps") {
    fixture f(
        "  - name: detention in alice's week\n"
        "    at: 2026-12-01T10:00:00+02:00\n"
        "    report: {sender: \"+380501234567\", text: Меня задержали}\n"
        "    expect:\n"
        "      path: [root, detention]\n"
        "      severity: critical\n"
        "      policy: p\n"
        "      labels: {kind: detention}\n"
        "      targets: [responder:alice, responder:boris]\n"  // the route's, then step 1's
        "      steps: [[responder:alice], [partner:ngo, responder:alice]]\n"
        "      muted: false\n"
        "      muted_by: []\n"
        "      group_by: [sender]\n"
        "      group_window: 30m\n");
    const auto& t = f.cfg->tests.at(0);
    const auto got = ctl::decide(*f.cfg, t, 0);
    INFO(got.dump(2));
    CHECK(got["language"] == "ru");  // guessed as a webhook would
    CHECK(got["at"] == "2026-12-01T08:00:00Z");
    const auto o = ctl::run_test(*f.cfg, t, 0);
    CHECK(o.passed());
    const auto out = ctl::test_rules(*f.cfg, false, 0);
    CHECK(out.exit_code == 0);
    CHECK(out.out.starts_with("PASS detention in alice's week  " + f.dir.file("main.yaml") + ":" +
                              std::to_string(t.at.line) + "\n"));
    CHECK(out.out.ends_with("1 test: 1 passed, 0 failed\n"));
}

TEST_CASE("test-rules: a schedule is read when its step fires, not when the report came") {
    // Step 1 at 08:55 (alice's last minutes); 10 minutes later it is boris's week.
    fixture f(
        "  - name: across the hand-off\n"
        "    at: 2026-12-07T08:55:00+02:00\n"
        "    report: {text: detained}\n"
        "    expect:\n"
        "      steps: [[responder:alice], [partner:ngo, responder:boris]]\n"
        "      targets: [responder:boris, responder:alice]\n");
    CHECK(ctl::run_test(*f.cfg, f.cfg->tests.at(0), 0).passed());
}

TEST_CASE("test-rules: a mismatch names each field with expected and got") {
    fixture f(
        "  - name: wrong\n"
        "    at: 2026-12-08T10:00:00+02:00\n"  // boris's week
        "    report: {text: detained, language: en}\n"
        "    expect:\n"
        "      path: [root, quiet]\n"
        "      severity: high\n"
        "      labels: {kind: search, need: lawyer}\n"
        "      targets: [responder:alice]\n"
        "      steps: [[responder:alice]]\n"
        "      muted: true\n"
        "      group_window: 10m\n"
        "  - name: right\n"
        "    at: 2026-12-08T10:00:00+02:00\n"
        "    report: {text: detained}\n"
        "    expect: {severity: critical}\n");
    const auto o = ctl::run_test(*f.cfg, f.cfg->tests.at(0), 0);
    REQUIRE_FALSE(o.passed());
    std::map<std::string, ctl::test_mismatch> by_field;
    for (const auto& m : o.mismatches) {
        by_field[m.field] = m;
    }
    CHECK(by_field.size() == 9);
    CHECK(by_field["path"].expected == "[root, quiet]");
    CHECK(by_field["path"].got == "[root, detention]");
    CHECK(by_field["severity"].expected == "\"high\"");
    CHECK(by_field["severity"].got == "\"critical\"");
    CHECK(by_field["labels.kind"].got == "\"detention\"");
    CHECK(by_field["labels.need"].got == "null");
    CHECK(by_field["targets"].expected == "[responder:alice]");
    CHECK(by_field["targets"].got == "[responder:boris]");
    CHECK(by_field["targets"].note == "missing responder:alice; unexpected responder:boris");
    CHECK(by_field["steps"].expected == "1 steps");
    CHECK(by_field["steps"].got == "2 steps");
    CHECK(by_field["steps[1]"].note == "missing responder:alice; unexpected responder:boris");
    CHECK(by_field["muted"].got == "false");
    CHECK(by_field["group_window"].expected == "\"10m\"");
    CHECK(by_field["group_window"].got == "\"30m\"");

    const auto out = ctl::test_rules(*f.cfg, false, 0);
    CHECK(out.exit_code == 1);
    CHECK(out.out.find("FAIL wrong  ") == 0);
    CHECK(out.out.find("    severity:\n      expected: \"high\"\n      got:      \"critical\"\n") !=
          std::string::npos);
    CHECK(out.out.find("PASS right  ") != std::string::npos);
    CHECK(out.out.ends_with("2 tests: 1 passed, 1 failed\n"));

    const auto j = nlohmann::json::parse(ctl::test_rules(*f.cfg, true, 0).out);
    CHECK(j["passed"] == 1);
    CHECK(j["failed"] == 1);
    CHECK(j["tests"][0]["name"] == "wrong");
    CHECK(j["tests"][0]["passed"] == false);
    CHECK(j["tests"][0]["mismatches"].size() == 9);
    CHECK(j["tests"][1]["passed"] == true);
}

TEST_CASE("test-rules: a muted report pages nobody and starts no escalation") {
    fixture f(
        "  - name: at night\n"
        "    at: 2026-12-05T03:00:00+02:00\n"
        "    report: {text: hello}\n"
        "    expect: {path: [root, quiet], muted: true, muted_by: [day], targets: [], steps: []}\n"
        "  - name: by day, a route's team target pages its members\n"
        "    at: 2026-12-05T12:00:00+02:00\n"
        "    report: {text: hello}\n"
        "    expect: {muted: false, targets: [responder:boris, responder:alice], policy: \"\", "
        "steps: []}\n");
    for (const auto& t : f.cfg->tests) {
        CAPTURE(t.name);
        const auto o = ctl::run_test(*f.cfg, t, 0);
        for (const auto& m : o.mismatches) {
            INFO(m.field << ": expected " << m.expected << " got " << m.got);
        }
        CHECK(o.passed());
    }
}

TEST_CASE("test-rules: no tests is not a failure") {
    fixture f("  []\n");
    const auto out = ctl::test_rules(*f.cfg, false, 0);
    CHECK(out.exit_code == 0);
    CHECK(out.out.find("no tests") == 0);
}

TEST_CASE("test-rules: the rapid-response example passes") {
    const auto r = load_config(std::string(HOTLINE_SOURCE_DIR) +
                               "/rules/examples/rapid-response/hotline.yaml");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    const auto out = ctl::test_rules(*r.cfg, false, 0);
    INFO(out.out);
    CHECK(out.exit_code == 0);
    CHECK(out.out.find("FAIL") == std::string::npos);
}
