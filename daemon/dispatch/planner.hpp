// Turns a routing decision into outbox jobs, and a failed job into what comes next:
// the target's next contact method, or a dead letter that alerts the admins.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "domain/report.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::dispatch {

// The alert as one recipient may see it. Responders see the whole report; a partner sees
// ids, severity, route and route labels, plus only the report fields listed in `sees`.
[[nodiscard]] nlohmann::json alert_payload(const domain::report& r, const rules::decision& d,
                                           const std::string& target, const domain::person& who,
                                           bool is_partner);

// One job per target: its first contact method. A `team:` target is its members, a
// `schedule:` target whoever is on call when the report was received (rules::on_call);
// each person once.
[[nodiscard]] std::vector<domain::planned_notification> plan_report(const config::config& cfg,
                                                                    const domain::report& r,
                                                                    const rules::decision& d);

// For a report that joins the existing case `r.case_id` (a reply to an alert, a subject
// tag): one job per target in `targets` (those already notified for the case, as
// store::case_targets gives them), each to its first contact, with payload["update"] true
// so its template says that a new report joined the case. Targets no longer configured
// are skipped.
[[nodiscard]] std::vector<domain::planned_notification> plan_update(
    const config::config& cfg, const domain::report& r, const rules::decision& d,
    const std::vector<std::string>& targets);

[[nodiscard]] domain::case_info case_for(const rules::decision& d);

// The person a stored target names ("responder:alice", "partner:ngo", "admin:ops"), or null.
[[nodiscard]] const domain::person* find_person(const config::config& cfg,
                                                const std::string& target, bool* is_partner,
                                                bool* is_admin);

// A job to `who`'s contact `contact_index` (0: the first).
[[nodiscard]] domain::planned_notification job_for(const domain::person& who,
                                                   const std::string& target, int contact_index,
                                                   nlohmann::json payload);

struct failure_plan {
    std::vector<domain::planned_notification> follow_ups;
    bool dead_letter{false};  // every contact of the target is exhausted
};

// After `failed` failed for good with `error`: its target's next contact if there is one;
// otherwise a dead letter, which notifies every admin's first contact (unless the failed
// job was itself for an admin: that is only logged, so dead letters never loop).
[[nodiscard]] failure_plan plan_failure(const config::config& cfg,
                                        const domain::notification& failed,
                                        const std::string& error);

// A permanent failure of an SMS address (the plugin answered HOTLINE_PERMANENT: an invalid
// or unsubscribed number): one notice (payload kind "bad_address") to each admin's first
// contact, naming the target, channel and reason, never the address. None when the failed
// job was for an admin or was itself a notice or a dead letter, so notices never loop.
[[nodiscard]] std::vector<domain::planned_notification> plan_bad_address(
    const config::config& cfg, const domain::notification& failed, const std::string& reason);

// "2026-11-25T09:00:00Z"
[[nodiscard]] std::string iso8601_utc(std::int64_t unix_ms);

}  // namespace hotline::dispatch
