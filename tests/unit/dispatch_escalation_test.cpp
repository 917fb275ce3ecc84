// Escalation planning (dispatch/escalation): targets expanded at fire time, step positions
// through rounds to the end, the step timer's due time, step alerts (redacted for partners),
// notices that skip the actor, the admins' alert when nobody acknowledged.
#include <doctest/doctest.h>

#include "dispatch/escalation.hpp"
#include "dispatch/planner.hpp"

using namespace hotline;
using domain::target;

namespace {

domain::person person(const std::string& id, const std::string& language,
                      const std::string& address, const std::string& name = "") {
    domain::person p;
    p.id = id;
    p.name = name.empty() ? id : name;
    p.language = language;
    p.contacts.push_back(domain::contact{"hook", address, {}});
    return p;
}

target t(target::kind k, const std::string& id) {
    target x;
    x.type = k;
    x.id = id;
    return x;
}

config::config sample() {
    config::config cfg;
    cfg.responders = {person("alice", "en", "http://127.0.0.1:1/a", "Alice"),
                      person("boris", "ru", "http://127.0.0.1:1/b", "Борис"),
                      person("carol", "en", "http://127.0.0.1:1/c")};
    auto ngo = person("ngo", "ru", "http://127.0.0.1:1/ngo");
    ngo.sees = {"labels"};
    cfg.partners = {ngo};
    cfg.admins = {person("ops", "en", "http://127.0.0.1:1/ops")};
    config::team local;
    local.id = "local";
    local.members = {"boris", "alice"};
    cfg.teams = {local};
    config::escalation_policy p;
    p.id = "rapid";
    config::policy_step s1;
    s1.targets = {t(target::kind::schedule, "week")};
    s1.ack_within = std::chrono::minutes(10);
    config::policy_step s2;
    s2.targets = {t(target::kind::team, "local"), t(target::kind::partner, "ngo")};
    s2.ack_within = std::chrono::minutes(20);
    p.steps = {s1, s2};
    p.repeat = 1;
    cfg.policies = {p};
    return cfg;
}

// "week": carol before 2026-12-01T00:00Z, alice from then.
std::vector<std::string> on_call(const std::string& id, std::int64_t at) {
    if (id != "week") {
        return {};
    }
    return {at < 1'795'996'800'000 ? "carol" : "alice"};
}

domain::report report() {
    domain::report r;
    r.source = "hook";
    r.text = "Задержали у метро";
    r.sender = "+79001234567";
    r.received_at = 1'795'996'800'000;
    return r;
}

}  // namespace

TEST_CASE("expand_targets: teams to members, schedules to whoever is on call then, no repeats") {
    const auto cfg = sample();
    const auto got = dispatch::expand_targets(
        cfg,
        {t(target::kind::team, "local"), t(target::kind::responder, "alice"),
         t(target::kind::schedule, "week"), t(target::kind::partner, "ngo"),
         t(target::kind::team, "nobody")},
        1'795'996'799'999, on_call);
    std::vector<std::string> names;
    for (const auto& x : got) {
        names.push_back(x.str());
    }
    CHECK(names == std::vector<std::string>{"responder:boris", "responder:alice", "responder:carol",
                                            "partner:ngo"});
    const auto later = dispatch::expand_targets(cfg, {t(target::kind::schedule, "week")},
                                                1'795'996'800'000, on_call);
    REQUIRE(later.size() == 1);
    CHECK(later[0].id == "alice");
    CHECK(dispatch::expand_targets(cfg, {t(target::kind::schedule, "week")}, 0, nullptr).empty());
}

TEST_CASE("positions: step by step, round by round, then the end; payload round trip") {
    const auto cfg = sample();
    const auto& p = cfg.policies[0];
    dispatch::escalation_position at{"rapid", 0, 0};
    at = dispatch::next_position(p, at);
    CHECK((at.step == 1 && at.round == 0));
    at = dispatch::next_position(p, at);
    CHECK((at.step == 0 && at.round == 1));
    at = dispatch::next_position(p, at);
    CHECK((at.step == 1 && at.round == 1));
    at = dispatch::next_position(p, at);
    CHECK(at.step == p.steps.size());  // the end: nobody acknowledged
    const auto timer = dispatch::step_timer(p, {"rapid", 1, 0}, {"rapid", 0, 1}, 1000);
    CHECK(timer.due_at == 1000 + 20 * 60 * 1000);  // step 2's ack_within
    CHECK(timer.kind == "escalation_step");
    CHECK(timer.subject.empty());
    const auto back = dispatch::position_from(timer.payload);
    REQUIRE(back.has_value());
    CHECK((back->policy == "rapid" && back->step == 0 && back->round == 1));
    for (const auto* bad : {"", "[]", "{}", R"({"policy":"p","step":-1,"round":0})",
                            R"({"policy":1,"step":0,"round":0})", "{\"policy\":\"p\""}) {
        CHECK_FALSE(dispatch::position_from(bad).has_value());
    }
}

TEST_CASE("plan_step: alerts for the step's people, escalated past step 1, partners redacted") {
    const auto cfg = sample();
    const auto& p = cfg.policies[0];
    rules::decision d;
    d.severity = "critical";
    d.paths = {{"root", "detention"}};
    const auto first =
        dispatch::plan_step(cfg, p, {"rapid", 0, 0}, report(), d, 1'795'996'800'000, on_call);
    REQUIRE(first.size() == 1);
    CHECK(first[0].target == "responder:alice");
    CHECK(first[0].payload["escalated"] == false);
    CHECK(first[0].payload["escalation_step"] == 1);
    CHECK(first[0].payload["text"] == "Задержали у метро");
    const auto second =
        dispatch::plan_step(cfg, p, {"rapid", 1, 0}, report(), d, 1'795'996'800'000, on_call);
    REQUIRE(second.size() == 3);
    CHECK(second[0].target == "responder:boris");
    CHECK(second[0].language == "ru");
    CHECK(second[2].target == "partner:ngo");
    CHECK(second[2].payload["escalated"] == true);
    CHECK_FALSE(second[2].payload.contains("text"));
    CHECK_FALSE(second[2].payload.contains("sender"));
    CHECK(dispatch::plan_step(cfg, p, {"rapid", 2, 0}, report(), d, 0, on_call).empty());
}

TEST_CASE("notices skip the person who acted; the end alerts every admin") {
    const auto cfg = sample();
    store::case_record c;
    c.id = 42;
    c.severity = "high";
    const auto notices = dispatch::plan_case_notice(
        cfg, c, "acknowledged", "responder:boris", "sms",
        {"responder:alice", "responder:boris", "partner:ngo", "responder:alice", "responder:gone"},
        1'795'996'800'000);
    REQUIRE(notices.size() == 2);
    CHECK(notices[0].target == "responder:alice");
    CHECK(notices[0].payload["kind"] == "case_notice");
    CHECK(notices[0].payload["by"] == "Борис");
    CHECK(notices[0].payload["via"] == "sms");
    CHECK(notices[1].payload["event_ru"] == "принято");
    const auto end = dispatch::plan_exhausted(cfg, c, cfg.policies[0]);
    REQUIRE(end.size() == 1);
    CHECK(end[0].target == "admin:ops");
    CHECK(end[0].payload["kind"] == "escalation_exhausted");
    CHECK(end[0].payload["rounds"] == 2);
}

TEST_CASE("plan_report: a route's team: and schedule: targets page the people they name") {
    auto cfg = sample();
    rules::schedule week;
    week.id = "week";
    week.time_zone = "UTC";
    rules::rotation r;
    r.type = "daily";
    r.length_ms = 86'400'000;
    r.handoff = "00:00";
    r.start = "2026-11-30";  // carol on 2026-11-30, alice the day after, ...
    r.members = {"carol", "alice"};
    week.rotations = {r};
    cfg.schedules = {week};
    rules::decision d;
    d.paths = {{"root"}};
    d.severity = "high";
    d.targets = {t(target::kind::schedule, "week"), t(target::kind::team, "local"),
                 t(target::kind::responder, "alice")};
    auto rep = report();
    rep.received_at = 1'795'996'800'000 + 3'600'000;  // 2026-11-30T01:00Z: carol's day
    std::vector<std::string> got;
    for (const auto& job : dispatch::plan_report(cfg, rep, d)) {
        got.push_back(job.target);
    }
    // In order, each person once (alice is in the team and named again).
    CHECK(got == std::vector<std::string>{"responder:carol", "responder:boris", "responder:alice"});
    rep.received_at += 86'400'000;  // the next day: alice's
    got.clear();
    for (const auto& job : dispatch::plan_report(cfg, rep, d)) {
        got.push_back(job.target);
    }
    CHECK(got == std::vector<std::string>{"responder:alice", "responder:boris"});
}
