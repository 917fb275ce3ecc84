// Planner (targets -> jobs, fall-through, dead letters), backoff and templates.
#include <doctest/doctest.h>

#include <set>

#include "dispatch/backoff.hpp"
#include "dispatch/planner.hpp"
#include "dispatch/templates.hpp"

using namespace hotline;
using namespace std::chrono_literals;

namespace {

domain::person person(const std::string& id, const std::string& language,
                      std::vector<std::pair<std::string, std::string>> contacts) {
    domain::person p;
    p.id = id;
    p.name = id;
    p.language = language;
    for (auto& [channel, address] : contacts) {
        p.contacts.push_back(domain::contact{channel, address, {}});
    }
    return p;
}

config::config sample_config() {
    config::config cfg;
    cfg.responders.push_back(
        person("alice", "en", {{"hook", "http://127.0.0.1:1/a"}, {"mail", "alice@example.org"}}));
    cfg.responders.push_back(person("bob", "ru", {{"mail", "bob@example.org"}}));
    auto ngo = person("ngo", "ru", {{"mail", "desk@ngo.example"}});
    ngo.sees = {"labels"};
    cfg.partners.push_back(ngo);
    cfg.admins.push_back(
        person("ops", "en", {{"mail", "ops@example.org"}, {"hook", "http://127.0.0.1:1/ops"}}));
    return cfg;
}

domain::report sample_report() {
    domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.external_id = "x1";
    r.sender = "+79001234567";
    r.subject = "Срочно";
    r.text = "Меня задержали у метро";
    r.labels = {{"city", "moscow"}};
    r.received_at = 1'764'061'200'000;  // 2025-11-25T09:00:00Z
    return r;
}

rules::decision sample_decision() {
    rules::decision d;
    d.paths = {{"root", "detention"}};
    d.severity = "critical";
    d.labels = {{"kind", "detention"}};
    d.targets = {domain::target{domain::target::kind::responder, "alice", {}},
                 domain::target{domain::target::kind::responder, "bob", {}},
                 domain::target{domain::target::kind::partner, "ngo", {}}};
    return d;
}

domain::notification stored(const domain::planned_notification& p, std::int64_t id) {
    domain::notification n;
    n.id = id;
    n.report_id = 7;
    n.case_id = 9;
    n.channel = p.channel;
    n.address = p.address;
    n.target = p.target;
    n.contact_index = p.contact_index;
    n.language = p.language;
    n.payload = p.payload;
    n.payload["report_id"] = 7;
    n.payload["case_id"] = 9;
    n.payload["notification_id"] = id;
    return n;
}

}  // namespace

TEST_CASE("backoff: full jitter stays within the exponential ceiling and the cap") {
    config::retry_policy policy;
    policy.initial_backoff = 1s;
    policy.max_backoff = 30s;
    CHECK(dispatch::backoff_delay(policy, 1, [] { return 0.999999; }) <= 1s);
    CHECK(dispatch::backoff_delay(policy, 1, [] { return 0.5; }) == 500ms);
    CHECK(dispatch::backoff_delay(policy, 3, [] { return 0.5; }) == 2s);    // ceiling 4 s
    CHECK(dispatch::backoff_delay(policy, 10, [] { return 0.5; }) == 15s);  // capped at 30 s
    CHECK(dispatch::backoff_delay(policy, 1000, [] { return 1.0; }) == 30s);
    CHECK(dispatch::backoff_delay(policy, 2, [] { return 0.0; }) == 0ms);
    // The real source spreads values: 200 draws are not all equal and all in range.
    std::set<std::int64_t> seen;
    for (int i = 0; i < 200; ++i) {
        const auto d = dispatch::backoff_delay(policy, 4, dispatch::random_unit);
        CHECK(d >= 0ms);
        CHECK(d <= 8s);
        seen.insert(d.count());
    }
    CHECK(seen.size() > 100);
}

TEST_CASE("backoff: attempts and age limit retries") {
    config::retry_policy policy;
    policy.max_attempts = 3;
    policy.max_age = 1h;
    CHECK(dispatch::may_retry(policy, 1, 0, 1000));
    CHECK(dispatch::may_retry(policy, 2, 0, 1000));
    CHECK_FALSE(dispatch::may_retry(policy, 3, 0, 1000));
    CHECK(dispatch::may_retry(policy, 1, 0, 3'600'000));
    CHECK_FALSE(dispatch::may_retry(policy, 1, 0, 3'600'001));
}

TEST_CASE("planner: one job per target on its first contact, redacted for partners") {
    const auto cfg = sample_config();
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    REQUIRE(jobs.size() == 3);
    CHECK(jobs[0].target == "responder:alice");
    CHECK(jobs[0].channel == "hook");
    CHECK(jobs[0].contact_index == 0);
    CHECK(jobs[0].language == "en");
    CHECK(jobs[0].payload["text"] == "Меня задержали у метро");
    CHECK(jobs[0].payload["sender"] == "+79001234567");
    CHECK(jobs[0].payload["severity"] == "critical");
    CHECK(jobs[0].payload["route"] == "root/detention");
    CHECK(jobs[0].payload["received_at"] == "2025-11-25T09:00:00Z");
    CHECK(jobs[1].target == "responder:bob");
    CHECK(jobs[1].language == "ru");
    const auto& partner = jobs[2].payload;
    CHECK(jobs[2].target == "partner:ngo");
    CHECK_FALSE(partner.contains("text"));
    CHECK_FALSE(partner.contains("sender"));
    CHECK_FALSE(partner.contains("subject"));
    CHECK(partner["report_labels"]["city"] == "moscow");
    CHECK(partner["labels"]["kind"] == "detention");
}

TEST_CASE("planner: a failed job falls through to the next contact, then to the admins") {
    const auto cfg = sample_config();
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    const auto first = stored(jobs[0], 1);

    const auto next = dispatch::plan_failure(cfg, first, "status 410");
    CHECK_FALSE(next.dead_letter);
    REQUIRE(next.follow_ups.size() == 1);
    CHECK(next.follow_ups[0].channel == "mail");
    CHECK(next.follow_ups[0].address == "alice@example.org");
    CHECK(next.follow_ups[0].contact_index == 1);
    CHECK(next.follow_ups[0].payload["text"] == "Меня задержали у метро");

    const auto second = stored(next.follow_ups[0], 2);
    const auto dead = dispatch::plan_failure(cfg, second, "550 no such user");
    CHECK(dead.dead_letter);
    REQUIRE(dead.follow_ups.size() == 1);
    const auto& alert = dead.follow_ups[0];
    CHECK(alert.target == "admin:ops");
    CHECK(alert.address == "ops@example.org");
    CHECK(alert.payload["kind"] == "dead_letter");
    CHECK(alert.payload["failed_notification_id"] == 2);
    CHECK(alert.payload["target"] == "responder:alice");
    CHECK(alert.payload["last_error"] == "550 no such user");
    // Admins see that a case exists, not what the report says.
    CHECK_FALSE(alert.payload.contains("text"));

    // The admin's own alert falls through to the admin's next contact, then stops.
    const auto admin_first = stored(alert, 3);
    const auto admin_next = dispatch::plan_failure(cfg, admin_first, "timeout");
    REQUIRE(admin_next.follow_ups.size() == 1);
    CHECK(admin_next.follow_ups[0].channel == "hook");
    const auto admin_last = dispatch::plan_failure(cfg, stored(admin_next.follow_ups[0], 4), "x");
    CHECK(admin_last.dead_letter);
    CHECK(admin_last.follow_ups.empty());  // never loops
}

TEST_CASE("planner: a target removed by a reload becomes a dead letter") {
    auto cfg = sample_config();
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    cfg.responders.clear();
    const auto plan = dispatch::plan_failure(cfg, stored(jobs[0], 1), "gone");
    CHECK(plan.dead_letter);
    CHECK(plan.follow_ups.size() == 1);
}

TEST_CASE("templates: English and Russian defaults, one-line subjects") {
    const auto cfg = sample_config();
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    const auto en = dispatch::render(cfg, "smtp", "en", stored(jobs[0], 1).payload);
    CHECK(en.subject == "[hotline] Case #9 (critical): Срочно");
    CHECK(en.body.find("Меня задержали у метро") != std::string::npos);
    CHECK(en.body.find("To acknowledge, reply ACK 9") != std::string::npos);
    const auto ru = dispatch::render(cfg, "smtp", "ru", stored(jobs[1], 2).payload);
    CHECK(ru.subject == "[hotline] Дело #9 (критическая): Срочно");
    CHECK(ru.body.find("Маршрут: root/detention") != std::string::npos);
    CHECK(ru.body.find("ответьте ACK 9") != std::string::npos);

    auto payload = stored(jobs[0], 1).payload;
    payload["subject"] = "line one\r\nBcc: evil@example.org";
    const auto injected = dispatch::render(cfg, "smtp", "en", payload);
    CHECK(injected.subject.find('\n') == std::string::npos);
    CHECK(injected.subject.find('\r') == std::string::npos);
    // No HTML escaping in plain-text messages.
    payload["text"] = "<b>&\"'</b>";
    CHECK(dispatch::render(cfg, "smtp", "en", payload).body.find("<b>&\"'</b>") !=
          std::string::npos);
}

TEST_CASE("templates: config overrides by channel type and language; bad ones are errors") {
    auto cfg = sample_config();
    cfg.templates["smtp"]["ru"] = config::message_template{"Дело {{case_id}}", "{{text}}", {}};
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    const auto ru = dispatch::render(cfg, "smtp", "ru", stored(jobs[1], 2).payload);
    CHECK(ru.subject == "Дело 9");
    CHECK(ru.body == "Меня задержали у метро");
    // English has no override: the default applies.
    CHECK(dispatch::render(cfg, "smtp", "en", stored(jobs[0], 1).payload)
              .subject.rfind("[hotline] Case #9", 0) == 0);
    CHECK(dispatch::validate_templates(cfg).empty());

    cfg.templates["smtp"]["en"] =
        config::message_template{"{{#open}} never closed", "ok", core::mark{"conf/t.yaml", 3, 7}};
    const auto errors = dispatch::validate_templates(cfg);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].context == "conf/t.yaml:3:7");
    CHECK(errors[0].message.find("templates.smtp.en") != std::string::npos);
}

TEST_CASE("templates: dead letters use their own text") {
    const auto cfg = sample_config();
    nlohmann::json payload{{"kind", "dead_letter"},
                           {"failed_notification_id", 5},
                           {"case_id", 9},
                           {"report_id", 7},
                           {"target", "responder:alice"},
                           {"channel", "hook"},
                           {"last_error", "status 500"},
                           {"severity", "high"}};
    const auto en = dispatch::render(cfg, "smtp", "en", payload);
    CHECK(en.subject == "[hotline] DEAD LETTER: notification #5 for case #9 failed");
    CHECK(en.body.find("status 500") != std::string::npos);
    const auto ru = dispatch::render(cfg, "smtp", "ru", payload);
    CHECK(ru.subject == "[hotline] НЕ ДОСТАВЛЕНО: уведомление #5 по делу #9");
}
