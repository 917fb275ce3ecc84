// The store's operations: ingest, duplicates, attempts, the due queue, batching, close.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace hotline::store;
using namespace hotline::store::testing;

namespace {

std::unique_ptr<store::store> open_store(const std::string& path, core::metrics* m = nullptr,
                                         const core::clock* clock = nullptr) {
    options o;
    o.path = path;
    o.metrics = m;
    o.clock = clock;
    auto s = store::store::open(o);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.err().describe()));
    return std::move(*s);
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777U;
}

}  // namespace

TEST_CASE("open creates parent directories, a private file, and the current schema") {
    temp_dir dir;
    {
        auto s = open_store(dir.db());
        CHECK(s->writable());
        CHECK(std::filesystem::exists(dir.db()));
        CHECK(mode_of(dir.db()) == 0600U);
        REQUIRE(ingest_sync(*s, make_report("a")).ok());
        CHECK(mode_of(dir.db() + "-wal") == 0600U);
        CHECK(mode_of(dir.db() + "-shm") == 0600U);
    }
    raw_db raw(dir.db());
    CHECK(raw.scalar("PRAGMA user_version") == sqlite::current_schema_version());
    CHECK(raw.text("PRAGMA journal_mode") == "wal");
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                     "('reports', 'cases', 'notifications', 'audit_events')") == 4);
}

TEST_CASE("reopening keeps data and does not migrate twice") {
    temp_dir dir;
    std::int64_t report_id = 0;
    {
        auto s = open_store(dir.db());
        auto r = ingest_sync(*s, make_report("keep"));
        REQUIRE(r.ok());
        report_id = r->ids.report_id;
    }
    // A file left with loose permissions by someone else gets tightened.
    REQUIRE(::chmod(dir.db().c_str(), 0644) == 0);
    auto s = open_store(dir.db());
    CHECK(mode_of(dir.db()) == 0600U);
    auto loaded = s->load_report(report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->external_id == "keep");
    auto again = ingest_sync(*s, make_report("keep"));
    REQUIRE(again.ok());
    CHECK(again->ids.duplicate);
    CHECK(again->ids.report_id == report_id);
}

TEST_CASE("ingest stores report, case, notifications with ids in payloads, and an audit event") {
    temp_dir dir;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_store(dir.db(), nullptr, &clock);
    auto planned = std::vector{make_planned("responder:alice"), make_planned("responder:bob"),
                               make_planned("partner:ngo", "email")};
    auto report = make_report("ext-1");
    report.labels = {{"a", "1"}, {"b", "two"}};
    auto r = ingest_sync(*s, report, planned);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
    CHECK_FALSE(r->ids.duplicate);
    CHECK(r->ids.report_id > 0);
    CHECK(r->ids.case_id > 0);
    REQUIRE(r->notifications.size() == 3);

    std::set<std::string> keys;
    std::set<std::int64_t> ids;
    for (const auto& n : r->notifications) {
        CHECK(n.report_id == r->ids.report_id);
        CHECK(n.case_id == r->ids.case_id);
        CHECK(n.payload["report_id"] == r->ids.report_id);
        CHECK(n.payload["case_id"] == r->ids.case_id);
        CHECK(n.payload["notification_id"] == n.id);
        CHECK(n.payload["kind"] == "alert");
        CHECK(n.status == notification_status::pending);
        CHECK(n.attempts == 0);
        CHECK(n.next_attempt_at == report.received_at);
        CHECK(n.created_at == clock.now_ms());
        CHECK(n.idempotency_key.starts_with("hl-"));
        CHECK(n.idempotency_key.size() == 3 + 12 + 32);
        keys.insert(n.idempotency_key);
        ids.insert(n.id);
    }
    CHECK(keys.size() == 3);
    CHECK(ids.size() == 3);
    CHECK(r->notifications[2].channel == "email");
    CHECK(r->notifications[2].target == "partner:ngo");

    // What is on disk matches what came back.
    auto stored = s->notifications_for_report(r->ids.report_id);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK((*stored)[i].id == r->notifications[i].id);
        CHECK((*stored)[i].payload == r->notifications[i].payload);
        CHECK((*stored)[i].idempotency_key == r->notifications[i].idempotency_key);
        CHECK((*stored)[i].address == "http://127.0.0.1:9000/hook");
        CHECK((*stored)[i].language == "en");
    }
    auto loaded = s->load_report(r->ids.report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    const auto& lr = **loaded;
    CHECK(lr.source == report.source);
    CHECK(lr.source_kind == "webhook");
    CHECK(lr.sender == report.sender);
    CHECK(lr.subject == "Задержание");
    CHECK(lr.text == report.text);
    CHECK(lr.labels == report.labels);
    CHECK(lr.language == "ru");
    CHECK(lr.received_at == report.received_at);
    auto missing = s->load_report(9999);
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    raw_db raw(dir.db());
    const auto case_id = std::to_string(r->ids.case_id);
    CHECK(raw.text("SELECT state FROM cases WHERE id = " + case_id) == "open");
    CHECK(raw.text("SELECT severity FROM cases WHERE id = " + case_id) == "critical");
    CHECK(raw.text("SELECT route FROM cases WHERE id = " + case_id) == "root/detention");
    CHECK(nlohmann::json::parse(raw.text("SELECT labels FROM cases WHERE id = " + case_id)) ==
          nlohmann::json{{"kind", "detention"}});
    CHECK(raw.text("SELECT status FROM notifications LIMIT 1") == "pending");
    CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'report_received' AND "
                     "case_id = " +
                     case_id) == 1);
    CHECK(raw.scalar("SELECT COUNT(*) FROM notifications WHERE last_error IS NULL") == 3);
}

TEST_CASE("a report without received_at gets the store's time; no notifications is fine") {
    temp_dir dir;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_store(dir.db(), nullptr, &clock);
    auto report = make_report("no-time", 0);
    auto r = ingest_sync(*s, report, {make_planned()});
    REQUIRE(r.ok());
    CHECK(r->notifications.at(0).next_attempt_at == clock.now_ms());
    auto quiet = ingest_sync(*s, make_report("quiet"), {});
    REQUIRE(quiet.ok());
    CHECK(quiet->notifications.empty());
    CHECK(quiet->ids.case_id > 0);
}

TEST_CASE("a duplicate returns the same ids and writes nothing") {
    temp_dir dir;
    auto s = open_store(dir.db());
    auto first =
        ingest_sync(*s, make_report("dup"), {make_planned(), make_planned("responder:bob")});
    REQUIRE(first.ok());
    raw_db raw(dir.db());
    const auto count_all = [&] {
        return std::vector{raw.scalar("SELECT COUNT(*) FROM reports"),
                           raw.scalar("SELECT COUNT(*) FROM cases"),
                           raw.scalar("SELECT COUNT(*) FROM notifications"),
                           raw.scalar("SELECT COUNT(*) FROM audit_events")};
    };
    const auto before = count_all();
    auto changed = make_report("dup");
    changed.text = "something else entirely";
    auto second = ingest_sync(*s, changed, {make_planned("responder:carol")});
    REQUIRE(second.ok());
    CHECK(second->ids.duplicate);
    CHECK(second->ids.report_id == first->ids.report_id);
    CHECK(second->ids.case_id == first->ids.case_id);
    CHECK(second->notifications.empty());
    CHECK(count_all() == before);
    CHECK(raw.text("SELECT text FROM reports") == make_report("dup").text);

    // Same external id from another source is a different report.
    auto other = make_report("dup");
    other.source = "other-source";
    auto third = ingest_sync(*s, other);
    REQUIRE(third.ok());
    CHECK_FALSE(third->ids.duplicate);
    CHECK(third->ids.report_id != first->ids.report_id);
}

TEST_CASE("duplicates inside one batch: the second sees the first") {
    temp_dir dir;
    auto s = open_store(dir.db());
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

TEST_CASE("a failing operation rolls back alone; the rest of its batch commits") {
    temp_dir dir;
    core::metrics m;
    auto s = open_store(dir.db(), &m);
    // Hold the writer inside the first batch's completion so the next four ops queue up
    // and run as one batch.
    std::latch in_gate(1);
    std::latch release(1);
    s->ingest(make_report("gate"), make_case(), {make_planned()},
              [&](core::result<ingest_result> r) {
                  CHECK(r.ok());
                  in_gate.count_down();
                  release.wait();
              });
    in_gate.wait();
    std::vector<std::future<core::result<ingest_result>>> results;
    const auto submit = [&](const std::string& ext, std::vector<planned_notification> planned) {
        auto p = std::make_shared<std::promise<core::result<ingest_result>>>();
        results.push_back(p->get_future());
        s->ingest(make_report(ext), make_case(), std::move(planned),
                  [p](core::result<ingest_result> r) { p->set_value(std::move(r)); });
    };
    auto empty_channel = make_planned();
    empty_channel.channel.clear();  // violates CHECK(length(channel) > 0)
    auto bad_payload = make_planned();
    bad_payload.payload = nlohmann::json::array({1, 2});
    submit("ok-1", {make_planned()});
    submit("bad-constraint", {make_planned(), empty_channel});
    submit("bad-payload", {make_planned(), bad_payload});
    submit("ok-2", {make_planned(), make_planned("responder:bob")});
    release.count_down();

    auto ok1 = results[0].get();
    auto bad1 = results[1].get();
    auto bad2 = results[2].get();
    auto ok2 = results[3].get();
    REQUIRE(ok1.ok());
    REQUIRE(ok2.ok());
    REQUIRE_FALSE(bad1.ok());
    REQUIRE_FALSE(bad2.ok());
    CHECK(bad1.err().code == "constraint");
    CHECK(bad2.err().code == "bad_payload");
    CHECK(ok2->notifications.size() == 2);
    // Two batches: the gate, then the four together.
    CHECK(m.value("hotline_commit_batch_size", {}) == 2);
    CHECK(s->writable());

    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports WHERE external_id LIKE 'bad-%'") == 0);
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 3);
    CHECK(raw.scalar("SELECT COUNT(*) FROM cases") == 3);
    CHECK(raw.scalar("SELECT COUNT(*) FROM notifications") == 4);
    CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events") == 3);
    // Ids handed out to rolled-back notifications are not referenced by anything.
    for (const auto& n : ok2->notifications) {
        CHECK(raw.scalar("SELECT report_id FROM notifications WHERE id = " +
                         std::to_string(n.id)) == ok2->ids.report_id);
    }
}

TEST_CASE("group commit batches concurrent submitters") {
    temp_dir dir;
    core::metrics m;
    auto s = open_store(dir.db(), &m);
    constexpr int threads = 8;
    constexpr int per_thread = 125;
    std::atomic<int> completed{0};
    std::atomic<int> failed{0};
    std::mutex ids_mu;
    std::set<std::int64_t> report_ids;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                s->ingest(make_report("g-" + std::to_string(t) + "-" + std::to_string(i)),
                          make_case(), {make_planned()}, [&](core::result<ingest_result> r) {
                              if (r.ok()) {
                                  const std::lock_guard lock(ids_mu);
                                  report_ids.insert(r->ids.report_id);
                              } else {
                                  failed.fetch_add(1);
                              }
                              completed.fetch_add(1);
                          });
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    s->close();  // drains
    CHECK(completed.load() == threads * per_thread);
    CHECK(failed.load() == 0);
    CHECK(report_ids.size() == static_cast<std::size_t>(threads * per_thread));
    const auto batches = m.value("hotline_commit_batch_size", {});
    CHECK(batches >= 2);
    CHECK(batches < threads * per_thread);
    MESSAGE("1000 ingests in " << batches << " batches");
    const auto text = m.render();
    CHECK(text.find("hotline_commit_batch_size_bucket{le=\"1024\"}") != std::string::npos);
    CHECK(text.find("hotline_commit_latency_seconds_count") != std::string::npos);
    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == threads * per_thread);
}

TEST_CASE("max_batch bounds a batch") {
    temp_dir dir;
    core::metrics m;
    options o;
    o.path = dir.db();
    o.metrics = &m;
    o.max_batch = 3;
    auto opened = store::store::open(o);
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

TEST_CASE("record_attempt: delivered, replay, retry, failed with follow-ups, dead letter") {
    temp_dir dir;
    core::manual_clock clock(1'800'000'000'000);
    auto s = open_store(dir.db(), nullptr, &clock);
    auto r = ingest_sync(*s, make_report("att"),
                         {make_planned("responder:alice"), make_planned("responder:bob"),
                          make_planned("responder:carol"), make_planned("responder:dan")});
    REQUIRE(r.ok());
    const auto& ns = r->notifications;
    raw_db raw(dir.db());
    const auto row = [&](const std::string& col, std::int64_t id) {
        return raw.text("SELECT " + col + " FROM notifications WHERE id = " + std::to_string(id));
    };

    SUBCASE("delivered, then replayed") {
        attempt_result a;
        a.outcome = attempt_result::kind::delivered;
        a.provider_id = "msg-42";
        auto rec = attempt_sync(*s, ns[0].id, a);
        REQUIRE(rec.ok());
        CHECK(rec->follow_ups.empty());
        CHECK(row("status", ns[0].id) == "delivered");
        CHECK(row("attempts", ns[0].id) == "1");
        CHECK(row("provider_id", ns[0].id) == "msg-42");
        CHECK(row("updated_at", ns[0].id) == std::to_string(clock.now_ms()));
        CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'notification_delivered'"
                         " AND notification_id = " +
                         std::to_string(ns[0].id)) == 1);
        // Crash replay: the same outcome again changes nothing.
        auto again = attempt_sync(*s, ns[0].id, a);
        REQUIRE(again.ok());
        CHECK(row("attempts", ns[0].id) == "1");
        CHECK(raw.scalar(
                  "SELECT COUNT(*) FROM audit_events WHERE kind = 'notification_delivered'") == 1);
        // And a late "failed" for it must not resurrect it or add follow-ups.
        attempt_result late;
        late.outcome = attempt_result::kind::failed;
        late.follow_ups = {make_planned("admin:ops", "email")};
        auto l = attempt_sync(*s, ns[0].id, late);
        REQUIRE(l.ok());
        CHECK(l->follow_ups.empty());
        CHECK(row("status", ns[0].id) == "delivered");
    }
    SUBCASE("retry keeps it pending and moves its due time") {
        attempt_result a;
        a.outcome = attempt_result::kind::retry;
        a.detail = "http 503";
        a.next_attempt_at = 1'900'000'000'000;
        REQUIRE(attempt_sync(*s, ns[1].id, a).ok());
        a.detail = "timeout";
        a.next_attempt_at = 1'900'000'001'000;
        REQUIRE(attempt_sync(*s, ns[1].id, a).ok());
        CHECK(row("status", ns[1].id) == "pending");
        CHECK(row("attempts", ns[1].id) == "2");
        CHECK(row("last_error", ns[1].id) == "timeout");
        CHECK(row("next_attempt_at", ns[1].id) == "1900000001000");
        auto stored = s->notifications_for_report(r->ids.report_id);
        REQUIRE(stored.ok());
        CHECK((*stored)[1].attempts == 2);
        CHECK((*stored)[1].last_error == "timeout");
        CHECK((*stored)[1].idempotency_key == ns[1].idempotency_key);
        CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'notification_retry'") ==
              2);
    }
    SUBCASE("failed inserts follow-ups with fresh keys, due at once") {
        attempt_result a;
        a.outcome = attempt_result::kind::failed;
        a.detail = "http 404";
        auto next_contact = make_planned("responder:carol", "email", 1);
        next_contact.address = "carol@example.org";
        a.follow_ups = {next_contact};
        auto rec = attempt_sync(*s, ns[2].id, a);
        REQUIRE(rec.ok());
        CHECK(row("status", ns[2].id) == "failed");
        CHECK(row("last_error", ns[2].id) == "http 404");
        REQUIRE(rec->follow_ups.size() == 1);
        const auto& f = rec->follow_ups[0];
        CHECK(f.id > ns.back().id);
        CHECK(f.report_id == r->ids.report_id);
        CHECK(f.case_id == r->ids.case_id);
        CHECK(f.contact_index == 1);
        CHECK(f.address == "carol@example.org");
        CHECK(f.status == notification_status::pending);
        CHECK(f.payload["notification_id"] == f.id);
        CHECK(f.payload["report_id"] == r->ids.report_id);
        CHECK(f.idempotency_key != ns[2].idempotency_key);
        CHECK(f.next_attempt_at <= clock.now_ms());
        CHECK(row("status", f.id) == "pending");
        CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'notification_failed'") ==
              1);
        auto due = due_sync(*s, clock.now_ms(), 100);
        REQUIRE(due.ok());
        bool found = false;
        for (const auto& d : *due) {
            found = found || d.id == f.id;
            CHECK(d.id != ns[2].id);
        }
        CHECK(found);
    }
    SUBCASE("dead letter") {
        attempt_result a;
        a.outcome = attempt_result::kind::failed;
        a.dead_letter = true;
        a.detail = std::string(5000, 'x');  // clipped, not rejected
        planned_notification alert = make_planned("admin:ops", "email");
        alert.payload = {{"kind", "dead_letter"}, {"notification_id", ns[3].id}};
        a.follow_ups = {alert};
        auto rec = attempt_sync(*s, ns[3].id, a);
        REQUIRE(rec.ok());
        CHECK(row("status", ns[3].id) == "dead");
        CHECK(row("last_error", ns[3].id).size() <= 500);
        REQUIRE(rec->follow_ups.size() == 1);
        // The store's own id wins over whatever the planner put there.
        CHECK(rec->follow_ups[0].payload["notification_id"] == rec->follow_ups[0].id);
        CHECK(rec->follow_ups[0].payload["kind"] == "dead_letter");
        CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'notification_dead'") ==
              1);
    }
    SUBCASE("unknown id is an error; a bad follow-up rolls the whole attempt back") {
        attempt_result a;
        a.outcome = attempt_result::kind::delivered;
        auto missing = attempt_sync(*s, 123456, a);
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.err().code == "not_found");

        attempt_result bad;
        bad.outcome = attempt_result::kind::failed;
        auto broken = make_planned();
        broken.address.clear();
        bad.follow_ups = {make_planned(), broken};
        auto rec = attempt_sync(*s, ns[0].id, bad);
        REQUIRE_FALSE(rec.ok());
        CHECK(rec.err().code == "constraint");
        CHECK(row("status", ns[0].id) == "pending");
        CHECK(raw.scalar("SELECT COUNT(*) FROM notifications") == 4);
    }
}

TEST_CASE("due, next_due, exclude and stats") {
    temp_dir dir;
    core::manual_clock clock(2'000'000'000'000);
    auto s = open_store(dir.db(), nullptr, &clock);
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

TEST_CASE("close drains the queue; later operations fail at once") {
    temp_dir dir;
    auto s = open_store(dir.db());
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
    s->due(0, 10, {}, [&](auto r) {
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

    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 300);
}

TEST_CASE("a throwing completion does not take the writer down") {
    temp_dir dir;
    auto s = open_store(dir.db());
    s->ingest(make_report("throw"), make_case(), {},
              [](core::result<ingest_result>) { throw std::runtime_error("boom"); });
    auto after = ingest_sync(*s, make_report("after"));
    REQUIRE(after.ok());
    CHECK_FALSE(after->ids.duplicate);
}

TEST_CASE("hostile text round-trips: NUL bytes, invalid UTF-8, quotes, huge labels") {
    temp_dir dir;
    auto s = open_store(dir.db());
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

TEST_CASE("an empty or in-memory path is refused") {
    for (const char* path : {"", ":memory:", "file::memory:"}) {
        options o;
        o.path = path;
        auto s = store::store::open(o);
        REQUIRE_FALSE(s.ok());
        CHECK(s.err().code == "config");
    }
}
