#include "dispatch/planner.hpp"

#include <ctime>
#include <set>
#include <string_view>

#include "core/clock.hpp"
#include "dispatch/escalation.hpp"
#include "domain/severity.hpp"

namespace hotline::dispatch {
namespace {

std::string route_text(const rules::decision& d) {
    std::string out;
    for (const auto& path : d.paths) {
        std::string p;
        for (const auto& node : path) {
            p += (p.empty() ? "" : "/") + node;
        }
        out += (out.empty() ? "" : ", ") + p;
    }
    return out.empty() ? "root" : out;
}

}  // namespace

const domain::person* find_person(const config::config& cfg, const std::string& target,
                                  bool* is_partner, bool* is_admin) {
    const auto colon = target.find(':');
    if (colon == std::string::npos) {
        return nullptr;
    }
    const auto kind = target.substr(0, colon);
    const auto id = target.substr(colon + 1);
    *is_partner = kind == "partner";
    *is_admin = kind == "admin";
    if (kind == "responder") {
        return cfg.find_responder(id);
    }
    if (kind == "partner") {
        return cfg.find_partner(id);
    }
    if (kind == "admin") {
        for (const auto& a : cfg.admins) {
            if (a.id == id) {
                return &a;
            }
        }
    }
    return nullptr;
}

domain::planned_notification job_for(const domain::person& who, const std::string& target,
                                     int contact_index, nlohmann::json payload) {
    const auto& c = who.contacts.at(static_cast<std::size_t>(contact_index));
    return domain::planned_notification{c.channel,     c.address,    target,
                                        contact_index, who.language, std::move(payload)};
}

std::string iso8601_utc(std::int64_t unix_ms) {
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

nlohmann::json alert_payload(const domain::report& r, const rules::decision& d,
                             const std::string& target, const domain::person& who,
                             bool is_partner) {
    nlohmann::json p{
        {"kind", "alert"},          {"severity", d.severity},
        {"labels", d.labels},       {"route", route_text(d)},
        {"source", r.source},       {"received_at", iso8601_utc(r.received_at)},
        {"language", who.language}, {"target", target},
    };
    const auto sees = [&](const char* field) { return !is_partner || who.sees.count(field) > 0; };
    if (sees("subject") && !r.subject.empty()) {
        p["subject"] = r.subject;
    }
    if (sees("text")) {
        p["text"] = r.text;
    }
    if (sees("sender")) {
        p["sender"] = r.sender;
    }
    if (sees("labels")) {
        p["report_labels"] = r.labels;
    }
    return p;
}

domain::case_info case_for(const rules::decision& d) {
    domain::case_info c;
    c.severity = d.severity;
    c.route = route_text(d);
    c.labels = d.labels;
    return c;
}

std::vector<domain::planned_notification> plan_report(const config::config& cfg,
                                                      const domain::report& r,
                                                      const rules::decision& d) {
    std::vector<domain::planned_notification> jobs;
    const auto at = r.received_at > 0 ? r.received_at : core::system_clock{}.now_ms();
    for (const auto& t : expand_targets(cfg, d.targets, at, on_call_of(cfg))) {
        const bool partner = t.type == domain::target::kind::partner;
        const domain::person* who = partner ? cfg.find_partner(t.id) : cfg.find_responder(t.id);
        if (who == nullptr || who->contacts.empty()) {
            continue;  // cross-references are checked at load; nothing to reach
        }
        jobs.push_back(job_for(*who, t.str(), 0, alert_payload(r, d, t.str(), *who, partner)));
    }
    return jobs;
}

std::vector<domain::planned_notification> plan_update(const config::config& cfg,
                                                      const domain::report& r,
                                                      const rules::decision& d,
                                                      const std::vector<std::string>& targets) {
    std::vector<domain::planned_notification> jobs;
    std::set<std::string_view> planned;
    for (const auto& t : targets) {
        if (!planned.insert(t).second) {
            continue;  // one update per target, even if the list repeats one
        }
        bool is_partner = false;
        bool is_admin = false;
        const domain::person* who = find_person(cfg, t, &is_partner, &is_admin);
        if (who == nullptr || who->contacts.empty()) {
            continue;  // no longer configured (a reload removed them): nobody to tell
        }
        // An admin heard of the case through a dead letter; the update is a plain alert
        // with the whole report, like a responder's (admins see everything anyway).
        auto payload = alert_payload(r, d, t, *who, is_partner);
        payload["update"] = true;
        jobs.push_back(job_for(*who, t, 0, std::move(payload)));
    }
    return jobs;
}

failure_plan plan_failure(const config::config& cfg, const domain::notification& failed,
                          const std::string& error) {
    failure_plan plan;
    bool is_partner = false;
    bool is_admin = false;
    const domain::person* who = find_person(cfg, failed.target, &is_partner, &is_admin);
    const int next = failed.contact_index + 1;
    if (who != nullptr && next < static_cast<int>(who->contacts.size())) {
        auto payload = failed.payload;
        payload["language"] = who->language;
        plan.follow_ups.push_back(job_for(*who, failed.target, next, std::move(payload)));
        return plan;
    }
    plan.dead_letter = true;
    if (is_admin || failed.payload.value("kind", std::string{}) == "dead_letter") {
        return plan;  // an admin's own alert failed: logged by the caller, never looped
    }
    for (const auto& admin : cfg.admins) {
        if (admin.contacts.empty()) {
            continue;
        }
        nlohmann::json payload{
            {"kind", "dead_letter"},
            {"failed_notification_id", failed.id},
            {"report_id", failed.report_id},
            {"case_id", failed.case_id},
            {"target", failed.target},
            {"channel", failed.channel},
            {"last_error", error},
            {"severity", failed.payload.value("severity", std::string(domain::default_severity))},
            {"language", admin.language},
        };
        plan.follow_ups.push_back(job_for(admin, "admin:" + admin.id, 0, std::move(payload)));
    }
    return plan;
}

std::vector<domain::planned_notification> plan_bad_address(const config::config& cfg,
                                                           const domain::notification& failed,
                                                           const std::string& reason) {
    std::vector<domain::planned_notification> out;
    bool is_partner = false;
    bool is_admin = false;
    (void)find_person(cfg, failed.target, &is_partner, &is_admin);
    const auto kind = failed.payload.value("kind", std::string{});
    if (is_admin || kind == "dead_letter" || kind == "bad_address") {
        return out;
    }
    for (const auto& admin : cfg.admins) {
        if (admin.contacts.empty()) {
            continue;
        }
        nlohmann::json payload{
            {"kind", "bad_address"},
            {"failed_notification_id", failed.id},
            {"report_id", failed.report_id},
            {"case_id", failed.case_id},
            {"target", failed.target},
            {"channel", failed.channel},
            {"last_error", reason},
            {"severity", failed.payload.value("severity", std::string(domain::default_severity))},
            {"language", admin.language},
        };
        out.push_back(job_for(admin, "admin:" + admin.id, 0, std::move(payload)));
    }
    return out;
}

}  // namespace hotline::dispatch
