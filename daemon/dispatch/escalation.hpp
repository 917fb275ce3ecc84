// Planning for cases that escalate (docs/escalation.md), pure: who a policy step pages
// (team: and schedule: targets expanded to people at the moment it fires), the alerts of a
// step, the notices of a state change to those already paged, the alert to the admins when
// every step ran and nobody acknowledged, and the timers that carry a policy forward.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "domain/report.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::dispatch {

// Timer kinds (store::timers): the next step of a case's policy; an acknowledged case's
// re-open deadline.
inline constexpr const char* escalation_timer = "escalation_step";
inline constexpr const char* ack_timeout_timer = "ack_timeout";

// Who is on call for schedule `id` at `at_ms` (responder ids); the caller supplies
// rules::on_call over the config's schedules.
using on_call_fn =
    std::function<std::vector<std::string>(const std::string& id, std::int64_t at_ms)>;

// rules::on_call over `cfg`'s schedules (an unknown id: nobody); `cfg` must outlive it.
[[nodiscard]] on_call_fn on_call_of(const config::config& cfg);

// People for `targets`: responder: and partner: as they are, team: its members, schedule:
// whoever is on call at `at_ms`; in order, without duplicates. Unknown ids are skipped.
[[nodiscard]] std::vector<domain::target> expand_targets(const config::config& cfg,
                                                         const std::vector<domain::target>& targets,
                                                         std::int64_t at_ms,
                                                         const on_call_fn& on_call);

// Where a policy stands: the next step to fire (0-based) and the round (0 = the first run
// through the steps; up to policy.repeat). step == steps.size() means every step ran.
struct escalation_position {
    std::string policy;
    std::size_t step{0};
    unsigned round{0};
};

[[nodiscard]] nlohmann::json to_json(const escalation_position& p);
[[nodiscard]] std::optional<escalation_position> position_from(const std::string& payload);

// The position after `at` fired: the next step, the first step of the next round, or the
// end (step == steps.size()).
[[nodiscard]] escalation_position next_position(const config::escalation_policy& p,
                                                const escalation_position& at);

// The timer that fires `next` after `fired`'s ack_within (subject empty: the case's).
[[nodiscard]] store::new_timer step_timer(const config::escalation_policy& p,
                                          const escalation_position& fired,
                                          const escalation_position& next, std::int64_t now_ms);

// A decision rebuilt from a stored case for alert payloads at fire time.
[[nodiscard]] rules::decision decision_of(const store::case_record& c);

// The alerts of step `at` (its targets expanded at now_ms): each target's first contact,
// payload = alert_payload + escalation_step/escalation_steps (1-based), escalation_round,
// escalated (true past the first step of the first round).
[[nodiscard]] std::vector<domain::planned_notification> plan_step(
    const config::config& cfg, const config::escalation_policy& p, const escalation_position& at,
    const domain::report& r, const rules::decision& d, std::int64_t now_ms,
    const on_call_fn& on_call);

// The notices of a state change (event: acknowledged | resolved | reopened) to `targets`
// (those already paged, as store::case_targets gives them), except `actor` itself: payload
// kind "case_notice" with the case's severity, who (a person's name) and via what channel.
[[nodiscard]] std::vector<domain::planned_notification> plan_case_notice(
    const config::config& cfg, const store::case_record& c, const std::string& event,
    const std::string& actor, const std::string& via, const std::vector<std::string>& targets,
    std::int64_t now_ms);

// Every step ran and nobody acknowledged: one alert per admin (payload kind
// "escalation_exhausted"), no report contents.
[[nodiscard]] std::vector<domain::planned_notification> plan_exhausted(
    const config::config& cfg, const store::case_record& c, const config::escalation_policy& p);

// The display name of a target ("responder:alice" → Alice), or the text as is.
[[nodiscard]] std::string display_name(const config::config& cfg, const std::string& target);

}  // namespace hotline::dispatch
