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

TEST_CASE("planner: a permanently bad SMS address tells each admin, naming no address") {
    const auto cfg = sample_config();
    const auto jobs = dispatch::plan_report(cfg, sample_report(), sample_decision());
    const auto first = stored(jobs[0], 1);
    const auto notices = dispatch::plan_bad_address(cfg, first, "twilio 21211 invalid number");
    REQUIRE(notices.size() == 1);
    const auto& n = notices[0];
    CHECK(n.target == "admin:ops");
    CHECK(n.payload["kind"] == "bad_address");
    CHECK(n.payload["target"] == "responder:alice");
    CHECK(n.payload["channel"] == first.channel);
    CHECK(n.payload["last_error"] == "twilio 21211 invalid number");
    CHECK_FALSE(n.payload.contains("text"));
    CHECK_FALSE(n.payload.contains("address"));
    const auto mail = dispatch::render(cfg, "smtp", "en", stored(n, 2).payload);
    CHECK(mail.subject.find("BAD NUMBER: responder:alice") != std::string::npos);
    CHECK(mail.body.find(first.address) == std::string::npos);
    // Never for an admin's own job or a notice: no loops.
    CHECK(dispatch::plan_bad_address(cfg, stored(n, 2), "x").empty());
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

TEST_CASE("planner: an update goes to every target already notified, first contact, redacted") {
    auto cfg = sample_config();
    auto r = sample_report();
    r.case_id = 9;
    r.subject = "Re: [HOTLINE #9] Дело #9";
    r.text = "Их отпустили";
    auto d = sample_decision();
    d.severity = "high";
    d.targets.clear();  // the reply's own route notifies nobody: the case's targets do
    const std::vector<std::string> targets{"responder:bob",   "partner:ngo",   "admin:ops",
                                           "responder:alice", "responder:bob",  // repeated
                                           "responder:gone",  "partner:gone",  "admin:gone",
                                           "nonsense",        "robot:alice"};
    const auto jobs = dispatch::plan_update(cfg, r, d, targets);
    REQUIRE(jobs.size() == 4);
    CHECK(jobs[0].target == "responder:bob");
    CHECK(jobs[0].channel == "mail");
    CHECK(jobs[0].address == "bob@example.org");
    CHECK(jobs[0].language == "ru");
    CHECK(jobs[1].target == "partner:ngo");
    CHECK(jobs[2].target == "admin:ops");
    CHECK(jobs[2].address == "ops@example.org");
    CHECK(jobs[3].target == "responder:alice");
    CHECK(jobs[3].channel == "hook");  // the first contact, whatever reached alice before
    for (const auto& j : jobs) {
        CHECK(j.contact_index == 0);
        CHECK(j.payload["update"] == true);
        CHECK(j.payload["kind"] == "alert");
        CHECK(j.payload["severity"] == "high");
        CHECK(j.payload["target"] == j.target);
    }
    CHECK(jobs[0].payload["text"] == "Их отпустили");
    CHECK(jobs[2].payload["text"] == "Их отпустили");
    // The partner sees what its `sees` lists, as in plan_report.
    CHECK_FALSE(jobs[1].payload.contains("text"));
    CHECK_FALSE(jobs[1].payload.contains("sender"));
    CHECK_FALSE(jobs[1].payload.contains("subject"));
    CHECK(jobs[1].payload["report_labels"]["city"] == "moscow");

    // Nobody left: no jobs. A person without contacts is skipped.
    CHECK(dispatch::plan_update(cfg, r, d, {}).empty());
    cfg.responders[1].contacts.clear();
    CHECK(dispatch::plan_update(cfg, r, d, {"responder:bob"}).empty());
    // plan_report never marks an update.
    for (const auto& j : dispatch::plan_report(sample_config(), r, sample_decision())) {
        CHECK_FALSE(j.payload.contains("update"));
    }
}

TEST_CASE("templates: the case tag leads the subject; updates say so, in en and ru") {
    const auto cfg = sample_config();
    auto r = sample_report();
    const auto alert = dispatch::plan_report(cfg, r, sample_decision());
    auto en_payload = stored(alert[0], 1).payload;
    en_payload["case_tag"] = dispatch::case_tag("HOTLINE", 9);
    CHECK(en_payload["case_tag"] == "[HOTLINE #9]");
    CHECK(dispatch::case_tag("ngo-2", 123456789012) == "[ngo-2 #123456789012]");
    const auto en = dispatch::render(cfg, "smtp", "en", en_payload);
    CHECK(en.subject == "[HOTLINE #9] Case #9 (critical): Срочно");
    CHECK(en.body.rfind("New report for case #9, severity critical.\n", 0) == 0);
    auto ru_payload = stored(alert[1], 2).payload;
    ru_payload["case_tag"] = "[HOTLINE #9]";
    const auto ru = dispatch::render(cfg, "webhook", "ru", ru_payload);
    CHECK(ru.subject == "[HOTLINE #9] Дело #9 (критическая): Срочно");
    CHECK(ru.body.rfind("Новое сообщение по делу #9, срочность: критическая.\n", 0) == 0);

    r.subject = "Re: [HOTLINE #9] Case #9";
    const auto updates =
        dispatch::plan_update(cfg, r, sample_decision(), {"responder:alice", "responder:bob"});
    REQUIRE(updates.size() == 2);
    auto en_update = stored(updates[0], 3).payload;
    en_update["case_tag"] = "[HOTLINE #9]";
    for (const auto* type : {"smtp", "webhook"}) {
        const auto u = dispatch::render(cfg, type, "en", en_update);
        CHECK(u.subject ==
              "[HOTLINE #9] New message in case #9 (critical): Re: [HOTLINE #9] Case #9");
        CHECK(u.body.rfind("New message in case #9, severity critical.\n", 0) == 0);
        CHECK(u.body.find("New report") == std::string::npos);
        CHECK(u.body.find("Меня задержали у метро") != std::string::npos);
        CHECK(u.body.find("reply ACK 9") != std::string::npos);
    }
    auto ru_update = stored(updates[1], 4).payload;
    ru_update["case_tag"] = "[HOTLINE #9]";
    const auto ru_u = dispatch::render(cfg, "smtp", "ru", ru_update);
    CHECK(ru_u.subject ==
          "[HOTLINE #9] Новое сообщение по делу #9 (критическая): Re: [HOTLINE #9] Case #9");
    CHECK(ru_u.body.rfind("Новое сообщение по уже открытому делу #9", 0) == 0);
    CHECK(ru_u.body.find("Тема: Re: [HOTLINE #9] Case #9") != std::string::npos);

    // `update: false` is a real false: the section stays closed (the text "false" would
    // open it). A custom template sees `case_tag` and `update` too.
    en_update["update"] = false;
    CHECK(dispatch::render(cfg, "smtp", "en", en_update).subject ==
          "[HOTLINE #9] Case #9 (critical): Re: [HOTLINE #9] Case #9");
    auto custom = cfg;
    custom.templates["smtp"]["en"] = config::message_template{
        "{{case_tag}}{{#update}} update{{/update}}", "{{^update}}first{{/update}}", {}};
    en_update["update"] = true;
    CHECK(dispatch::render(custom, "smtp", "en", en_update).subject == "[HOTLINE #9] update");
    CHECK(dispatch::render(custom, "smtp", "en", en_update).body.empty());
    CHECK(dispatch::render(custom, "smtp", "en", en_payload).body == "first");

    // Dead letters carry the tag too (an admin's reply joins the case).
    nlohmann::json dead{{"kind", "dead_letter"},
                        {"failed_notification_id", 5},
                        {"case_id", 9},
                        {"case_tag", "[HL #9]"},
                        {"severity", "high"}};
    CHECK(dispatch::render(cfg, "smtp", "en", dead).subject ==
          "[HL #9] DEAD LETTER: notification #5 for case #9 failed");
    CHECK(dispatch::render(cfg, "smtp", "ru", dead).subject ==
          "[HL #9] НЕ ДОСТАВЛЕНО: уведомление #5 по делу #9");
}
