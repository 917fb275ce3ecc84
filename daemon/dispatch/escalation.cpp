#include "dispatch/escalation.hpp"

#include <algorithm>
#include <set>

#include "dispatch/planner.hpp"
#include "rules/oncall.hpp"

namespace hotline::dispatch {

on_call_fn on_call_of(const config::config& cfg) {
    return [&cfg](const std::string& id, std::int64_t at_ms) -> std::vector<std::string> {
        if (const auto* s = cfg.find_schedule(id)) {
            return rules::on_call(*s, at_ms);
        }
        return {};
    };
}

std::vector<domain::target> expand_targets(const config::config& cfg,
                                           const std::vector<domain::target>& targets,
                                           std::int64_t at_ms, const on_call_fn& on_call) {
    std::vector<domain::target> out;
    const auto add = [&](domain::target::kind k, const std::string& id) {
        domain::target t;
        t.type = k;
        t.id = id;
        if (std::find(out.begin(), out.end(), t) == out.end()) {
            out.push_back(std::move(t));
        }
    };
    for (const auto& t : targets) {
        switch (t.type) {
            case domain::target::kind::responder:
            case domain::target::kind::partner: add(t.type, t.id); break;
            case domain::target::kind::team:
                for (const auto& team : cfg.teams) {
                    if (team.id == t.id) {
                        for (const auto& m : team.members) {
                            add(domain::target::kind::responder, m);
                        }
                    }
                }
                break;
            case domain::target::kind::schedule:
                if (on_call) {
                    for (const auto& who : on_call(t.id, at_ms)) {
                        add(domain::target::kind::responder, who);
                    }
                }
                break;
        }
    }
    return out;
}

nlohmann::json to_json(const escalation_position& p) {
    return {{"policy", p.policy}, {"step", p.step}, {"round", p.round}};
}

std::optional<escalation_position> position_from(const std::string& payload) {
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object()) {
        return std::nullopt;
    }
    const auto policy = j.find("policy");
    const auto step = j.find("step");
    const auto round = j.find("round");
    if (policy == j.end() || !policy->is_string() || step == j.end() ||
        !step->is_number_unsigned() || round == j.end() || !round->is_number_unsigned()) {
        return std::nullopt;
    }
    return escalation_position{policy->get<std::string>(), step->get<std::size_t>(),
                               round->get<unsigned>()};
}

escalation_position next_position(const config::escalation_policy& p,
                                  const escalation_position& at) {
    escalation_position next = at;
    next.step = at.step + 1;
    if (next.step >= p.steps.size()) {
        if (at.round < p.repeat) {
            next.step = 0;
            next.round = at.round + 1;
        } else {
            next.step = p.steps.size();  // the end: nobody acknowledged
        }
    }
    return next;
}

store::new_timer step_timer(const config::escalation_policy& p, const escalation_position& fired,
                            const escalation_position& next, std::int64_t now_ms) {
    const auto wait =
        fired.step < p.steps.size() ? p.steps[fired.step].ack_within : std::chrono::milliseconds(0);
    return store::new_timer{now_ms + wait.count(), escalation_timer, "", to_json(next).dump()};
}

rules::decision decision_of(const store::case_record& c) {
    rules::decision d;
    d.severity = c.severity;
    // The stored route text is the matched paths joined; as one path it prints the same.
    std::vector<std::string> path;
    std::string part;
    for (const char ch : c.route) {
        if (ch == '/') {
            path.push_back(part);
            part.clear();
        } else {
            part += ch;
        }
    }
    path.push_back(part);
    d.paths.push_back(std::move(path));
    if (c.labels.is_object()) {
        for (const auto& [k, v] : c.labels.items()) {
            d.labels[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
    }
    return d;
}

std::vector<domain::planned_notification> plan_step(const config::config& cfg,
                                                    const config::escalation_policy& p,
                                                    const escalation_position& at,
                                                    const domain::report& r,
                                                    const rules::decision& d, std::int64_t now_ms,
                                                    const on_call_fn& on_call) {
    std::vector<domain::planned_notification> jobs;
    if (at.step >= p.steps.size()) {
        return jobs;
    }
    for (const auto& t : expand_targets(cfg, p.steps[at.step].targets, now_ms, on_call)) {
        const bool partner = t.type == domain::target::kind::partner;
        const domain::person* who = partner ? cfg.find_partner(t.id) : cfg.find_responder(t.id);
        if (who == nullptr || who->contacts.empty()) {
            continue;
        }
        auto payload = alert_payload(r, d, t.str(), *who, partner);
        payload["escalation_step"] = at.step + 1;
        payload["escalation_steps"] = p.steps.size();
        payload["escalation_round"] = at.round;
        payload["escalated"] = at.step > 0 || at.round > 0;
        payload["policy"] = p.id;
        jobs.push_back(job_for(*who, t.str(), 0, std::move(payload)));
    }
    return jobs;
}

std::string display_name(const config::config& cfg, const std::string& target) {
    bool partner = false;
    bool admin = false;
    const domain::person* who = find_person(cfg, target, &partner, &admin);
    if (who != nullptr && !who->name.empty()) {
        return who->name;
    }
    if (target == "ack_timeout") {
        return "ack timeout";
    }
    return target;
}

std::vector<domain::planned_notification> plan_case_notice(
    const config::config& cfg, const store::case_record& c, const std::string& event,
    const std::string& actor, const std::string& via, const std::vector<std::string>& targets,
    std::int64_t now_ms) {
    static const std::map<std::string, std::string> event_ru{
        {"acknowledged", "принято"}, {"resolved", "закрыто"}, {"reopened", "открыто снова"}};
    std::vector<domain::planned_notification> jobs;
    std::set<std::string> seen;
    for (const auto& t : targets) {
        if (t == actor || !seen.insert(t).second) {
            continue;
        }
        bool partner = false;
        bool admin = false;
        const domain::person* who = find_person(cfg, t, &partner, &admin);
        if (who == nullptr || who->contacts.empty()) {
            continue;
        }
        nlohmann::json payload{{"kind", "case_notice"},
                               {"event", event},
                               {"event_ru", event_ru.count(event) ? event_ru.at(event) : event},
                               {"severity", c.severity},
                               {"by", display_name(cfg, actor)},
                               {"via", via},
                               {"at", iso8601_utc(now_ms)},
                               {"reopened", event == "reopened"},
                               {"language", who->language},
                               {"target", t}};
        jobs.push_back(job_for(*who, t, 0, std::move(payload)));
    }
    return jobs;
}

std::vector<domain::planned_notification> plan_exhausted(const config::config& cfg,
                                                         const store::case_record& c,
                                                         const config::escalation_policy& p) {
    std::vector<domain::planned_notification> jobs;
    for (const auto& a : cfg.admins) {
        if (a.contacts.empty()) {
            continue;
        }
        nlohmann::json payload{{"kind", "escalation_exhausted"},
                               {"severity", c.severity},
                               {"policy", p.id},
                               {"rounds", p.repeat + 1},
                               {"opened_at", iso8601_utc(c.created_at)},
                               {"language", a.language},
                               {"target", "admin:" + a.id}};
        jobs.push_back(job_for(a, "admin:" + a.id, 0, std::move(payload)));
    }
    return jobs;
}

}  // namespace hotline::dispatch
