// `hotlinectl test-rules`: runs the `tests:` of every rule file of a configuration
// (config::rule_test, docs/escalation.md "Testing rules"). Each test's report goes through
// the code the daemon routes with: rules::evaluate for the decision, dispatch::plan_report
// and the escalation start (ingest::case_service::start_escalation) for the people paged
// at the test's time, dispatch::plan_step for each later step at the time it would fire.
// Reads the configuration only: no store, no network, no silences (those live in the
// database). Prints target ids, never contact addresses or report text.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"

namespace hotline::ctl {

// One field whose value is not the expected one, both as shown to a person.
struct test_mismatch {
    std::string field;  // "severity", "targets", "steps[2]", "labels.kind"
    std::string expected;
    std::string got;
    std::string note;  // "missing responder:olena; unexpected responder:taras", or ""
};

struct test_outcome {
    const config::rule_test* test{nullptr};
    std::vector<test_mismatch> mismatches;  // empty: passed
    [[nodiscard]] bool passed() const { return mismatches.empty(); }
};

// What the daemon would decide for the test's report at its time (at_ms, else now_ms):
// the fields a test may expect, as JSON (paths, severity, policy, labels, targets, steps,
// muted, muted_by, group_by, group_window).
[[nodiscard]] nlohmann::json decide(const config::config& cfg, const config::rule_test& t,
                                    std::int64_t now_ms);

// Runs one test.
[[nodiscard]] test_outcome run_test(const config::config& cfg, const config::rule_test& t,
                                    std::int64_t now_ms);

struct test_rules_output {
    int exit_code{0};  // 0 every test passed (or there are none), 1 one failed
    std::string out;   // stdout: one line per test, a diff under each failure, a summary
};

// Runs every test; `json`: one JSON object instead of the lines.
[[nodiscard]] test_rules_output test_rules(const config::config& cfg, bool json,
                                           std::int64_t now_ms);

}  // namespace hotline::ctl
