// The store conformance suite: the store interface's promises, written against the
// interface only, run against every backend (ISC Kea's generic_lease_mgr_unittest model).
// A backend is done when this suite passes. A backend test file defines a type B:
//   B b;             a fresh, empty database (removed when b goes away)
//   b.open(o)        core::result<std::unique_ptr<store>>: opens that database with the
//                    options o plus the backend's own fields (backend, path); may be called
//                    again (reopening sees the same data) and in a forked child
// and then runs HOTLINE_STORE_CONFORMANCE(B) once at namespace scope.
#pragma once
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

namespace hotline::store::conformance {

using namespace hotline::store::testing;

template <class B>
std::unique_ptr<store> open_with(B& backend, core::metrics* m = nullptr,
                                 const core::clock* clock = nullptr) {
    options o;
    o.metrics = m;
    o.clock = clock;
    auto s = backend.open(o);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.err().describe()));
    return std::move(*s);
}

inline new_timer make_timer(std::int64_t due_at, const std::string& kind = "escalation_step",
                            const std::string& subject = "case:1",
                            const std::string& payload = R"({"step":1})") {
    new_timer t;
    t.due_at = due_at;
    t.kind = kind;
    t.subject = subject;
    t.payload = payload;
    return t;
}

inline core::result<std::vector<std::int64_t>> add_timers_sync(store& s,
                                                               std::vector<new_timer> timers) {
    return wait_for<std::vector<std::int64_t>>(
        [&](auto done) { s.add_timers(std::move(timers), std::move(done)); });
}

inline core::result<std::vector<timer>> claim_sync(store& s, std::int64_t now,
                                                   const std::string& owner,
                                                   std::int64_t lease_ms = 30'000,
                                                   std::size_t limit = 100) {
    return wait_for<std::vector<timer>>(
        [&](auto done) { s.claim_due_timers(now, owner, lease_ms, limit, std::move(done)); });
}

inline core::result<timer_completion> complete_sync(store& s, std::int64_t id,
                                                    const std::string& owner) {
    return wait_for<timer_completion>(
        [&](auto done) { s.complete_timer(id, owner, std::move(done)); });
}

inline core::result<std::int64_t> cancel_sync(store& s, const std::string& subject,
                                              const std::string& kind) {
    return wait_for<std::int64_t>(
        [&](auto done) { s.cancel_timers(subject, kind, std::move(done)); });
}

inline core::result<std::optional<std::int64_t>> next_timer_sync(store& s) {
    return wait_for<std::optional<std::int64_t>>(
        [&](auto done) { s.next_timer_due(std::move(done)); });
}

inline std::vector<std::int64_t> ids_of(const std::vector<timer>& timers) {
    std::vector<std::int64_t> ids;
    for (const auto& t : timers) {
        ids.push_back(t.id);
    }
    return ids;
}

// ---- reports, outbox, batching, close (moved from store_test.cpp) ----

TEST_CASE_TEMPLATE_DEFINE(
    "a report without received_at gets the store's time; no notifications is fine", B,
    conformance_0) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto report = make_report("no-time", 0);
    auto r = ingest_sync(*s, report, {make_planned()});
    REQUIRE(r.ok());
    CHECK(r->notifications.at(0).next_attempt_at == clock.now_ms());
    auto quiet = ingest_sync(*s, make_report("quiet"), {});
    REQUIRE(quiet.ok());
    CHECK(quiet->notifications.empty());
    CHECK(quiet->ids.case_id > 0);
}

TEST_CASE_TEMPLATE_DEFINE("duplicates inside one batch: the second sees the first", B,
                          conformance_1) {
    B backend;
    auto s = open_with(backend);
    std::vector<std::future<core::result<ingest_result>>> futures;
    std::vector<std::shared_ptr<std::promise<core::result<ingest_result>>>> promises;
    for (int i = 0; i < 20; ++i) {
        auto p = std::make_shared<std::promise<core::result<ingest_result>>>();
        futures.push_back(p->get_future());
        s->ingest(make_report("same"), make_case(), {make_planned()},
                  [p](core::result<ingest_result> r) { p->set_value(std::move(r)); });
    }
    int fresh = 0;
    std::set<std::int64_t> report_ids;
    for (auto& f : futures) {
        auto r = f.get();
        REQUIRE(r.ok());
        fresh += r->ids.duplicate ? 0 : 1;
        report_ids.insert(r->ids.report_id);
    }
    CHECK(fresh == 1);
    CHECK(report_ids.size() == 1);
}

TEST_CASE_TEMPLATE_DEFINE("max_batch bounds a batch", B, conformance_2) {
    B backend;
    core::metrics m;
    options o;
    o.metrics = &m;
    o.max_batch = 3;
    auto opened = backend.open(o);
    REQUIRE(opened.ok());
    auto& s = **opened;
    std::latch in_gate(1);
    std::latch release(1);
    s.next_due([&](auto) {
        in_gate.count_down();
        release.wait();
    });
    in_gate.wait();
    std::atomic<int> done{0};
    for (int i = 0; i < 9; ++i) {
        s.ingest(make_report("mb-" + std::to_string(i)), make_case(), {},
                 [&](core::result<ingest_result> r) {
                     CHECK(r.ok());
                     done.fetch_add(1);
                 });
    }
    release.count_down();
    s.close();
    CHECK(done.load() == 9);
    CHECK(m.value("hotline_commit_batch_size", {}) == 4);  // 1 + 3 + 3 + 3
}

TEST_CASE_TEMPLATE_DEFINE("due, next_due, exclude and stats", B, conformance_3) {
    B backend;
    core::manual_clock clock(2'000'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto empty = next_due_sync(*s);
    REQUIRE(empty.ok());
    CHECK_FALSE(empty->has_value());
    auto none = due_sync(*s, clock.now_ms(), 10);
    REQUIRE(none.ok());
    CHECK(none->empty());

    // received_at 3000, 1000, 2000 (+ base): next_attempt_at follows.
    const std::int64_t base = 1'700'000'000'000;
    auto r3 = ingest_sync(*s, make_report("t3", base + 3000), {make_planned()});
    auto r1 = ingest_sync(*s, make_report("t1", base + 1000),
                          {make_planned(), make_planned("responder:bob")});
    auto r2 = ingest_sync(*s, make_report("t2", base + 2000), {make_planned()});
    REQUIRE((r1.ok() && r2.ok() && r3.ok()));

    auto next = next_due_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == base + 1000);

    auto all = due_sync(*s, base + 5000, 100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 4);
    CHECK((*all)[0].id == r1->notifications[0].id);
    CHECK((*all)[1].id == r1->notifications[1].id);
    CHECK((*all)[2].id == r2->notifications[0].id);
    CHECK((*all)[3].id == r3->notifications[0].id);

    auto early = due_sync(*s, base + 2000, 100);
    REQUIRE(early.ok());
    CHECK(early->size() == 3);
    auto limited = due_sync(*s, base + 5000, 2);
    REQUIRE(limited.ok());
    CHECK(limited->size() == 2);
    auto excluded =
        due_sync(*s, base + 5000, 2, {r1->notifications[0].id, r2->notifications[0].id});
    REQUIRE(excluded.ok());
    REQUIRE(excluded->size() == 2);
    CHECK((*excluded)[0].id == r1->notifications[1].id);
    CHECK((*excluded)[1].id == r3->notifications[0].id);
    auto before = due_sync(*s, base, 100);
    REQUIRE(before.ok());
    CHECK(before->empty());

    attempt_result delivered;
    delivered.outcome = attempt_result::kind::delivered;
    REQUIRE(attempt_sync(*s, r1->notifications[0].id, delivered).ok());
    attempt_result failed;
    failed.outcome = attempt_result::kind::failed;
    REQUIRE(attempt_sync(*s, r1->notifications[1].id, failed).ok());
    attempt_result dead;
    dead.outcome = attempt_result::kind::failed;
    dead.dead_letter = true;
    REQUIRE(attempt_sync(*s, r2->notifications[0].id, dead).ok());
    attempt_result retry;
    retry.outcome = attempt_result::kind::retry;
    retry.next_attempt_at = base + 9000;
    REQUIRE(attempt_sync(*s, r3->notifications[0].id, retry).ok());

    next = next_due_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == base + 9000);
    auto st = stats_sync(*s, base + 5000);
    REQUIRE(st.ok());
    CHECK(st->reports == 3);
    CHECK(st->cases == 3);
    CHECK(st->pending == 1);
    CHECK(st->delivered == 1);
    CHECK(st->failed == 1);
    CHECK(st->dead == 1);
    CHECK(st->oldest_due_at == 0);  // the pending one is not due yet
    st = stats_sync(*s, base + 9000);
    REQUIRE(st.ok());
    CHECK(st->oldest_due_at == base + 9000);
    // The dispatcher's cheap gauges agree with the full stats.
    auto outbox =
        wait_for<stats>([&](auto done) { s->outbox_stats(base + 9000, std::move(done)); });
    REQUIRE(outbox.ok());
    CHECK(outbox->pending == 1);
    CHECK(outbox->oldest_due_at == base + 9000);
    CHECK(outbox->reports == 0);
    outbox = wait_for<stats>([&](auto done) { s->outbox_stats(base + 5000, std::move(done)); });
    REQUIRE(outbox.ok());
    CHECK(outbox->oldest_due_at == 0);

    REQUIRE(attempt_sync(*s, r3->notifications[0].id, delivered).ok());
    next = next_due_sync(*s);
    REQUIRE(next.ok());
    CHECK_FALSE(next->has_value());
}

TEST_CASE_TEMPLATE_DEFINE("due: most severe first, per channel, skipping channels and ids", B,
                          conformance_18) {
    B backend;
    core::manual_clock clock(2'000'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    const std::int64_t base = 1'700'000'000'000;
    const auto planned = [](const std::string& target, const std::string& channel,
                            const std::string& severity) {
        auto p = make_planned(target, channel);
        p.payload["severity"] = severity;
        return p;
    };
    // Older low ones first, then a critical, a high, an unknown severity and one without.
    auto low1 =
        ingest_sync(*s, make_report("s1", base + 1000), {planned("responder:a", "hook", "low")});
    auto low2 =
        ingest_sync(*s, make_report("s2", base + 2000), {planned("responder:b", "hook", "low")});
    auto crit = ingest_sync(*s, make_report("s3", base + 3000),
                            {planned("responder:c", "hook", "critical")});
    auto high =
        ingest_sync(*s, make_report("s4", base + 4000), {planned("responder:d", "mail", "high")});
    auto odd =
        ingest_sync(*s, make_report("s5", base + 5000), {planned("responder:e", "hook", "weird")});
    auto none_p = make_planned("responder:f", "hook");
    none_p.payload.erase("severity");
    auto none = ingest_sync(*s, make_report("s6", base + 6000), {none_p});
    REQUIRE((low1.ok() && low2.ok() && crit.ok() && high.ok() && odd.ok() && none.ok()));
    const auto id = [](const core::result<ingest_result>& r) { return r->notifications[0].id; };
    const auto ids = [](const std::vector<notification>& v) {
        std::vector<std::int64_t> out;
        for (const auto& n : v) {
            out.push_back(n.id);
        }
        return out;
    };

    // Every channel: critical, high, normal (no severity), low by due time, other.
    auto all = due_sync(*s, base + 9000, 100);
    REQUIRE(all.ok());
    CHECK(ids(*all) ==
          std::vector<std::int64_t>{id(crit), id(high), id(none), id(low1), id(low2), id(odd)});
    // One channel, with a limit: the critical one is not behind the older low ones.
    auto hook = due_sync(*s, base + 9000, 2, {}, "hook");
    REQUIRE(hook.ok());
    CHECK(ids(*hook) == std::vector<std::int64_t>{id(crit), id(none)});
    auto mail = due_sync(*s, base + 9000, 10, {}, "mail");
    REQUIRE(mail.ok());
    CHECK(ids(*mail) == std::vector<std::int64_t>{id(high)});
    // Excluded ids make room for the next ones; not yet due ones are not returned.
    auto next = due_sync(*s, base + 9000, 2, {id(crit), id(none)}, "hook");
    REQUIRE(next.ok());
    CHECK(ids(*next) == std::vector<std::int64_t>{id(low1), id(low2)});
    auto early = due_sync(*s, base + 2500, 10, {}, "hook");
    REQUIRE(early.ok());
    CHECK(ids(*early) == std::vector<std::int64_t>{id(low1), id(low2)});
    // Every channel but the skipped ones (rows of channels no longer configured).
    auto others = due_sync(*s, base + 9000, 10, {}, "", {"hook"});
    REQUIRE(others.ok());
    CHECK(ids(*others) == std::vector<std::int64_t>{id(high)});
    auto nothing = due_sync(*s, base + 9000, 10, {}, "", {"hook", "mail"});
    REQUIRE(nothing.ok());
    CHECK(nothing->empty());
    auto unknown = due_sync(*s, base + 9000, 10, {}, "nope");
    REQUIRE(unknown.ok());
    CHECK(unknown->empty());

    // A retried job is due again later; a settled one never.
    attempt_result retry;
    retry.outcome = attempt_result::kind::retry;
    retry.next_attempt_at = base + 20'000;
    REQUIRE(attempt_sync(*s, id(crit), retry).ok());
    attempt_result delivered;
    delivered.outcome = attempt_result::kind::delivered;
    REQUIRE(attempt_sync(*s, id(none), delivered).ok());
    hook = due_sync(*s, base + 9000, 10, {}, "hook");
    REQUIRE(hook.ok());
    CHECK(ids(*hook) == std::vector<std::int64_t>{id(low1), id(low2), id(odd)});
    hook = due_sync(*s, base + 20'000, 1, {}, "hook");
    REQUIRE(hook.ok());
    CHECK(ids(*hook) == std::vector<std::int64_t>{id(crit)});
}

TEST_CASE_TEMPLATE_DEFINE("close drains the queue; later operations fail at once", B,
                          conformance_4) {
    B backend;
    auto s = open_with(backend);
    std::atomic<int> ok{0};
    for (int i = 0; i < 300; ++i) {
        s->ingest(make_report("c-" + std::to_string(i)), make_case(), {make_planned()},
                  [&](core::result<ingest_result> r) {
                      if (r.ok()) {
                          ok.fetch_add(1);
                      }
                  });
    }
    s->close();
    CHECK(ok.load() == 300);
    s->close();  // idempotent

    bool called = false;
    s->ingest(make_report("late"), make_case(), {}, [&](core::result<ingest_result> r) {
        called = true;
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "closed");
    });
    CHECK(called);  // synchronously, on this thread
    called = false;
    s->due(0, due_query{{}, {}, 10, {}}, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->next_due([&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->get_stats(0, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->outbox_stats(0, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->record_attempt(1, attempt_result{}, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    // Synchronous reads still work after close.
    auto stored = s->notifications_for_report(1);
    REQUIRE(stored.ok());
    CHECK(stored->size() == 1);

    // Everything acknowledged before close() is durable: a fresh store sees it.
    s.reset();
    auto reopened = open_with(backend);
    auto st = stats_sync(*reopened, 0);
    REQUIRE(st.ok());
    CHECK(st->reports == 300);
}

TEST_CASE_TEMPLATE_DEFINE("a throwing completion does not take the writer down", B, conformance_5) {
    B backend;
    auto s = open_with(backend);
    s->ingest(make_report("throw"), make_case(), {},
              [](core::result<ingest_result>) { throw std::runtime_error("boom"); });
    auto after = ingest_sync(*s, make_report("after"));
    REQUIRE(after.ok());
    CHECK_FALSE(after->ids.duplicate);
}

TEST_CASE_TEMPLATE_DEFINE("hostile text round-trips: NUL bytes, invalid UTF-8, quotes, huge labels",
                          B, conformance_6) {
    B backend;
    auto s = open_with(backend);
    auto r = make_report("x'); DROP TABLE reports; --");
    r.text = std::string("a\0b", 3) + "\xff\xfe" + "\"'";
    r.subject = std::string(100'000, 'S');
    for (int i = 0; i < 200; ++i) {
        r.labels["k" + std::to_string(i)] = std::string(100, 'v');
    }
    auto planned = make_planned();
    planned.payload["text"] = "\xc3\x28 invalid";
    auto res = ingest_sync(*s, r, {planned});
    REQUIRE_MESSAGE(res.ok(), (res.ok() ? "" : res.err().describe()));
    auto loaded = s->load_report(res->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->text == r.text);
    CHECK((*loaded)->external_id == r.external_id);
    CHECK((*loaded)->subject.size() == 100'000);
    CHECK((*loaded)->labels == r.labels);
    auto stored = s->notifications_for_report(res->ids.report_id);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK((*stored)[0].payload["notification_id"] == (*stored)[0].id);
}

// ---- ingest and record_attempt (interface-level) ----

TEST_CASE_TEMPLATE_DEFINE("ingest returns stored ids; a duplicate returns the same ids", B,
                          conformance_7) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto r = ingest_sync(*s, make_report("ext-1"), {make_planned(), make_planned("responder:bob")});
    REQUIRE(r.ok());
    CHECK_FALSE(r->ids.duplicate);
    CHECK(r->ids.report_id > 0);
    CHECK(r->ids.case_id > 0);
    REQUIRE(r->notifications.size() == 2);
    CHECK(r->notifications[0].id != r->notifications[1].id);
    CHECK(r->notifications[0].payload["notification_id"] == r->notifications[0].id);
    CHECK(r->notifications[0].created_at == clock.now_ms());
    auto again = ingest_sync(*s, make_report("ext-1"), {make_planned("responder:carol")});
    REQUIRE(again.ok());
    CHECK(again->ids.duplicate);
    CHECK(again->ids.report_id == r->ids.report_id);
    CHECK(again->ids.case_id == r->ids.case_id);
    CHECK(again->notifications.empty());
    auto stored = s->notifications_for_report(r->ids.report_id);
    REQUIRE(stored.ok());
    CHECK(stored->size() == 2);
    auto st = stats_sync(*s, clock.now_ms());
    REQUIRE(st.ok());
    CHECK(st->reports == 1);
    CHECK(st->cases == 1);
    CHECK(st->pending == 2);
    // Reopening keeps the data.
    s.reset();
    s = open_with(backend, nullptr, &clock);
    auto loaded = s->load_report(r->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->external_id == "ext-1");
    CHECK((*loaded)->text == make_report("ext-1").text);
}

TEST_CASE_TEMPLATE_DEFINE("record_attempt outcomes, replay and errors through the interface", B,
                          conformance_8) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto r = ingest_sync(*s, make_report("att"),
                         {make_planned("responder:alice"), make_planned("responder:bob"),
                          make_planned("responder:carol")});
    REQUIRE(r.ok());
    const auto& ns = r->notifications;
    attempt_result delivered;
    delivered.outcome = attempt_result::kind::delivered;
    delivered.provider_id = "msg-1";
    REQUIRE(attempt_sync(*s, ns[0].id, delivered).ok());
    auto replay = attempt_sync(*s, ns[0].id, delivered);
    REQUIRE(replay.ok());
    CHECK(replay->follow_ups.empty());

    attempt_result retry;
    retry.outcome = attempt_result::kind::retry;
    retry.detail = "http 503";
    retry.next_attempt_at = 1'900'000'000'000;
    REQUIRE(attempt_sync(*s, ns[1].id, retry).ok());

    attempt_result failed;
    failed.outcome = attempt_result::kind::failed;
    failed.follow_ups = {make_planned("responder:bob", "email", 1)};
    auto rec = attempt_sync(*s, ns[2].id, failed);
    REQUIRE(rec.ok());
    REQUIRE(rec->follow_ups.size() == 1);
    CHECK(rec->follow_ups[0].contact_index == 1);
    CHECK(rec->follow_ups[0].next_attempt_at <= clock.now_ms());

    auto stored = s->notifications_for_report(r->ids.report_id);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 4);
    CHECK((*stored)[0].status == notification_status::delivered);
    CHECK((*stored)[0].attempts == 1);
    CHECK((*stored)[0].provider_id == "msg-1");
    CHECK((*stored)[1].status == notification_status::pending);
    CHECK((*stored)[1].last_error == "http 503");
    CHECK((*stored)[1].next_attempt_at == 1'900'000'000'000);
    CHECK((*stored)[2].status == notification_status::failed);
    CHECK((*stored)[3].status == notification_status::pending);

    auto missing = attempt_sync(*s, 123456, delivered);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.err().code == "not_found");
    attempt_result bad;
    bad.outcome = attempt_result::kind::failed;
    auto broken = make_planned();
    broken.payload = nlohmann::json::array({1});
    bad.follow_ups = {make_planned(), broken};
    auto rolled_back = attempt_sync(*s, ns[1].id, bad);
    REQUIRE_FALSE(rolled_back.ok());
    CHECK(rolled_back.err().code == "bad_payload");
    stored = s->notifications_for_report(r->ids.report_id);
    REQUIRE(stored.ok());
    CHECK(stored->size() == 4);
    CHECK((*stored)[1].status == notification_status::pending);
}

// ---- timers ----

TEST_CASE_TEMPLATE_DEFINE("timers: add, claim due ones in order, lease, next_timer_due", B,
                          conformance_9) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto nothing = next_timer_sync(*s);
    REQUIRE(nothing.ok());
    CHECK_FALSE(nothing->has_value());
    const std::int64_t t0 = 2'000'000'000'000;
    auto ids = add_timers_sync(*s, {make_timer(t0 + 20, "retry", "case:1", R"({"n":3})"),
                                    make_timer(t0, "escalation_step", "case:1"),
                                    make_timer(t0 + 10, "checkin_deadline", "case:2", "")});
    REQUIRE(ids.ok());
    REQUIRE(ids->size() == 3);
    CHECK(std::set<std::int64_t>(ids->begin(), ids->end()).size() == 3);
    auto next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == t0);

    auto early = claim_sync(*s, t0 - 1, "node-a");
    REQUIRE(early.ok());
    CHECK(early->empty());
    auto claimed = claim_sync(*s, t0 + 10, "node-a", 5'000);
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 2);
    const auto& first = (*claimed)[0];
    CHECK(first.id == (*ids)[1]);
    CHECK(first.due_at == t0);
    CHECK(first.kind == "escalation_step");
    CHECK(first.subject == "case:1");
    CHECK(first.payload == R"({"step":1})");
    CHECK(first.created_at == clock.now_ms());
    CHECK(first.claimed_by == "node-a");
    CHECK(first.lease_until == t0 + 10 + 5'000);
    CHECK(first.fired_at == 0);
    CHECK((*claimed)[1].id == (*ids)[2]);
    CHECK((*claimed)[1].payload == "{}");  // an empty payload is stored as an empty object

    // Claimed rows are not handed out again while the lease holds, to anyone.
    auto again = claim_sync(*s, t0 + 10, "node-b");
    REQUIRE(again.ok());
    CHECK(again->empty());
    auto same_owner = claim_sync(*s, t0 + 10, "node-a");
    REQUIRE(same_owner.ok());
    CHECK(same_owner->empty());
    // The unclaimed one (t0+20) is next; then the leases.
    next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == t0 + 20);
    auto third = claim_sync(*s, t0 + 20, "node-b", 100'000);
    REQUIRE(third.ok());
    REQUIRE(third->size() == 1);
    CHECK(third->at(0).id == (*ids)[0]);
    CHECK(third->at(0).payload == R"({"n":3})");
    next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == t0 + 10 + 5'000);

    // limit bounds a claim.
    REQUIRE(add_timers_sync(*s, {make_timer(t0), make_timer(t0), make_timer(t0)}).ok());
    auto two = claim_sync(*s, t0, "node-c", 1'000, 2);
    REQUIRE(two.ok());
    CHECK(two->size() == 2);
    auto zero = claim_sync(*s, t0, "node-c", 1'000, 0);
    REQUIRE(zero.ok());
    CHECK(zero->empty());
    auto rest = claim_sync(*s, t0, "node-c", 1'000, 10);
    REQUIRE(rest.ok());
    CHECK(rest->size() == 1);
}

TEST_CASE_TEMPLATE_DEFINE("timers: an expired lease comes back; a timer fires once", B,
                          conformance_10) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    const std::int64_t t0 = 2'000'000'000'000;
    auto ids = add_timers_sync(*s, {make_timer(t0), make_timer(t0 + 1)});
    REQUIRE(ids.ok());
    auto a = claim_sync(*s, t0 + 1, "node-a", 1'000);
    REQUIRE(a.ok());
    REQUIRE(a->size() == 2);
    auto before_expiry = claim_sync(*s, t0 + 1 + 999, "node-b", 1'000);
    REQUIRE(before_expiry.ok());
    CHECK(before_expiry->empty());
    // node-a finishes the second one in time (the first one it does not).
    auto in_time = complete_sync(*s, (*ids)[1], "node-a");
    REQUIRE(in_time.ok());
    CHECK(*in_time == timer_completion::fired);

    auto b = claim_sync(*s, t0 + 1 + 1'000, "node-b", 1'000);
    REQUIRE(b.ok());
    REQUIRE(b->size() == 1);
    CHECK(b->at(0).id == (*ids)[0]);
    CHECK(b->at(0).claimed_by == "node-b");
    CHECK(b->at(0).lease_until == t0 + 1 + 1'000 + 1'000);
    // node-a lost it: its late completion does not count.
    auto late = complete_sync(*s, (*ids)[0], "node-a");
    REQUIRE(late.ok());
    CHECK(*late == timer_completion::not_owner);
    auto fired = complete_sync(*s, (*ids)[0], "node-b");
    REQUIRE(fired.ok());
    CHECK(*fired == timer_completion::fired);
    auto twice = complete_sync(*s, (*ids)[0], "node-b");
    REQUIRE(twice.ok());
    CHECK(*twice == timer_completion::already_fired);
    auto by_other = complete_sync(*s, (*ids)[1], "node-b");
    REQUIRE(by_other.ok());
    CHECK(*by_other == timer_completion::already_fired);
    // Fired timers never come back, however late.
    auto after = claim_sync(*s, t0 + 10'000'000, "node-c");
    REQUIRE(after.ok());
    CHECK(after->empty());
    auto next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK_FALSE(next->has_value());

    // An expired lease nobody took over still completes for its owner.
    auto more = add_timers_sync(*s, {make_timer(t0)});
    REQUIRE(more.ok());
    REQUIRE(claim_sync(*s, t0, "node-a", 10)->size() == 1);
    auto expired_but_kept = complete_sync(*s, more->at(0), "node-a");
    REQUIRE(expired_but_kept.ok());
    CHECK(*expired_but_kept == timer_completion::fired);

    // Never claimed: nobody owns it. Unknown id: an error.
    auto unclaimed = add_timers_sync(*s, {make_timer(t0 + 1'000'000)});
    REQUIRE(unclaimed.ok());
    auto nobody = complete_sync(*s, unclaimed->at(0), "node-a");
    REQUIRE(nobody.ok());
    CHECK(*nobody == timer_completion::not_owner);
    auto unknown = complete_sync(*s, 987'654, "node-a");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.err().code == "not_found");
}

TEST_CASE_TEMPLATE_DEFINE("timers: two concurrent claimers never get the same timer", B,
                          conformance_11) {
    B backend;
    auto s = open_with(backend);
    const std::int64_t t0 = 2'000'000'000'000;
    constexpr int count = 300;
    std::vector<new_timer> timers;
    for (int i = 0; i < count; ++i) {
        timers.push_back(make_timer(t0 + i % 7, "sms_parts", "sms:" + std::to_string(i)));
    }
    REQUIRE(add_timers_sync(*s, std::move(timers)).ok());
    std::vector<std::int64_t> got[2];
    std::atomic<int> errors{0};
    std::vector<std::thread> claimers;
    for (int c = 0; c < 2; ++c) {
        claimers.emplace_back([&, c] {
            const std::string owner = c == 0 ? "node-a" : "node-b";
            for (;;) {
                auto batch = claim_sync(*s, t0 + 10, owner, 60'000, 7);
                if (!batch.ok()) {
                    errors.fetch_add(1);
                    return;
                }
                if (batch->empty()) {
                    return;
                }
                for (const auto& t : *batch) {
                    if (t.claimed_by != owner) {
                        errors.fetch_add(1);
                    }
                    got[c].push_back(t.id);
                }
            }
        });
    }
    for (auto& t : claimers) {
        t.join();
    }
    CHECK(errors.load() == 0);
    std::set<std::int64_t> all(got[0].begin(), got[0].end());
    const std::set<std::int64_t> second(got[1].begin(), got[1].end());
    CHECK(all.size() == got[0].size());
    CHECK(second.size() == got[1].size());
    all.insert(second.begin(), second.end());
    CHECK(all.size() == static_cast<std::size_t>(count));
    CHECK(got[0].size() + got[1].size() == static_cast<std::size_t>(count));
    MESSAGE("node-a claimed " << got[0].size() << ", node-b " << got[1].size());
}

TEST_CASE_TEMPLATE_DEFINE("timers: cancel by subject and kind, claimed or not", B, conformance_12) {
    B backend;
    auto s = open_with(backend);
    const std::int64_t t0 = 2'000'000'000'000;
    auto ids = add_timers_sync(*s, {make_timer(t0, "escalation_step", "case:1"),
                                    make_timer(t0 + 1, "escalation_step", "case:1"),
                                    make_timer(t0 + 2, "checkin_deadline", "case:1"),
                                    make_timer(t0 + 3, "escalation_step", "case:2"),
                                    make_timer(t0 + 4, "escalation_step", "case:10")});
    REQUIRE(ids.ok());
    // The first one is in flight when the acknowledgement arrives.
    auto in_flight = claim_sync(*s, t0, "node-a");
    REQUIRE(in_flight.ok());
    REQUIRE(in_flight->size() == 1);
    auto cancelled = cancel_sync(*s, "case:1", "escalation_step");
    REQUIRE(cancelled.ok());
    CHECK(*cancelled == 2);
    auto late = complete_sync(*s, (*ids)[0], "node-a");
    REQUIRE(late.ok());
    CHECK(*late == timer_completion::cancelled);
    auto left = claim_sync(*s, t0 + 100, "node-b");
    REQUIRE(left.ok());
    CHECK(ids_of(*left) == std::vector{(*ids)[2], (*ids)[3], (*ids)[4]});
    // Every kind of one subject; "case:1" does not match "case:10".
    auto all_kinds = cancel_sync(*s, "case:1", "");
    REQUIRE(all_kinds.ok());
    CHECK(*all_kinds == 1);
    auto none_left = cancel_sync(*s, "case:1", "");
    REQUIRE(none_left.ok());
    CHECK(*none_left == 0);
    auto unknown = cancel_sync(*s, "case:99", "escalation_step");
    REQUIRE(unknown.ok());
    CHECK(*unknown == 0);
    auto other = complete_sync(*s, (*ids)[4], "node-b");
    REQUIRE(other.ok());
    CHECK(*other == timer_completion::fired);
    // A fired timer is not cancelled after the fact.
    auto after_fire = cancel_sync(*s, "case:10", "");
    REQUIRE(after_fire.ok());
    CHECK(*after_fire == 0);
    auto again = complete_sync(*s, (*ids)[4], "node-b");
    REQUIRE(again.ok());
    CHECK(*again == timer_completion::already_fired);
}

TEST_CASE_TEMPLATE_DEFINE("timers: bad input is refused and adds nothing", B, conformance_13) {
    B backend;
    auto s = open_with(backend);
    const std::int64_t t0 = 2'000'000'000'000;
    auto no_kind = add_timers_sync(*s, {make_timer(t0), make_timer(t0, "")});
    REQUIRE_FALSE(no_kind.ok());
    CHECK(no_kind.err().code == "invalid_argument");
    auto no_subject = add_timers_sync(*s, {make_timer(t0, "retry", "")});
    REQUIRE_FALSE(no_subject.ok());
    CHECK(no_subject.err().code == "invalid_argument");
    auto nothing = claim_sync(*s, t0, "node-a");
    REQUIRE(nothing.ok());
    CHECK(nothing->empty());  // the valid first timer was rolled back with the bad one
    REQUIRE(add_timers_sync(*s, {make_timer(t0)}).ok());
    auto no_owner = claim_sync(*s, t0, "");
    REQUIRE_FALSE(no_owner.ok());
    CHECK(no_owner.err().code == "invalid_argument");
    auto no_lease = claim_sync(*s, t0, "node-a", 0);
    REQUIRE_FALSE(no_lease.ok());
    CHECK(no_lease.err().code == "invalid_argument");
    auto empty = add_timers_sync(*s, {});
    REQUIRE(empty.ok());
    CHECK(empty->empty());
}

TEST_CASE_TEMPLATE_DEFINE("timers added in ingest and record_attempt transactions", B,
                          conformance_14) {
    B backend;
    auto s = open_with(backend);
    const std::int64_t t0 = 2'000'000'000'000;
    auto r = wait_for<ingest_result>([&](auto done) {
        s->ingest(make_report("with-timers"), make_case(), {make_planned()},
                  {make_timer(t0, "escalation_step", ""), make_timer(t0 + 1, "sms_parts", "sms:7")},
                  std::move(done));
    });
    REQUIRE(r.ok());
    REQUIRE(r->timer_ids.size() == 2);
    const std::string case_subject = "case:" + std::to_string(r->ids.case_id);
    auto claimed = claim_sync(*s, t0 + 1, "node-a");
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 2);
    CHECK(claimed->at(0).id == r->timer_ids[0]);
    CHECK(claimed->at(0).subject == case_subject);  // empty subject: this report's case
    CHECK(claimed->at(1).subject == "sms:7");

    // A duplicate writes nothing, timers included.
    auto dup = wait_for<ingest_result>([&](auto done) {
        s->ingest(make_report("with-timers"), make_case(), {}, {make_timer(t0)}, std::move(done));
    });
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);
    CHECK(dup->timer_ids.empty());
    auto none = claim_sync(*s, t0 + 1, "node-b");
    REQUIRE(none.ok());
    CHECK(none->empty());

    // A bad timer rolls the whole ingest back.
    auto bad = wait_for<ingest_result>([&](auto done) {
        s->ingest(make_report("bad-timer"), make_case(), {make_planned()}, {make_timer(t0, "")},
                  std::move(done));
    });
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.err().code == "invalid_argument");
    auto st = stats_sync(*s, t0);
    REQUIRE(st.ok());
    CHECK(st->reports == 1);

    attempt_result retry;
    retry.outcome = attempt_result::kind::retry;
    retry.next_attempt_at = t0 + 60'000;
    retry.timers = {make_timer(t0 + 5, "retry", "")};
    auto rec = attempt_sync(*s, r->notifications[0].id, retry);
    REQUIRE(rec.ok());
    REQUIRE(rec->timer_ids.size() == 1);
    auto step = claim_sync(*s, t0 + 5, "node-a");
    REQUIRE(step.ok());
    REQUIRE(step->size() == 1);
    CHECK(step->at(0).kind == "retry");
    CHECK(step->at(0).subject == case_subject);
    // A replayed attempt (no longer pending) adds no timers.
    attempt_result delivered;
    delivered.outcome = attempt_result::kind::delivered;
    REQUIRE(attempt_sync(*s, r->notifications[0].id, delivered).ok());
    delivered.timers = {make_timer(t0, "retry", "")};
    auto replay = attempt_sync(*s, r->notifications[0].id, delivered);
    REQUIRE(replay.ok());
    CHECK(replay->timer_ids.empty());
    auto still_none = claim_sync(*s, t0 + 100, "node-b");
    REQUIRE(still_none.ok());
    CHECK(still_none->empty());
}

TEST_CASE_TEMPLATE_DEFINE("timers survive a reopen; timer operations after close fail", B,
                          conformance_15) {
    B backend;
    const std::int64_t t0 = 2'000'000'000'000;
    std::vector<std::int64_t> ids;
    {
        auto s = open_with(backend);
        auto added = add_timers_sync(*s, {make_timer(t0), make_timer(t0 + 1)});
        REQUIRE(added.ok());
        ids = *added;
        REQUIRE(claim_sync(*s, t0, "node-a", 1'000)->size() == 1);
    }
    auto s = open_with(backend);
    auto claimed = claim_sync(*s, t0 + 1, "node-b", 1'000);
    REQUIRE(claimed.ok());
    CHECK(ids_of(*claimed) == std::vector{ids[1]});  // ids[0] is still node-a's
    auto next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == t0 + 1'000);
    s->close();
    bool called = false;
    s->add_timers({make_timer(t0)}, [&](auto r) {
        called = true;
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "closed");
    });
    CHECK(called);
    called = false;
    s->claim_due_timers(t0, "node-a", 1'000, 10, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->complete_timer(ids[0], "node-a", [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->cancel_timers("case:1", "", [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
    called = false;
    s->next_timer_due([&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
    });
    CHECK(called);
}

// The claimer is killed (-9) between claim and complete: its timers come back once the
// lease runs out, and not before.
TEST_CASE_TEMPLATE_DEFINE("timers: kill -9 between claim and complete, back after the lease", B,
                          conformance_16) {
    B backend;
    const std::int64_t t0 = 2'000'000'000'000;
    constexpr std::int64_t lease = 60'000;
    std::vector<std::int64_t> ids;
    {
        auto s = open_with(backend);
        auto added =
            add_timers_sync(*s, {make_timer(t0), make_timer(t0 + 1, "checkin_deadline", "case:2")});
        REQUIRE(added.ok());
        ids = *added;
    }  // no store (and no writer thread) in the parent across fork()
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        options o;
        auto opened = backend.open(o);
        if (!opened.ok()) {
            _exit(2);
        }
        auto* s = opened->release();  // never closed: the parent kills us
        s->claim_due_timers(t0 + 1, "doomed", lease, 10, [fd = fds[1]](auto r) {
            const char n = r.ok() ? static_cast<char>(r->size()) : char{-1};
            if (::write(fd, &n, 1) != 1) {
                _exit(3);
            }
        });
        for (;;) {
            ::pause();
        }
    }
    ::close(fds[1]);
    char claimed = 0;
    REQUIRE(::read(fds[0], &claimed, 1) == 1);
    ::close(fds[0]);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    REQUIRE(claimed == 2);

    auto s = open_with(backend);
    auto during = claim_sync(*s, t0 + 1 + lease - 1, "survivor");
    REQUIRE(during.ok());
    CHECK(during->empty());
    auto next = next_timer_sync(*s);
    REQUIRE(next.ok());
    CHECK(next->value_or(0) == t0 + 1 + lease);
    auto back = claim_sync(*s, t0 + 1 + lease, "survivor");
    REQUIRE(back.ok());
    REQUIRE(back->size() == 2);
    CHECK(ids_of(*back) == ids);
    for (const auto id : ids) {
        auto done = complete_sync(*s, id, "survivor");
        REQUIRE(done.ok());
        CHECK(*done == timer_completion::fired);
    }
    auto after = claim_sync(*s, t0 + 10 * lease, "survivor");
    REQUIRE(after.ok());
    CHECK(after->empty());
}

// ---- completions on the caller's executor ----

TEST_CASE_TEMPLATE_DEFINE("with options.completions every completion runs on that executor", B,
                          conformance_17) {
    B backend;
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    options o;
    o.completions = io.get_executor();
    auto opened = backend.open(o);
    REQUIRE(opened.ok());
    auto& s = **opened;
    const auto io_thread = std::this_thread::get_id();
    std::atomic<bool> ran{false};
    std::thread::id ran_on;
    s.ingest(make_report("posted"), make_case(), {make_planned()},
             [&](core::result<ingest_result> r) {
                 CHECK(r.ok());
                 ran_on = std::this_thread::get_id();
                 ran.store(true);
             });
    CHECK_FALSE(ran.load());  // only io.run() runs it
    REQUIRE(io.run_one() == 1);
    CHECK(ran.load());
    CHECK(ran_on == io_thread);

    // A throwing completion is caught there too, and the io_context keeps running.
    s.next_timer_due([](auto) { throw std::runtime_error("boom"); });
    REQUIRE(io.run_one() == 1);

    s.close();
    bool called = false;
    s.get_stats(0, [&](auto r) {
        called = true;
        CHECK_FALSE(r.ok());
        CHECK(r.err().code == "closed");
    });
    CHECK_FALSE(called);  // posted, not run on this thread at once
    REQUIRE(io.run_one() == 1);
    CHECK(called);
}

// ---- email intake (issue 8): dedup keys, case joins, details, raw, attachments, cursors ----

inline domain::report make_mail(const std::string& external_id, const std::string& dedup_key,
                                std::int64_t case_id = 0) {
    auto r = make_report(external_id);
    r.source = "mailbox";
    r.source_kind = "email";
    r.dedup_key = dedup_key;
    r.case_id = case_id;
    return r;
}

inline core::result<std::optional<std::vector<std::string>>> case_targets_sync(
    store& s, std::int64_t case_id) {
    return wait_for<std::optional<std::vector<std::string>>>(
        [&](auto done) { s.case_targets(case_id, std::move(done)); });
}

inline core::result<std::vector<std::string>> known_keys_sync(store& s, const std::string& source,
                                                              std::vector<std::string> keys) {
    return wait_for<std::vector<std::string>>(
        [&](auto done) { s.known_dedup_keys(source, std::move(keys), std::move(done)); });
}

TEST_CASE_TEMPLATE_DEFINE("a known dedup_key is a duplicate like a known external_id", B,
                          conformance_19) {
    B backend;
    auto s = open_with(backend);
    auto first = ingest_sync(*s, make_mail("imap:1:1", "mid-a"), {make_planned()});
    REQUIRE(first.ok());
    CHECK_FALSE(first->ids.duplicate);
    // Same Message-ID hash under a new external id (the mailbox was recreated): duplicate.
    auto again = ingest_sync(*s, make_mail("imap:2:7", "mid-a"), {make_planned("responder:bob")});
    REQUIRE(again.ok());
    CHECK(again->ids.duplicate);
    CHECK(again->ids.report_id == first->ids.report_id);
    CHECK(again->ids.case_id == first->ids.case_id);
    CHECK(again->notifications.empty());
    // Same external id, another dedup key: duplicate too (both keys count).
    auto same_id = ingest_sync(*s, make_mail("imap:1:1", "mid-b"), {make_planned()});
    REQUIRE(same_id.ok());
    CHECK(same_id->ids.duplicate);
    CHECK(same_id->ids.report_id == first->ids.report_id);
    // The dedup key is per source: another source may have it.
    auto other = make_mail("imap:1:1", "mid-a");
    other.source = "second-mailbox";
    auto elsewhere = ingest_sync(*s, other, {});
    REQUIRE(elsewhere.ok());
    CHECK_FALSE(elsewhere->ids.duplicate);
    // No dedup key: many reports without one are fine.
    for (const char* id : {"w-1", "w-2"}) {
        auto plain = ingest_sync(*s, make_report(id), {});
        REQUIRE(plain.ok());
        CHECK_FALSE(plain->ids.duplicate);
    }
    auto st = stats_sync(*s, 1'800'000'000'000);
    REQUIRE(st.ok());
    CHECK(st->reports == 4);
    CHECK(st->cases == 4);
    CHECK(st->pending == 1);
    auto loaded = s->load_report(first->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->dedup_key == "mid-a");
}

TEST_CASE_TEMPLATE_DEFINE("a report joins an existing case; a missing case opens a new one", B,
                          conformance_20) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto opened = ingest_sync(*s, make_mail("imap:1:1", "m1"),
                              {make_planned("responder:alice"), make_planned("responder:bob")});
    REQUIRE(opened.ok());
    CHECK_FALSE(opened->ids.joined);
    const auto case_id = opened->ids.case_id;

    auto reply =
        ingest_sync(*s, make_mail("imap:1:2", "m2", case_id), {make_planned("responder:alice")});
    REQUIRE(reply.ok());
    CHECK_FALSE(reply->ids.duplicate);
    CHECK(reply->ids.joined);
    CHECK(reply->ids.case_id == case_id);
    CHECK(reply->ids.report_id != opened->ids.report_id);
    REQUIRE(reply->notifications.size() == 1);
    CHECK(reply->notifications[0].case_id == case_id);
    auto loaded = s->load_report(reply->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->case_id == case_id);
    auto first = s->load_report(opened->ids.report_id);
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK((*first)->case_id == case_id);

    // A duplicate of the joined report names its case, not a new one.
    auto dup = ingest_sync(*s, make_mail("imap:9:9", "m2"), {});
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);
    CHECK(dup->ids.report_id == reply->ids.report_id);
    CHECK(dup->ids.case_id == case_id);

    // A case id that names no case: a new case, never an error. The next free id too.
    for (const std::int64_t missing : {case_id + 1, std::int64_t{9'999}}) {
        auto stray = ingest_sync(*s,
                                 make_mail("imap:3:" + std::to_string(missing),
                                           "stray-" + std::to_string(missing), missing),
                                 {make_planned()});
        REQUIRE(stray.ok());
        CHECK_FALSE(stray->ids.duplicate);
        CHECK_FALSE(stray->ids.joined);
        CHECK(stray->ids.case_id > 0);
        CHECK(stray->ids.case_id != case_id);
        REQUIRE(stray->notifications.size() == 1);
        CHECK(stray->notifications[0].case_id == stray->ids.case_id);
    }
    auto st = stats_sync(*s, clock.now_ms());
    REQUIRE(st.ok());
    CHECK(st->reports == 4);
    CHECK(st->cases == 3);
    // A later new case still gets a fresh id.
    auto fresh = ingest_sync(*s, make_report("after"), {});
    REQUIRE(fresh.ok());
    CHECK_FALSE(fresh->ids.joined);
    auto st2 = stats_sync(*s, clock.now_ms());
    REQUIRE(st2.ok());
    CHECK(st2->cases == 4);
}

TEST_CASE_TEMPLATE_DEFINE("case_targets: distinct, in first-notified order; nullopt for none", B,
                          conformance_21) {
    B backend;
    auto s = open_with(backend);
    auto missing = case_targets_sync(*s, 42);
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    auto opened = ingest_sync(*s, make_mail("imap:1:1", "a"),
                              {make_planned("responder:bob"), make_planned("responder:alice"),
                               make_planned("responder:bob", "ops-email", 1)});
    REQUIRE(opened.ok());
    const auto case_id = opened->ids.case_id;
    // A delivered and a dead notification count as much as a pending one.
    attempt_result delivered;
    delivered.outcome = attempt_result::kind::delivered;
    REQUIRE(attempt_sync(*s, opened->notifications[0].id, delivered).ok());
    attempt_result dead;
    dead.outcome = attempt_result::kind::failed;
    dead.dead_letter = true;
    REQUIRE(attempt_sync(*s, opened->notifications[1].id, dead).ok());
    auto joined = ingest_sync(*s, make_mail("imap:1:2", "b", case_id),
                              {make_planned("partner:ngo"), make_planned("responder:alice")});
    REQUIRE(joined.ok());
    REQUIRE(joined->ids.joined);
    // Another case's targets stay out.
    REQUIRE(ingest_sync(*s, make_mail("imap:1:3", "c"), {make_planned("responder:carol")}).ok());

    auto targets = case_targets_sync(*s, case_id);
    REQUIRE(targets.ok());
    REQUIRE(targets->has_value());
    CHECK(**targets == std::vector<std::string>{"responder:bob", "responder:alice", "partner:ngo"});

    // A case without notifications: an empty list, not nullopt.
    auto quiet = ingest_sync(*s, make_mail("imap:1:4", "d"), {});
    REQUIRE(quiet.ok());
    auto none = case_targets_sync(*s, quiet->ids.case_id);
    REQUIRE(none.ok());
    REQUIRE(none->has_value());
    CHECK((*none)->empty());
}

TEST_CASE_TEMPLATE_DEFINE("cursors: nullopt, round trip, replace, per source, durable", B,
                          conformance_22) {
    B backend;
    auto s = open_with(backend);
    auto load = [&](const std::string& source) {
        return wait_for<std::optional<std::string>>(
            [&](auto done) { s->load_cursor(source, std::move(done)); });
    };
    auto save = [&](const std::string& source, const std::string& value) {
        return wait_for<core::ok_t>(
            [&](auto done) { s->save_cursor(source, value, std::move(done)); });
    };
    auto none = load("mailbox");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    REQUIRE(save("mailbox", R"({"uidvalidity":7,"uid":10})").ok());
    REQUIRE(save("other", R"({"uidvalidity":1,"uid":1})").ok());
    auto first = load("mailbox");
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK(**first == R"({"uidvalidity":7,"uid":10})");
    REQUIRE(save("mailbox", R"({"uidvalidity":8,"uid":2})").ok());
    s.reset();
    s = open_with(backend);
    auto replaced = load("mailbox");
    REQUIRE(replaced.ok());
    REQUIRE(replaced->has_value());
    CHECK(**replaced == R"({"uidvalidity":8,"uid":2})");
    auto other = load("other");
    REQUIRE(other.ok());
    REQUIRE(other->has_value());
    CHECK(**other == R"({"uidvalidity":1,"uid":1})");
}

TEST_CASE_TEMPLATE_DEFINE("known_dedup_keys: per source, in order, over many statements", B,
                          conformance_23) {
    B backend;
    auto s = open_with(backend);
    // 1500 stored keys, more than any one statement takes.
    std::vector<std::string> stored;
    for (int i = 0; i < 1500; ++i) {
        stored.push_back("key-" + std::to_string(i));
    }
    {
        std::vector<std::shared_ptr<std::promise<core::result<ingest_result>>>> waits;
        for (int i = 0; i < 1500; ++i) {
            auto p = std::make_shared<std::promise<core::result<ingest_result>>>();
            waits.push_back(p);
            s->ingest(make_mail("imap:1:" + std::to_string(i), stored[static_cast<std::size_t>(i)]),
                      make_case(), {}, [p](core::result<ingest_result> r) { p->set_value(r); });
        }
        for (auto& w : waits) {
            REQUIRE(w->get_future().get().ok());
        }
    }
    auto other = make_mail("imap:1:x", "other-source-key");
    other.source = "second-mailbox";
    REQUIRE(ingest_sync(*s, other, {}).ok());

    // Ask for every odd stored key, interleaved with unknown ones and one twice.
    std::vector<std::string> ask;
    std::vector<std::string> expected;
    for (int i = 1; i < 1500; i += 2) {
        ask.push_back("new-" + std::to_string(i));
        ask.push_back(stored[static_cast<std::size_t>(i)]);
        expected.push_back(stored[static_cast<std::size_t>(i)]);
    }
    ask.push_back(stored[1]);
    ask.push_back("other-source-key");
    ask.push_back("");
    REQUIRE(ask.size() > 1000);
    auto known = known_keys_sync(*s, "mailbox", ask);
    REQUIRE(known.ok());
    CHECK(known->size() == 750);
    CHECK(*known == expected);
    auto empty = known_keys_sync(*s, "mailbox", {});
    REQUIRE(empty.ok());
    CHECK(empty->empty());
    auto theirs = known_keys_sync(*s, "second-mailbox", {"other-source-key", "key-1"});
    REQUIRE(theirs.ok());
    CHECK(*theirs == std::vector<std::string>{"other-source-key"});
}

inline std::vector<domain::attachment> sample_attachments() {
    domain::attachment jpeg;
    jpeg.file_name = "фото задержания.jpg";
    jpeg.content_type = "image/jpeg";
    jpeg.bytes = std::string("\xff\xd8\xff\xe0\0\0JFIF\0\x01\x02", 13) + std::string(5000, '\0');
    jpeg.size = jpeg.bytes.size();
    jpeg.sha256 = std::string(64, 'a');
    jpeg.kept = true;
    domain::attachment pdf;  // over the keep limit: facts only
    pdf.file_name = "протокол.pdf";
    pdf.content_type = "application/pdf";
    pdf.size = 30'000'000;
    pdf.sha256 = std::string(64, 'b');
    domain::attachment nameless;
    nameless.content_type = "application/octet-stream";
    nameless.bytes = std::string("\0", 1);
    nameless.size = 1;
    nameless.sha256 = std::string(64, 'c');
    nameless.kept = true;
    return {jpeg, pdf, nameless};
}

inline void check_same(const std::vector<domain::attachment>& got,
                       const std::vector<domain::attachment>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i].file_name == want[i].file_name);
        CHECK(got[i].content_type == want[i].content_type);
        CHECK(got[i].size == want[i].size);
        CHECK(got[i].sha256 == want[i].sha256);
        CHECK(got[i].bytes == want[i].bytes);
        CHECK(got[i].kept == want[i].kept);
    }
}

TEST_CASE_TEMPLATE_DEFINE("details, raw and attachments round-trip, binary bytes included", B,
                          conformance_24) {
    B backend;
    auto s = open_with(backend);
    auto mail = make_mail("imap:1:1", "m");
    mail.details = {{"sender_name", "Иван"},
                    {"message_id", "<a@b>"},
                    {"references", {"<x@y>", "<z@w>"}},
                    {"warnings", nlohmann::json::array()}};
    mail.raw =
        std::string("From: a@b\r\nSubject: =?koi8-r?B?8NLP18XSy8E=?=\r\n\r\n\0\xff\xfe body", 51);
    mail.attachments = sample_attachments();
    auto r = ingest_sync(*s, mail, {make_planned()});
    REQUIRE(r.ok());
    // Another report's attachments stay apart.
    auto second = make_mail("imap:1:2", "n");
    second.attachments = {sample_attachments()[1]};
    auto r2 = ingest_sync(*s, second, {});
    REQUIRE(r2.ok());

    s.reset();
    s = open_with(backend);
    auto loaded = s->load_report(r->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->details == mail.details);
    CHECK((*loaded)->raw == mail.raw);
    CHECK((*loaded)->raw.size() == 51);
    CHECK((*loaded)->attachments.empty());  // attachments_for_report reads them
    auto files = s->attachments_for_report(r->ids.report_id);
    REQUIRE(files.ok());
    check_same(*files, mail.attachments);
    auto files2 = s->attachments_for_report(r2->ids.report_id);
    REQUIRE(files2.ok());
    check_same(*files2, second.attachments);

    // A report without any: empty details object, empty raw, no attachments.
    auto plain = ingest_sync(*s, make_report("plain"), {});
    REQUIRE(plain.ok());
    auto bare = s->load_report(plain->ids.report_id);
    REQUIRE(bare.ok());
    REQUIRE(bare->has_value());
    CHECK((*bare)->details == nlohmann::json::object());
    CHECK((*bare)->raw.empty());
    CHECK((*bare)->dedup_key.empty());
    CHECK((*bare)->case_id == plain->ids.case_id);
    auto none = s->attachments_for_report(plain->ids.report_id);
    REQUIRE(none.ok());
    CHECK(none->empty());
    auto unknown = s->attachments_for_report(999);
    REQUIRE(unknown.ok());
    CHECK(unknown->empty());

    // A duplicate writes no second set of attachments.
    auto dup = ingest_sync(*s, mail, {});
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);
    auto after = s->attachments_for_report(r->ids.report_id);
    REQUIRE(after.ok());
    CHECK(after->size() == 3);
}

TEST_CASE_TEMPLATE_DEFINE("retention purges details, raw and attachments; keeps sizes and count", B,
                          conformance_25) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto mail = make_mail("imap:1:1", "m");
    mail.received_at = 1'700'000'000'000;
    mail.details = {{"sender_name", "Иван"}};
    mail.raw = "From: someone\r\n\r\nbody";
    mail.attachments = sample_attachments();
    auto old = ingest_sync(*s, mail, {make_planned()});
    REQUIRE(old.ok());
    auto young = make_mail("imap:1:2", "n");
    young.received_at = clock.now_ms();
    young.raw = "young raw";
    young.attachments = {sample_attachments()[0]};
    auto kept = ingest_sync(*s, young, {});
    REQUIRE(kept.ok());

    purge_batch b;
    b.received_before = clock.now_ms() - 1000;
    auto p = wait_for<purge_progress>([&](auto done) { s->purge_contents(b, std::move(done)); });
    REQUIRE(p.ok());
    CHECK(p->reports == 1);

    auto loaded = s->load_report(old->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->details == nlohmann::json::object());
    CHECK((*loaded)->raw.empty());
    CHECK((*loaded)->dedup_key == "m");  // a re-fetched mail is still a duplicate
    auto files = s->attachments_for_report(old->ids.report_id);
    REQUIRE(files.ok());
    REQUIRE(files->size() == 3);
    const auto want = sample_attachments();
    for (std::size_t i = 0; i < files->size(); ++i) {
        CAPTURE(i);
        CHECK((*files)[i].file_name.empty());
        CHECK((*files)[i].content_type.empty());
        CHECK((*files)[i].sha256.empty());
        CHECK((*files)[i].bytes.empty());
        CHECK_FALSE((*files)[i].kept);
        CHECK((*files)[i].size == want[i].size);
    }
    auto dup = ingest_sync(*s, mail, {});
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);

    auto young_loaded = s->load_report(kept->ids.report_id);
    REQUIRE(young_loaded.ok());
    REQUIRE(young_loaded->has_value());
    CHECK((*young_loaded)->raw == "young raw");
    auto young_files = s->attachments_for_report(kept->ids.report_id);
    REQUIRE(young_files.ok());
    check_same(*young_files, young.attachments);
}

inline new_sms_part make_part(const std::string& group, unsigned part, unsigned total,
                              const std::string& text, std::int64_t timeout_at = 5'000) {
    new_sms_part p;
    p.source = "sms";
    p.group_key = group;
    p.part = part;
    p.total = total;
    p.text = text;
    p.message_id = "m" + std::to_string(part);
    p.received_at = 1'000 + part;
    p.timeout_at = timeout_at;
    p.meta = R"({"sender":"+79001234567"})";
    return p;
}

inline core::result<sms_part_added> add_part_sync(store& s, new_sms_part p) {
    return wait_for<sms_part_added>(
        [&](auto done) { s.add_sms_part(std::move(p), std::move(done)); });
}

inline core::result<std::vector<sms_part>> take_parts_sync(store& s, const std::string& group) {
    return wait_for<std::vector<sms_part>>(
        [&](auto done) { s.take_sms_parts("sms", group, std::move(done)); });
}

TEST_CASE_TEMPLATE_DEFINE("sms parts: held in any order, repeats are no-ops, one timer, durable", B,
                          conformance_26) {
    B backend;
    auto s = open_with(backend);
    const auto group = s->sms_key("parts", "+79001234567\n17\n3");
    CHECK(group == s->sms_key("parts", "+79001234567\n17\n3"));
    CHECK(group != s->sms_key("optout", "+79001234567\n17\n3"));
    CHECK(group.find("79001234567") == std::string::npos);
    // Exact bytes at the joins: leading and trailing spaces are the parts' own.
    auto third = add_part_sync(*s, make_part(group, 3, 3, " end "));
    REQUIRE(third.ok());
    CHECK_FALSE(third->duplicate);
    CHECK(third->parts == std::vector<unsigned>{3});
    CHECK(third->timer_id > 0);
    CHECK_FALSE(third->complete());
    auto first = add_part_sync(*s, make_part(group, 1, 3, "Привет, "));
    REQUIRE(first.ok());
    CHECK(first->timer_id == 0);  // the group's timer was added with its first arrival
    CHECK(first->parts == std::vector<unsigned>{1, 3});
    auto again = add_part_sync(*s, make_part(group, 1, 3, "other text"));
    REQUIRE(again.ok());
    CHECK(again->duplicate);
    CHECK(again->parts == std::vector<unsigned>{1, 3});
    // Reopened: what was held is still there.
    s.reset();
    s = open_with(backend);
    CHECK(s->sms_key("parts", "+79001234567\n17\n3") == group);
    auto second = add_part_sync(*s, make_part(group, 2, 3, "мир"));
    REQUIRE(second.ok());
    CHECK(second->complete());
    auto parts = take_parts_sync(*s, group);
    REQUIRE(parts.ok());
    REQUIRE(parts->size() == 3);
    CHECK((*parts)[0].text == "Привет, ");
    CHECK((*parts)[1].text == "мир");
    CHECK((*parts)[2].text == " end ");
    CHECK((*parts)[2].part == 3);
    CHECK((*parts)[2].total == 3);
    CHECK((*parts)[2].message_id == "m3");
    CHECK((*parts)[2].meta == R"({"sender":"+79001234567"})");
    // One timer for the group, with ids only in its payload.
    auto due = claim_sync(*s, 10'000, "t");
    REQUIRE(due.ok());
    REQUIRE(due->size() == 1);
    CHECK((*due)[0].kind == "sms_parts");
    CHECK((*due)[0].subject == "sms:sms:" + group);
    CHECK((*due)[0].due_at == 5'000);
    CHECK((*due)[0].payload.find(group) != std::string::npos);
    CHECK((*due)[0].payload.find("Привет") == std::string::npos);
    // Deleting (after the joined report committed) cancels the timer too.
    auto deleted = wait_for<std::int64_t>(
        [&](auto done) { s->delete_sms_parts("sms", group, std::move(done)); });
    REQUIRE(deleted.ok());
    CHECK(*deleted == 3);
    auto gone = take_parts_sync(*s, group);
    REQUIRE(gone.ok());
    CHECK(gone->empty());
    auto settled = complete_sync(*s, (*due)[0].id, "t");
    REQUIRE(settled.ok());
    CHECK(*settled == timer_completion::cancelled);
    // Bad parts are refused.
    CHECK_FALSE(add_part_sync(*s, make_part(group, 0, 3, "x")).ok());
    CHECK_FALSE(add_part_sync(*s, make_part(group, 4, 3, "x")).ok());
    CHECK_FALSE(add_part_sync(*s, make_part(group, 1, 1, "x")).ok());
    CHECK_FALSE(add_part_sync(*s, make_part("", 1, 2, "x")).ok());
    // Groups are apart.
    auto other = add_part_sync(*s, make_part(s->sms_key("parts", "x"), 1, 2, "a"));
    REQUIRE(other.ok());
    CHECK(other->parts == std::vector<unsigned>{1});
    CHECK(other->timer_id > 0);
}

TEST_CASE_TEMPLATE_DEFINE("sms opt-outs: set, repeat, list, clear, durable", B, conformance_27) {
    B backend;
    auto s = open_with(backend);
    auto set = [&](const std::string& n, const std::string& who) {
        return wait_for<bool>([&](auto done) { s->set_sms_opt_out(n, who, std::move(done)); });
    };
    auto clear = [&](const std::string& n, const std::string& who) {
        return wait_for<bool>([&](auto done) { s->clear_sms_opt_out(n, who, std::move(done)); });
    };
    auto list = [&] {
        return wait_for<std::vector<sms_opt_out>>(
            [&](auto done) { s->list_sms_opt_outs(std::move(done)); });
    };
    auto none = list();
    REQUIRE(none.ok());
    CHECK(none->empty());
    auto a = set("+79001112233", "alice");
    REQUIRE(a.ok());
    CHECK(*a);
    auto repeat = set("+79001112233", "alice");
    REQUIRE(repeat.ok());
    CHECK_FALSE(*repeat);
    REQUIRE(set("+447700900123", "bob").ok());
    s.reset();
    s = open_with(backend);
    auto both = list();
    REQUIRE(both.ok());
    REQUIRE(both->size() == 2);
    CHECK((*both)[0].number == "+79001112233");
    CHECK((*both)[0].responder == "alice");
    CHECK((*both)[1].number == "+447700900123");
    auto cleared = clear("+79001112233", "alice");
    REQUIRE(cleared.ok());
    CHECK(*cleared);
    auto twice = clear("+79001112233", "alice");
    REQUIRE(twice.ok());
    CHECK_FALSE(*twice);
    auto one = list();
    REQUIRE(one.ok());
    REQUIRE(one->size() == 1);
    CHECK((*one)[0].responder == "bob");
}

TEST_CASE_TEMPLATE_DEFINE("silences: add, list live or all, expire once, bad input, durable", B,
                          conformance_28) {
    B backend;
    core::manual_clock clock(1'000'000);
    auto s = open_with(backend, nullptr, &clock);
    const auto add = [&](new_silence n) {
        return wait_for<silence>([&](auto done) { s->add_silence(std::move(n), std::move(done)); });
    };
    const auto list = [&](bool all) {
        return wait_for<std::vector<silence>>(
            [&](auto done) { s->list_silences(all, std::move(done)); });
    };
    const auto expire = [&](std::int64_t id, const std::string& by) {
        return wait_for<silence_expiry>(
            [&](auto done) { s->expire_silence(id, by, std::move(done)); });
    };
    const auto make = [](std::int64_t from, std::int64_t to) {
        new_silence n;
        n.matchers = {R"(sender = "+79001234567")", R"(text =~ "тест")"};
        n.starts_at = from;
        n.ends_at = to;
        n.author = "responder:alice";
        n.comment = "drill at the office, \"quoted\" \xd0\xbf\n";
        return n;
    };
    auto none = list(true);
    REQUIRE(none.ok());
    CHECK(none->empty());

    auto a = add(make(1'000'000, 2'000'000));  // active now
    REQUIRE(a.ok());
    CHECK(a->id > 0);
    CHECK(a->matchers == make(0, 1).matchers);
    CHECK(a->comment == make(0, 1).comment);
    CHECK(a->author == "responder:alice");
    CHECK(a->created_at == 1'000'000);
    CHECK(a->expired_at == 0);
    CHECK(a->active_at(1'000'000));
    CHECK_FALSE(a->active_at(2'000'000));  // [starts_at, ends_at)
    CHECK_FALSE(a->active_at(999'999));
    auto future = add(make(3'000'000, 4'000'000));
    REQUIRE(future.ok());
    CHECK(future->id > a->id);
    auto ended = add(make(500'000, 1'000'001));  // over once the clock moves on

    // Bad input adds nothing.
    for (auto bad : {make(2, 2), make(3, 2)}) {
        const auto r = add(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "invalid_argument");
    }
    auto no_matchers = make(1, 2);
    no_matchers.matchers.clear();
    CHECK(add(no_matchers).err().code == "invalid_argument");
    auto too_many = make(1, 2);
    too_many.matchers.assign(max_silence_matchers + 1, "text = \"x\"");
    CHECK(add(too_many).err().code == "invalid_argument");
    auto nobody = make(1, 2);
    nobody.author.clear();
    CHECK(add(nobody).err().code == "invalid_argument");
    auto just_enough = make(1'000'000, 5'000'000);
    just_enough.matchers.assign(max_silence_matchers, "text = \"x\"");
    auto many = add(just_enough);
    REQUIRE(many.ok());
    CHECK(many->matchers.size() == max_silence_matchers);

    clock.set(1'500'000);
    auto live = list(false);
    REQUIRE(live.ok());
    std::vector<std::int64_t> ids;
    for (const auto& x : *live) {
        ids.push_back(x.id);
    }
    CHECK(ids == std::vector<std::int64_t>{a->id, future->id, many->id});  // not the ended one
    auto every = list(true);
    REQUIRE(every.ok());
    CHECK(every->size() == 4);

    // Expire: once; the second time changes nothing; an ended one is left as it is.
    auto x = expire(a->id, "admin:ops");
    REQUIRE(x.ok());
    CHECK(x->changed);
    CHECK(x->record.id == a->id);
    CHECK(x->record.expired_at == 1'500'000);
    CHECK(x->record.expired_by == "admin:ops");
    CHECK_FALSE(x->record.active_at(1'500'000));
    clock.set(1'600'000);
    auto again = expire(a->id, "responder:bob");
    REQUIRE(again.ok());
    CHECK_FALSE(again->changed);
    CHECK(again->record.expired_at == 1'500'000);
    CHECK(again->record.expired_by == "admin:ops");
    REQUIRE(ended.ok());
    auto over = expire(ended->id, "admin:ops");
    REQUIRE(over.ok());
    CHECK_FALSE(over->changed);
    CHECK(over->record.expired_at == 0);
    CHECK(expire(9'999, "admin:ops").err().code == "not_found");
    CHECK(expire(future->id, "").err().code == "invalid_argument");

    // Durable.
    s.reset();
    s = open_with(backend, nullptr, &clock);
    auto after = list(false);
    REQUIRE(after.ok());
    REQUIRE(after->size() == 2);
    CHECK((*after)[0].id == future->id);
    CHECK((*after)[0].comment == make(0, 1).comment);
    auto all_after = list(true);
    REQUIRE(all_after.ok());
    REQUIRE(all_after->size() == 4);
    CHECK((*all_after)[0].expired_by == "admin:ops");
}

// ---- cases: state, actions, escalation (schema 8) ----

inline core::result<case_action_result> act_sync(store& s, case_action a) {
    return wait_for<case_action_result>(
        [&](auto done) { s.act_on_case(std::move(a), std::move(done)); });
}

inline core::result<std::optional<case_view>> get_case_sync(store& s, std::int64_t id) {
    return wait_for<std::optional<case_view>>([&](auto done) { s.get_case(id, std::move(done)); });
}

inline case_action action(case_action::kind k, std::int64_t case_id,
                          const std::string& actor = "responder:alice",
                          const std::string& channel = "sms") {
    case_action a;
    a.what = k;
    a.case_id = case_id;
    a.actor = actor;
    a.channel = channel;
    return a;
}

TEST_CASE_TEMPLATE_DEFINE("cases: ack cancels the escalation, resolve every timer, notices once", B,
                          conformance_40) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto c = make_case();
    c.policy = "rapid";
    auto r = wait_for<ingest_result>([&](auto done) {
        s->ingest(make_report("esc-1"), c, {make_planned()},
                  {make_timer(clock.now_ms() + 60'000, "escalation_step", ""),
                   make_timer(clock.now_ms() + 90'000, "checkin_deadline", "")},
                  std::move(done));
    });
    REQUIRE(r.ok());
    const auto id = r->ids.case_id;
    auto view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    REQUIRE(view->has_value());
    CHECK((*view)->record.state == case_state::open);
    CHECK((*view)->record.policy == "rapid");
    CHECK((*view)->record.reports == 1);
    CHECK((*view)->targets == std::vector<std::string>{"responder:alice"});
    REQUIRE((*view)->first_report.has_value());
    CHECK((*view)->first_report->external_id == "esc-1");

    clock.advance(5000);
    auto ack = action(case_action::kind::acknowledge, id);
    ack.notices = {make_planned("responder:boris")};
    ack.timers = {make_timer(clock.now_ms() + 3'600'000, "ack_timeout", "")};
    auto acked = act_sync(*s, ack);
    REQUIRE(acked.ok());
    CHECK(acked->changed);
    CHECK(acked->before == case_state::open);
    CHECK(acked->after == case_state::acknowledged);
    CHECK(acked->cancelled_timers == 1);  // the step, not the check-in deadline
    CHECK(acked->notices.size() == 1);
    CHECK(acked->timer_ids.size() == 1);
    // Acknowledging again changes nothing and sends nothing.
    auto again = act_sync(*s, ack);
    REQUIRE(again.ok());
    CHECK_FALSE(again->changed);
    CHECK(again->notices.empty());
    CHECK(again->timer_ids.empty());

    auto resolved = act_sync(*s, action(case_action::kind::resolve, id, "responder:boris", "api"));
    REQUIRE(resolved.ok());
    CHECK(resolved->changed);
    CHECK(resolved->after == case_state::resolved);
    CHECK(resolved->cancelled_timers == 2);  // ack_timeout and checkin_deadline
    auto late_ack = act_sync(*s, action(case_action::kind::acknowledge, id));
    REQUIRE(late_ack.ok());
    CHECK_FALSE(late_ack->changed);
    auto none = claim_sync(*s, clock.now_ms() + 10'000'000, "x");
    REQUIRE(none.ok());
    CHECK(none->empty());

    view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    CHECK((*view)->record.acked_by == "responder:alice");
    CHECK((*view)->record.resolved_by == "responder:boris");
    CHECK((*view)->record.resolved_at == clock.now_ms());
    std::vector<std::string> kinds;
    for (const auto& e : (*view)->events) {
        kinds.push_back(e.kind);
    }
    CHECK(kinds ==
          std::vector<std::string>{"report_received", "case_acknowledged", "case_resolved"});
    CHECK((*view)->events.at(1).detail.value("channel", "") == "sms");
    CHECK((*view)->events.at(1).actor == "responder:alice");

    auto reopened = act_sync(*s, action(case_action::kind::reopen, id, "cli", "cli"));
    REQUIRE(reopened.ok());
    CHECK(reopened->after == case_state::open);
    auto missing = act_sync(*s, action(case_action::kind::acknowledge, id + 1000));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.err().code == "not_found");
}

TEST_CASE_TEMPLATE_DEFINE("cases: notes are kept sealed and shown; a once key works once", B,
                          conformance_41) {
    B backend;
    auto s = open_with(backend);
    auto r = ingest_sync(*s, make_report("note-1"));
    REQUIRE(r.ok());
    const auto id = r->ids.case_id;
    auto note = action(case_action::kind::note, id, "responder:alice", "email");
    note.note = "Едем, будем через 20 минут";
    auto noted = act_sync(*s, note);
    REQUIRE(noted.ok());
    CHECK(noted->changed);
    CHECK(noted->after == case_state::open);
    auto view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    REQUIRE((*view)->events.size() == 2);
    CHECK((*view)->events.at(1).kind == "case_note");
    CHECK((*view)->events.at(1).detail.value("note", "") == note.note);

    auto link = action(case_action::kind::acknowledge, id, "responder:alice", "link");
    link.once_key = "hash-of-token";
    link.note = "on my way";  // a remark with the change: kept sealed, shown with its event
    auto first = act_sync(*s, link);
    REQUIRE(first.ok());
    CHECK(first->changed);
    view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    REQUIRE((*view)->events.size() == 3);
    CHECK((*view)->events.at(2).kind == "case_acknowledged");
    CHECK((*view)->events.at(2).detail.value("note", "") == "on my way");
    link.note.clear();
    auto second = act_sync(*s, link);
    REQUIRE_FALSE(second.ok());
    CHECK(second.err().code == "used");
    // A key used on a case that did not change is still used.
    link.once_key = "another";
    link.notices = {make_planned("responder:bob")};              // not written: no change
    link.notices_unchanged = {make_planned("responder:alice")};  // the "already" answer
    auto unchanged = act_sync(*s, link);
    REQUIRE(unchanged.ok());
    CHECK_FALSE(unchanged->changed);
    REQUIRE(unchanged->notices.size() == 1);
    CHECK(unchanged->notices[0].target == "responder:alice");
    CHECK(unchanged->notices[0].case_id == id);
    link.notices.clear();
    link.notices_unchanged.clear();
    auto reused = act_sync(*s, link);
    REQUIRE_FALSE(reused.ok());
    CHECK(reused.err().code == "used");

    // Retention overwrites notes and remarks written before its cut, like report text.
    purge_batch b;
    b.received_before = std::numeric_limits<std::int64_t>::max() / 2;
    auto p = wait_for<purge_progress>([&](auto done) { s->purge_contents(b, std::move(done)); });
    REQUIRE(p.ok());
    view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    REQUIRE((*view)->events.size() >= 3);
    CHECK((*view)->events.at(1).kind == "case_note");
    CHECK((*view)->events.at(1).detail.value("note", "x").empty());
    CHECK((*view)->events.at(2).detail.value("note", "x").empty());
}

TEST_CASE_TEMPLATE_DEFINE("cases: fire_timer fires once, never after an ack, writes its effects", B,
                          conformance_42) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    auto r = wait_for<ingest_result>([&](auto done) {
        s->ingest(make_report("fire-1"), make_case(), {make_planned()},
                  {make_timer(clock.now_ms(), "escalation_step", ""),
                   make_timer(clock.now_ms(), "escalation_step", "")},
                  std::move(done));
    });
    REQUIRE(r.ok());
    const auto id = r->ids.case_id;
    auto claimed = claim_sync(*s, clock.now_ms(), "me");
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 2);
    const auto fire = [&](std::int64_t timer_id) {
        timer_firing f;
        f.timer_id = timer_id;
        f.owner = "me";
        f.case_id = id;
        f.only_if = case_state::open;
        f.planned = {make_planned("partner:ngo")};
        f.timers = {make_timer(clock.now_ms() + 60'000, "escalation_step", "")};
        f.audit_kind = "escalation_step";
        f.audit_detail = {{"step", 2}};
        return wait_for<firing_result>([&](auto done) { s->fire_timer(f, std::move(done)); });
    };
    auto fired = fire(claimed->at(0).id);
    REQUIRE(fired.ok());
    CHECK(fired->completion == timer_completion::fired);
    CHECK(fired->applied);
    CHECK(fired->notifications.size() == 1);
    CHECK(fired->timer_ids.size() == 1);
    auto twice = fire(claimed->at(0).id);
    REQUIRE(twice.ok());
    CHECK(twice->completion == timer_completion::already_fired);
    CHECK_FALSE(twice->applied);
    CHECK(twice->notifications.empty());

    REQUIRE(act_sync(*s, action(case_action::kind::acknowledge, id)).ok());
    // The second claimed timer was cancelled by the ack: it fires nothing.
    auto after_ack = fire(claimed->at(1).id);
    REQUIRE(after_ack.ok());
    CHECK(after_ack->completion == timer_completion::cancelled);
    CHECK_FALSE(after_ack->applied);
    auto view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    CHECK((*view)->targets == std::vector<std::string>{"responder:alice", "partner:ngo"});
    int steps = 0;
    for (const auto& e : (*view)->events) {
        steps += e.kind == "escalation_step" ? 1 : 0;
    }
    CHECK(steps == 1);

    // only_if holds the effects back (the timer still settles); set_state re-opens.
    auto t = add_timers_sync(
        *s, {make_timer(clock.now_ms(), "ack_timeout", "case:" + std::to_string(id))});
    REQUIRE(t.ok());
    auto c2 = claim_sync(*s, clock.now_ms(), "me");
    REQUIRE(c2.ok());
    REQUIRE(c2->size() == 1);
    timer_firing reopen;
    reopen.timer_id = c2->at(0).id;
    reopen.owner = "me";
    reopen.case_id = id;
    reopen.only_if = case_state::acknowledged;
    reopen.set_state = case_state::open;
    reopen.audit_kind = "case_reopened";
    auto re = wait_for<firing_result>([&](auto done) { s->fire_timer(reopen, std::move(done)); });
    REQUIRE(re.ok());
    CHECK(re->applied);
    view = get_case_sync(*s, id);
    REQUIRE(view.ok());
    CHECK((*view)->record.state == case_state::open);
}

TEST_CASE_TEMPLATE_DEFINE("cases: list by state and target, newest first, paged; groups", B,
                          conformance_43) {
    B backend;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_with(backend, nullptr, &clock);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 5; ++i) {
        auto c = make_case();
        if (i < 2) {
            c.group_key = "g1";
            c.group_until = clock.now_ms() + 60'000;
        }
        auto r = ingest_sync(*s, make_report("list-" + std::to_string(i)),
                             {make_planned(i % 2 == 0 ? "responder:alice" : "responder:boris")}, c);
        REQUIRE(r.ok());
        ids.push_back(r->ids.case_id);
    }
    // The second report with key g1 joined the first one's case at the store.
    CHECK(ids[1] == ids[0]);
    auto g = wait_for<std::optional<std::int64_t>>(
        [&](auto done) { s->find_group_case("g1", clock.now_ms(), std::move(done)); });
    REQUIRE(g.ok());
    CHECK(*g == std::optional<std::int64_t>(ids[0]));
    auto expired = wait_for<std::optional<std::int64_t>>(
        [&](auto done) { s->find_group_case("g1", clock.now_ms() + 60'000, std::move(done)); });
    REQUIRE(expired.ok());
    CHECK_FALSE(expired->has_value());
    REQUIRE(act_sync(*s, action(case_action::kind::acknowledge, ids[4])).ok());
    const auto list = [&](case_query q) {
        auto r = wait_for<std::vector<case_record>>(
            [&](auto done) { s->list_cases(q, std::move(done)); });
        REQUIRE(r.ok());
        std::vector<std::int64_t> out;
        for (const auto& c : *r) {
            out.push_back(c.id);
        }
        return out;
    };
    CHECK(list({}) == std::vector<std::int64_t>{ids[4], ids[3], ids[2], ids[0]});
    case_query open;
    open.state = case_state::open;
    CHECK(list(open) == std::vector<std::int64_t>{ids[3], ids[2], ids[0]});
    case_query alice;
    alice.target = "responder:alice";
    CHECK(list(alice) == std::vector<std::int64_t>{ids[4], ids[2], ids[0]});
    case_query page;
    page.limit = 2;
    page.before_id = ids[3];
    CHECK(list(page) == std::vector<std::int64_t>{ids[2], ids[0]});
    auto view = get_case_sync(*s, ids[0]);
    REQUIRE(view.ok());
    CHECK((*view)->record.reports == 2);
    CHECK_FALSE(get_case_sync(*s, 999'999)->has_value());
}

// ---- check-ins (schema 10) ----

TEST_CASE_TEMPLATE_DEFINE("check-ins: start, check in, stop move one timer; durable; bad input", B,
                          conformance_50) {
    B backend;
    core::manual_clock clock(10'000'000);
    auto s = open_with(backend, nullptr, &clock);
    const auto change = [&](checkin_change::kind k, const std::string& id,
                            std::int64_t interval = 0, std::int64_t grace = 0) {
        checkin_change c;
        c.what = k;
        c.id = id;
        c.interval_ms = interval;
        c.grace_ms = grace;
        c.actor = "checkin:" + id;
        c.channel = "sms";
        return wait_for<checkin_result>(
            [&](auto done) { s->change_checkin(std::move(c), std::move(done)); });
    };
    const auto list = [&] {
        return wait_for<std::vector<checkin_state>>(
            [&](auto done) { s->list_checkins(std::move(done)); });
    };
    const auto live_due = [&](std::int64_t at) {
        // The live checkin_due timers due by `at` (a claim; released by the test's end).
        auto c = claim_sync(*s, at, "probe", 1);
        REQUIRE(c.ok());
        return *c;
    };
    using kind = checkin_change::kind;
    auto none = list();
    REQUIRE(none.ok());
    CHECK(none->empty());

    // An OK before any start is recorded but counts for nothing (no timer).
    auto early = change(kind::checkin, "dana", 0, 500);
    REQUIRE(early.ok());
    CHECK_FALSE(early->changed);
    CHECK_FALSE(early->state.active);
    CHECK(early->state.last_at == 10'000'000);
    CHECK(early->timer_id == 0);

    auto started = change(kind::start, "dana", 60'000, 5'000);
    REQUIRE(started.ok());
    CHECK(started->changed);
    CHECK(started->state.active);
    CHECK(started->state.due_at == 10'060'000);
    CHECK(started->timer_id > 0);
    CHECK(started->timer_due_at == 10'065'000);

    // A check-in moves the deadline: the old timer is cancelled, one new timer is live.
    clock.set(10'030'000);
    auto ok = change(kind::checkin, "dana", 0, 5'000);
    REQUIRE(ok.ok());
    CHECK(ok->changed);
    CHECK(ok->state.last_at == 10'030'000);
    CHECK(ok->state.due_at == 10'090'000);
    CHECK(ok->timer_due_at == 10'095'000);
    CHECK(ok->timer_id != started->timer_id);
    CHECK(live_due(10'094'999).empty());
    auto fired = live_due(10'095'000);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].id == ok->timer_id);
    CHECK(fired[0].kind == "checkin_due");
    CHECK(fired[0].subject == "checkin:dana");
    const auto payload = nlohmann::json::parse(fired[0].payload);
    CHECK(payload["id"] == "dana");
    CHECK(payload["due_at"] == 10'090'000);

    // A second defender, then restart: both states survive.
    REQUIRE(change(kind::start, "egor", 3'600'000, 0).ok());
    s.reset();
    s = open_with(backend, nullptr, &clock);
    auto both = list();
    REQUIRE(both.ok());
    REQUIRE(both->size() == 2);
    CHECK((*both)[0].id == "dana");
    CHECK((*both)[0].active);
    CHECK((*both)[0].interval_ms == 60'000);
    CHECK((*both)[0].grace_ms == 5'000);
    CHECK((*both)[0].last_at == 10'030'000);
    CHECK((*both)[0].started_at == 10'000'000);
    CHECK((*both)[0].updated_by == "checkin:dana");
    CHECK((*both)[1].id == "egor");

    // Stop: inactive, the (claimed) timer cancelled; an OK after it moves nothing.
    auto stopped = change(kind::stop, "dana");
    REQUIRE(stopped.ok());
    CHECK_FALSE(stopped->state.active);
    CHECK(stopped->state.due_at == 0);
    CHECK(stopped->timer_id == 0);
    CHECK(complete_sync(*s, ok->timer_id, "probe").value() == timer_completion::cancelled);
    auto after_stop = change(kind::checkin, "dana", 0, 5'000);
    REQUIRE(after_stop.ok());
    CHECK_FALSE(after_stop->changed);
    CHECK(after_stop->timer_id == 0);
    CHECK(live_due(99'000'000).size() == 1);  // egor's only

    // A refusal (a wrong PIN) writes only its audit event.
    auto refused = change(kind::refused, "egor");
    REQUIRE(refused.ok());
    CHECK_FALSE(refused->changed);
    CHECK(refused->state.active);
    CHECK(refused->timer_id == 0);
    auto unknown = change(kind::refused, "nobody");
    REQUIRE(unknown.ok());
    CHECK_FALSE(unknown->state.active);

    // Bad input changes nothing.
    CHECK(change(kind::start, "", 60'000).err().code == "invalid_argument");
    CHECK(change(kind::start, "dana", 0).err().code == "invalid_argument");
    CHECK(change(kind::start, "dana", -5).err().code == "invalid_argument");
    CHECK(change(kind::start, "dana", 60'000, -1).err().code == "invalid_argument");
    auto still = list();
    REQUIRE(still.ok());
    REQUIRE(still->size() == 2);  // no row for "nobody"
    CHECK_FALSE((*still)[0].active);
    CHECK((*still)[1].active);
}

}  // namespace hotline::store::conformance

// Runs the whole suite against backend type B (once per test file, at global scope; B
// must be visible from there).
#define HOTLINE_STORE_CONFORMANCE(B)              \
    namespace hotline::store::conformance {       \
    TEST_CASE_TEMPLATE_INVOKE(conformance_0, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_1, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_2, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_3, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_4, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_5, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_6, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_7, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_8, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_9, B);  \
    TEST_CASE_TEMPLATE_INVOKE(conformance_10, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_11, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_12, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_13, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_14, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_15, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_16, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_17, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_18, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_19, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_20, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_21, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_22, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_23, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_24, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_25, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_26, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_27, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_28, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_40, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_41, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_42, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_43, B); \
    TEST_CASE_TEMPLATE_INVOKE(conformance_50, B); \
    } /* namespace */                             \
    static_assert(true, "")
