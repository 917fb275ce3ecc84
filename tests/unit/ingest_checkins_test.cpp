// ingest::checkin_service over a real (sealed) SQLite store, the real pipeline with the
// escalation's first step, the SMS intake and a manual clock: CHECKIN START by SMS, OK with
// and without the PIN, the duress PIN (the same answer, a critical case through its own
// policy), a missed check-in (a case with the last check-in time, once), stale timers,
// CHECKIN STOP refused by SMS where a PIN is set, stop through the service, strangers.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "ingest/cases.hpp"
#include "ingest/checkins.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/sms_intake.hpp"
#include "ingest/timer_loop.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace std::chrono_literals;

namespace {

using store::testing::temp_dir;
using store::testing::wait_for;

constexpr const char* dana_phone = "+79001230000";
constexpr std::int64_t t0 = 1'764'061'200'000;  // 2025-11-25T09:00:00Z

config::checkin_enrollment dana(const std::string& pin = "1234") {
    config::checkin_enrollment e;
    e.id = "dana";
    e.name = "Dana";
    e.phone = dana_phone;
    e.interval = 1h;
    e.grace = 10min;
    e.policy = "missed";
    e.duress_policy = "duress";
    e.pin = pin;
    e.duress_pin = "9999";
    return e;
}

std::shared_ptr<const config::config> make_config(const std::string& pin = "1234") {
    auto cfg = std::make_shared<config::config>();
    config::channel_config hook;
    hook.name = "hook";
    hook.type = "webhook";
    cfg->channels.push_back(hook);
    for (const char* id : {"alice", "bob", "carol"}) {
        domain::person p;
        p.id = id;
        p.contacts.push_back(domain::contact{"hook", std::string("http://127.0.0.1:1/") + id, {}});
        cfg->responders.push_back(p);
    }
    for (const auto& [id, who] : {std::pair{"missed", "alice"}, std::pair{"duress", "bob"}}) {
        config::escalation_policy pol;
        pol.id = id;
        config::policy_step step;
        step.targets.push_back(domain::target{domain::target::kind::responder, who, {}});
        pol.steps.push_back(step);
        cfg->policies.push_back(pol);
    }
    cfg->route.name = "root";
    cfg->route.severity = "normal";
    cfg->route.notify.push_back(domain::target{domain::target::kind::responder, "carol", {}});
    config::source_config src;
    src.name = "sms";
    src.kind = "sms";
    src.sms.gateway = "vonage";
    cfg->sources.push_back(src);
    cfg->checkins.push_back(dana(pin));
    return cfg;
}

ingest::sms_message sms(const std::string& id, const std::string& text,
                        const std::string& sender = dana_phone) {
    ingest::sms_message m;
    m.source = "sms";
    m.gateway = "vonage";
    m.message_id = id;
    m.sender = sender;
    m.sender_valid = true;
    m.recipient = "+79990000000";
    m.text = text;
    m.received_at = t0;
    return m;
}

struct fixture {
    explicit fixture(std::shared_ptr<const config::config> c = make_config()) : cfg(std::move(c)) {
        store::options opts;
        opts.path = (dir.path / "hotline.db").string();
        opts.keys = std::make_shared<core::crypto::keyring>(core::crypto::key::generate());
        opts.clock = &clock;
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);
        pipe.emplace(io.get_executor(), metrics, ingest::pipeline::commit_to(*db),
                     [this](std::vector<domain::notification> jobs) {
                         for (auto& j : jobs) {
                             enqueued.push_back(std::move(j));
                         }
                     });
        pipe->set_config(cfg);
        pipe->set_escalation([](const config::config& c, const domain::report& r,
                                const rules::decision& d, std::int64_t now) {
            auto start = ingest::case_service::start_escalation(c, d.policy, r, d, now);
            return ingest::pipeline::escalation_plan{std::move(start.planned),
                                                     std::move(start.timers)};
        });
        checkins.emplace(io.get_executor(), *pipe, *db, clock, metrics);
        checkins->set_config(cfg);
        intake.emplace(io.get_executor(), *pipe, *db, metrics);
        intake->set_config(cfg);
        intake->set_checkins(*checkins);
    }
    ~fixture() {
        intake.reset();
        checkins.reset();
        pipe.reset();
        db->close();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    template <class Pred>
    void run_until(Pred done, int rounds = 500) {
        io.restart();
        for (int i = 0; i < rounds && !done(); ++i) {
            io.run_one_for(10ms);
        }
    }
    void settle_io() {
        io.restart();
        for (int i = 0; i < 50; ++i) {
            io.run_one_for(5ms);
        }
    }

    core::result<ingest::sms_accepted> accept(ingest::sms_message m) {
        std::optional<core::result<ingest::sms_accepted>> out;
        const auto refused = intake->accept(
            std::move(m), [&](core::result<ingest::sms_accepted> r) { out.emplace(std::move(r)); });
        REQUIRE_FALSE(refused.has_value());
        run_until([&] { return out.has_value(); });
        REQUIRE(out.has_value());
        settle_io();  // a duress report commits after the answer
        return std::move(*out);
    }

    store::checkin_state state() {
        auto r = wait_for<std::vector<store::checkin_state>>(
            [&](auto done) { db->list_checkins(std::move(done)); });
        REQUIRE(r.ok());
        for (const auto& s : *r) {
            if (s.id == "dana") {
                return s;
            }
        }
        return {};
    }

    std::vector<store::timer> claim(std::int64_t at) {
        auto r = wait_for<std::vector<store::timer>>(
            [&](auto done) { db->claim_due_timers(at, "test", 60'000, 10, std::move(done)); });
        REQUIRE(r.ok());
        return *r;
    }

    std::optional<bool> fire(const store::timer& t) {
        std::optional<bool> out;
        checkins->deadline(t, [&](bool ok) { out = ok; });
        run_until([&] { return out.has_value(); });
        return out;
    }

    std::vector<domain::report> reports() {
        std::vector<domain::report> out;
        for (std::int64_t id = 1; id < 100; ++id) {
            auto r = db->load_report(id);
            REQUIRE(r.ok());
            if (!r->has_value()) {
                break;
            }
            out.push_back(std::move(**r));
        }
        return out;
    }

    std::optional<store::case_view> get_case(std::int64_t id) {
        auto r = wait_for<std::optional<store::case_view>>(
            [&](auto done) { db->get_case(id, std::move(done)); });
        REQUIRE(r.ok());
        return *r;
    }

    std::vector<std::string> targets_enqueued() const {
        std::vector<std::string> out;
        for (const auto& n : enqueued) {
            out.push_back(n.target);
        }
        return out;
    }

    temp_dir dir;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::manual_clock clock{t0};
    core::metrics metrics;
    std::shared_ptr<const config::config> cfg;
    std::unique_ptr<store::store> db;
    std::optional<ingest::pipeline> pipe;
    std::optional<ingest::checkin_service> checkins;
    std::optional<ingest::sms_intake> intake;
    std::vector<domain::notification> enqueued;
};

}  // namespace

TEST_CASE("checkin PINs: the PIN, the duress PIN, wrong ones; none set") {
    using ingest::checkin_pin;
    const auto e = dana();
    CHECK(ingest::match_checkin_pin(e, "1234") == checkin_pin::counted);
    CHECK(ingest::match_checkin_pin(e, "9999") == checkin_pin::duress);
    for (const char* bad : {"", "123", "12345", "1235", "4321", "99999", "999", "0000"}) {
        CHECK_MESSAGE(ingest::match_checkin_pin(e, bad) == checkin_pin::wrong, bad);
    }
    const auto open = dana("");  // no PIN: anything but the duress PIN counts
    CHECK(ingest::match_checkin_pin(open, "") == checkin_pin::counted);
    CHECK(ingest::match_checkin_pin(open, "5555") == checkin_pin::counted);
    CHECK(ingest::match_checkin_pin(open, "9999") == checkin_pin::duress);
    auto plain = dana("");
    plain.duress_pin.clear();
    CHECK(ingest::match_checkin_pin(plain, "9999") == checkin_pin::counted);
}

TEST_CASE("checkin_time: UTC ISO 8601, never for none") {
    CHECK(ingest::checkin_time(t0) == "2025-11-25T09:00:00Z");
    CHECK(ingest::checkin_time(t0 + 999) == "2025-11-25T09:00:00Z");
    CHECK(ingest::checkin_time(0) == "never");
}

TEST_CASE("check-ins by SMS: start, OK with the PIN, a wrong PIN, a missed check-in's case") {
    fixture f;
    auto started = f.accept(sms("m1", "CHECKIN START 2h"));
    REQUIRE(started.ok());
    CHECK(started->keyword);
    auto s = f.state();
    CHECK(s.active);
    CHECK(s.interval_ms == 2 * 3'600'000);
    CHECK(s.due_at == t0 + 2 * 3'600'000);
    CHECK(f.reports().empty());

    f.clock.set(t0 + 3'600'000);
    auto ok = f.accept(sms("m2", "ok 1234"));
    REQUIRE(ok.ok());
    CHECK(ok->keyword);
    s = f.state();
    CHECK(s.last_at == t0 + 3'600'000);
    CHECK(s.due_at == t0 + 3 * 3'600'000);

    // Without the PIN, or a wrong one: answered the same, but the deadline stays.
    f.clock.set(t0 + 4'000'000);
    for (const char* text : {"OK", "OK 4321", "ОК 12345"}) {
        auto wrong = f.accept(sms(std::string("w") + text, text));
        REQUIRE(wrong.ok());
        CHECK(wrong->keyword);
        CHECK(wrong->ids.report_id == 0);
    }
    s = f.state();
    CHECK(s.last_at == t0 + 3'600'000);
    CHECK(s.due_at == t0 + 3 * 3'600'000);
    CHECK(f.reports().empty());

    // Nothing is due before due + grace; then the case opens through "missed", paging alice.
    CHECK(f.claim(t0 + 3 * 3'600'000 + 10 * 60'000 - 1).empty());
    auto due = f.claim(t0 + 3 * 3'600'000 + 10 * 60'000);
    REQUIRE(due.size() == 1);
    CHECK(due[0].kind == "checkin_due");
    f.clock.set(due[0].due_at);
    CHECK(f.fire(due[0]) == std::optional<bool>(true));
    auto rs = f.reports();
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].source == "checkin");
    CHECK(rs[0].source_kind == "checkin");
    CHECK(rs[0].sender == "dana");
    CHECK(rs[0].labels.at("checkin") == "dana");
    CHECK(rs[0].labels.at("last_checkin") == ingest::checkin_time(t0 + 3'600'000));
    CHECK(rs[0].text.find(dana_phone) == std::string::npos);
    CHECK(f.targets_enqueued() == std::vector<std::string>{"responder:alice"});
    REQUIRE(f.enqueued.size() == 1);
    auto c = f.get_case(f.enqueued[0].case_id);
    REQUIRE(c.has_value());
    CHECK(c->record.policy == "missed");
    CHECK(c->record.severity == "high");
    CHECK(c->record.labels["last_checkin"] == ingest::checkin_time(t0 + 3'600'000));

    // The same timer again (a crash before it was completed): one report, one case.
    CHECK(f.fire(due[0]) == std::optional<bool>(true));
    CHECK(f.reports().size() == 1);
    CHECK(f.enqueued.size() == 1);
}

TEST_CASE("the duress PIN: answered like a check-in, moves the deadline, opens a critical case") {
    fixture f;
    REQUIRE(f.accept(sms("m1", "CHECKIN START")).ok());
    CHECK(f.state().interval_ms == 3'600'000);  // the enrollment's interval
    f.clock.set(t0 + 60'000);
    auto good = f.accept(sms("m2", "OK 1234"));
    f.clock.set(t0 + 120'000);
    auto duress = f.accept(sms("m3", "OK 9999"));
    REQUIRE(good.ok());
    REQUIRE(duress.ok());
    // What the gateway is told (and so the sender) is the same.
    CHECK(duress->keyword == good->keyword);
    CHECK(duress->duplicate == good->duplicate);
    CHECK(duress->part == good->part);
    CHECK(duress->ids.report_id == good->ids.report_id);
    CHECK(duress->ids.case_id == good->ids.case_id);
    const auto s = f.state();
    CHECK(s.last_at == t0 + 120'000);  // counted like a good check-in
    CHECK(s.due_at == t0 + 120'000 + 3'600'000);
    auto rs = f.reports();
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].external_id == "checkin-duress:dana:m3");
    CHECK(f.targets_enqueued() == std::vector<std::string>{"responder:bob"});
    auto c = f.get_case(f.enqueued[0].case_id);
    REQUIRE(c.has_value());
    CHECK(c->record.severity == "critical");
    CHECK(c->record.policy == "duress");
    CHECK(c->record.labels["checkin"] == "dana");

    // The gateway's retry of the same SMS: no second case.
    REQUIRE(f.accept(sms("m3", "OK 9999")).ok());
    CHECK(f.reports().size() == 1);
}

TEST_CASE("stale timers, CHECKIN STOP refused by SMS with a PIN, stop by the service") {
    fixture f;
    REQUIRE(f.accept(sms("m1", "НАЧАТЬ ОТМЕТКИ 30м")).ok());
    CHECK(f.state().interval_ms == 30 * 60'000);
    const auto first = f.claim(t0 + 40 * 60'000);
    REQUIRE(first.size() == 1);
    // A check-in after the claim: the claimed timer is stale and opens nothing.
    f.clock.set(t0 + 35 * 60'000);
    REQUIRE(f.accept(sms("m2", "OK 1234")).ok());
    CHECK(f.fire(first[0]) == std::optional<bool>(true));
    CHECK(f.reports().empty());

    auto stop = f.accept(sms("m3", "CHECKIN STOP"));
    REQUIRE(stop.ok());
    CHECK(stop->keyword);
    CHECK(f.state().active);  // whoever holds the phone cannot switch the alarm off

    std::optional<core::result<ingest::checkin_view>> stopped;
    f.checkins->stop("dana", "responder:alice", "api",
                     [&](core::result<ingest::checkin_view> v) { stopped.emplace(std::move(v)); });
    f.run_until([&] { return stopped.has_value(); });
    REQUIRE(stopped.has_value());
    REQUIRE(stopped->ok());
    CHECK_FALSE((*stopped)->state.active);
    CHECK((*stopped)->state.updated_by == "responder:alice");
    CHECK(f.claim(t0 + 100 * 3'600'000).empty());

    std::optional<core::result<ingest::checkin_view>> unknown;
    f.checkins->start("nobody", 0, "responder:alice", "api",
                      [&](core::result<ingest::checkin_view> v) { unknown.emplace(std::move(v)); });
    f.run_until([&] { return unknown.has_value(); });
    REQUIRE(unknown.has_value());
    CHECK(unknown->err().code == "not_found");

    std::optional<core::result<std::vector<ingest::checkin_view>>> listed;
    f.checkins->list([&](auto v) { listed.emplace(std::move(v)); });
    f.run_until([&] { return listed.has_value(); });
    REQUIRE(listed.has_value());
    REQUIRE(listed->ok());
    REQUIRE((*listed)->size() == 1);
    CHECK((**listed)[0].enrollment->id == "dana");
    CHECK_FALSE((**listed)[0].state.active);
}

TEST_CASE("without a PIN: a plain OK counts and CHECKIN STOP by SMS stops") {
    fixture f(make_config(""));
    REQUIRE(f.accept(sms("m1", "CHECKIN 6h")).ok());
    f.clock.set(t0 + 1'000);
    REQUIRE(f.accept(sms("m2", "ОК")).ok());  // Cyrillic
    CHECK(f.state().last_at == t0 + 1'000);
    REQUIRE(f.accept(sms("m3", "checkin stop")).ok());
    CHECK_FALSE(f.state().active);
    CHECK(f.reports().empty());
}

TEST_CASE("check-in words from anyone else, and other texts from the defender, are reports") {
    fixture f;
    auto stranger = f.accept(sms("m1", "OK 9999", "+79005550000"));
    REQUIRE(stranger.ok());
    CHECK_FALSE(stranger->keyword);
    CHECK(stranger->ids.report_id > 0);
    auto words = f.accept(sms("m2", "OK I am fine, but the car broke down"));
    REQUIRE(words.ok());
    CHECK_FALSE(words->keyword);
    CHECK(f.reports().size() == 2);
    CHECK(f.state().id.empty());  // no state was written
}
