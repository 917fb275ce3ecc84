// The SQLite store: the conformance suite (store_conformance.hpp) against it, plus what
// only SQLite has: the file and its mode, pragmas, the schema and rows as stored on disk.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <latch>
#include <set>
#include <thread>
#include <tuple>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "store/factory.hpp"
#include "store/rekey.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"
#include "store_conformance.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace hotline::store;
using namespace hotline::store::testing;

namespace {

// The conformance suite's backend: a fresh database file in a temp dir.
struct sqlite_backend {
    temp_dir dir;
    core::result<std::unique_ptr<store::store>> open(options o) const {
        o.backend = "sqlite";
        o.path = dir.db();
        o.keys = test_keys();
        return store::store::open(o);
    }
};

std::unique_ptr<store::store> open_store(const std::string& path, core::metrics* m = nullptr,
                                         const core::clock* clock = nullptr) {
    options o;
    o.keys = test_keys();
    o.path = path;
    o.metrics = m;
    o.clock = clock;
    auto s = store::store::open(o);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.err().describe()));
    return std::move(*s);
}

// Takes a current database back to schema version 4 (what migrations 5 to 7 and the
// silences' step added, dropped).
constexpr const char* v5_undo =
    "DROP TABLE checkins; DROP TABLE silences; "
    "DROP TABLE case_notes; DROP TABLE case_action_keys; DROP INDEX cases_by_group; "
    "DROP INDEX cases_by_state; ALTER TABLE cases DROP COLUMN policy; "
    "ALTER TABLE cases DROP COLUMN updated_at; ALTER TABLE cases DROP COLUMN acked_by; "
    "ALTER TABLE cases DROP COLUMN acked_at; ALTER TABLE cases DROP COLUMN resolved_by; "
    "ALTER TABLE cases DROP COLUMN resolved_at; ALTER TABLE cases DROP COLUMN group_key; "
    "ALTER TABLE cases DROP COLUMN group_until; "
    "DROP TABLE sms_parts; DROP TABLE sms_opt_outs; "
    "ALTER TABLE notifications DROP COLUMN sms_encoding; "
    "ALTER TABLE notifications DROP COLUMN sms_segments; "
    "ALTER TABLE notifications DROP COLUMN delivery_status; "
    "ALTER TABLE notifications DROP COLUMN delivery_detail; "
    "ALTER TABLE notifications DROP COLUMN delivery_at; "
    "DROP TABLE attachments; DROP TABLE source_cursors; DROP INDEX reports_by_dedup_key; "
    "DROP INDEX reports_by_case; ALTER TABLE reports DROP COLUMN dedup_key; "
    "ALTER TABLE reports DROP COLUMN case_id; ALTER TABLE reports DROP COLUMN details; "
    "ALTER TABLE reports DROP COLUMN raw; PRAGMA user_version = 4";

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777U;
}

}  // namespace

HOTLINE_STORE_CONFORMANCE(sqlite_backend);

TEST_CASE("the factory opens sqlite by default and refuses an unknown backend") {
    CHECK(backends() == std::vector<std::string_view>{"sqlite"});
    temp_dir dir;
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    CHECK(o.backend == "sqlite");
    auto s = open_store(o);
    REQUIRE(s.ok());
    CHECK((*s)->writable());
    o.backend = "postgresql";
    auto unknown = store::store::open(o);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.err().code == "config");
    CHECK(unknown.err().message.find("postgresql") != std::string::npos);
    CHECK(unknown.err().message.find("sqlite") != std::string::npos);
}

TEST_CASE("the timers table: columns as stored, its index, a version 1 database migrates") {
    temp_dir dir;
    core::manual_clock clock(1'800'000'000'000);
    {
        auto s = open_store(dir.db(), nullptr, &clock);
        auto ids = wait_for<std::vector<std::int64_t>>([&](auto done) {
            s->add_timers({conformance::make_timer(2'000'000'000'000, "retry", "case:5")},
                          std::move(done));
        });
        REQUIRE(ids.ok());
        auto claimed = conformance::claim_sync(*s, 2'000'000'000'000, "node-a", 1'000);
        REQUIRE(claimed.ok());
        REQUIRE(claimed->size() == 1);
        REQUIRE(conformance::cancel_sync(*s, "case:5", "").ok());
    }
    raw_db raw(dir.db());
    CHECK(raw.scalar("PRAGMA user_version") == sqlite::current_schema_version());  // 3: sealing
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = "
                     "'timers_due' AND sql LIKE '%(fired_at, due_at)%'") == 1);
    CHECK(raw.text("SELECT kind FROM timers") == "retry");
    CHECK(raw.text("SELECT subject FROM timers") == "case:5");
    CHECK(raw.text("SELECT payload FROM timers") == R"({"step":1})");
    CHECK(raw.scalar("SELECT created_at FROM timers") == clock.now_ms());
    CHECK(raw.text("SELECT claimed_by FROM timers") == "node-a");
    CHECK(raw.scalar("SELECT lease_until FROM timers") == 2'000'000'001'000);
    CHECK(raw.scalar("SELECT fired_at FROM timers") == clock.now_ms());
    CHECK(raw.scalar("SELECT cancelled_at FROM timers") == clock.now_ms());

    // A database from before the timers (schema version 1) gets them on open.
    REQUIRE(raw.exec(v5_undo) == SQLITE_OK);
    REQUIRE(raw.exec("DROP TABLE timers; DROP TABLE seal_meta; DROP INDEX "
                     "notifications_due_by_channel; ALTER TABLE notifications DROP COLUMN "
                     "severity_rank; PRAGMA user_version = 1") == SQLITE_OK);
    auto s = open_store(dir.db());
    CHECK(raw.scalar("PRAGMA user_version") == sqlite::current_schema_version());
    CHECK(raw.scalar("SELECT COUNT(*) FROM timers") == 0);
    REQUIRE(wait_for<std::vector<std::int64_t>>([&](auto done) {
                s->add_timers({conformance::make_timer(1)}, std::move(done));
            }).ok());
    CHECK(raw.scalar("SELECT COUNT(*) FROM timers") == 1);
}

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

// Issue 7, item 8: acknowledging after COMMIT is only worth something if COMMIT waited for
// the disk. Read on the writer's own connection, not a fresh one (synchronous is per
// connection, and a new connection would show SQLite's default).
TEST_CASE("the writer's connection runs WAL with synchronous=FULL") {
    temp_dir dir;
    auto s = open_store(dir.db());
    auto* sqlite = dynamic_cast<sqlite::sqlite_store*>(s.get());
    REQUIRE(sqlite != nullptr);
    const auto synchronous = wait_for<std::int64_t>([&](auto done) {
        sqlite->run_on_writer<std::int64_t>(
            [](sqlite::connection& db) { return sqlite::scalar(db, "PRAGMA synchronous"); },
            std::move(done));
    });
    REQUIRE(synchronous.ok());
    CHECK(*synchronous == 2);  // FULL (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA)
    const auto journal = wait_for<std::string>([&](auto done) {
        sqlite->run_on_writer<std::string>(
            [](sqlite::connection& db) -> core::result<std::string> {
                auto q = db.prepare("PRAGMA journal_mode");
                if (!q) {
                    return q.err();
                }
                auto row = q->step();
                if (!row) {
                    return row.err();
                }
                return *row ? q->text(0) : std::string();
            },
            std::move(done));
    });
    REQUIRE(journal.ok());
    CHECK(*journal == "wal");
}

// Issue 7, item 3: the daemon kicks the systemd watchdog only while this is recent.
TEST_CASE("the writer heartbeats while idle, and not while a batch is stuck") {
    using namespace std::chrono_literals;
    temp_dir dir;
    auto s = open_store(dir.db());
    auto* sqlite = dynamic_cast<sqlite::sqlite_store*>(s.get());
    REQUIRE(sqlite != nullptr);
    const auto age = [&] { return std::chrono::steady_clock::now() - s->writer_heartbeat(); };

    std::this_thread::sleep_for(3 * sqlite::writer::idle_heartbeat);
    CHECK(age() < 2 * sqlite::writer::idle_heartbeat);  // idle, yet alive

    std::latch entered(1);
    std::promise<void> release;
    auto released = release.get_future().share();
    std::promise<core::result<std::int64_t>> finished;
    sqlite->run_on_writer<std::int64_t>(
        [&entered, released](sqlite::connection&) -> core::result<std::int64_t> {
            entered.count_down();
            released.wait();  // a batch that does not come back (a stalled fsync)
            return 1;
        },
        [&finished](core::result<std::int64_t> r) { finished.set_value(std::move(r)); });
    entered.wait();
    std::this_thread::sleep_for(4 * sqlite::writer::idle_heartbeat);
    CHECK(age() >= 3 * sqlite::writer::idle_heartbeat);  // stuck: no beat since the batch began

    release.set_value();
    auto done = finished.get_future();
    REQUIRE(done.get().ok());
    CHECK(age() < sqlite::writer::idle_heartbeat);  // beat when the batch finished
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
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 1);
    CHECK(raw.opened("reports", "text", first->ids.report_id) == make_report("dup").text);

    // Same external id from another source is a different report.
    auto other = make_report("dup");
    other.source = "other-source";
    auto third = ingest_sync(*s, other);
    REQUIRE(third.ok());
    CHECK_FALSE(third->ids.duplicate);
    CHECK(third->ids.report_id != first->ids.report_id);
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

    SUBCASE("an SMS: encoding and segments kept with the row and the audit event (schema 6)") {
        CHECK(row("sms_encoding", ns[1].id).empty());
        CHECK(row("sms_segments", ns[1].id) == "0");
        CHECK(row("delivery_status", ns[1].id).empty());
        attempt_result a;
        a.outcome = attempt_result::kind::delivered;
        a.sms_encoding = "ucs2";
        a.sms_segments = 2;
        REQUIRE(attempt_sync(*s, ns[1].id, a).ok());
        CHECK(row("sms_encoding", ns[1].id) == "ucs2");
        CHECK(row("sms_segments", ns[1].id) == "2");
        CHECK(raw.text("SELECT detail FROM audit_events WHERE kind = 'notification_delivered'")
                  .find("\"sms_segments\":2") != std::string::npos);
    }

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

TEST_CASE("an empty or in-memory path is refused") {
    for (const char* path : {"", ":memory:", "file::memory:"}) {
        options o;
        o.keys = test_keys();
        o.path = path;
        auto s = store::store::open(o);
        REQUIRE_FALSE(s.ok());
        CHECK(s.err().code == "config");
    }
}

TEST_CASE("writable: false after a failed write, back only when a batch that wrote commits") {
    // Issue 7, fault 1: a read-only batch (a due scan, the gauges) commits on a full disk
    // too; it must not turn /readyz green while every write still fails.
    temp_dir dir;
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    o.busy_timeout_ms = 50;
    auto opened = store::store::open(o);
    REQUIRE(opened.ok());
    auto& s = **opened;
    REQUIRE(ingest_sync(s, make_report("w1")).ok());
    CHECK(s.writable());

    raw_db other(dir.db());
    REQUIRE(other.exec("BEGIN EXCLUSIVE") == SQLITE_OK);  // every write batch now fails: busy
    auto refused = ingest_sync(s, make_report("w2"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.err().code == "busy");
    CHECK_FALSE(s.writable());
    REQUIRE(other.exec("COMMIT") == SQLITE_OK);

    // Reads commit again, and a duplicate writes nothing: still not writable.
    REQUIRE(due_sync(s, 0, 10).ok());
    REQUIRE(wait_for<stats>([&](auto done) { s.outbox_stats(0, std::move(done)); }).ok());
    auto dup = ingest_sync(s, make_report("w1"));
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);
    CHECK_FALSE(s.writable());
    // A batch that changed rows proves the store writes again.
    REQUIRE(ingest_sync(s, make_report("w3")).ok());
    CHECK(s.writable());
}

// ---- schema 5 (issue 8): joins in the audit trail, sealed mail contents, migration ----

namespace {

domain::report secret_mail(const std::string& external_id) {
    auto r = make_report(external_id);
    r.source = "mailbox";
    r.source_kind = "email";
    r.dedup_key = "sha256:" + external_id;
    r.details = {{"sender_name", "Ivan Secretsender"}, {"message_id", "<secret-mid@example.org>"}};
    r.raw = std::string("From: Secret Raw Header\r\n\r\n\0body", 33);
    domain::attachment a;
    a.file_name = "secret-file-name.jpg";
    a.content_type = "image/x-secret-type";
    a.bytes = std::string("SECRETBYTES\0\xff", 13);
    a.size = a.bytes.size();
    a.sha256 = "5ec7e7a5";
    a.kept = true;
    r.attachments = {a, a};
    return r;
}

const std::vector<std::string> mail_needles = {"Secretsender",     "secret-mid",    "Secret Raw",
                                               "secret-file-name", "x-secret-type", "SECRETBYTES",
                                               "5ec7e7a5"};

// test_keys()'s key once more (a key cannot be copied), for a ring that rekeys from it.
core::crypto::key test_key_again() {
    return core::crypto::key::from_bytes(
        std::array<unsigned char, core::crypto::key_bytes>{0x42, 0x17, 0x99});
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The (source, dedup_key) index of schema 5 and the report-row case id.
void check_schema_5(raw_db& raw) {
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = "
                     "'reports_by_dedup_key' AND sql LIKE '%WHERE dedup_key IS NOT NULL%'") == 1);
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'attachments'") == 1);
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'source_cursors'") == 1);
}

}  // namespace

TEST_CASE("a joined report writes report_joined, not a second case or report_received") {
    temp_dir dir;
    auto s = open_store(dir.db());
    auto first = ingest_sync(*s, secret_mail("imap:1:1"), {make_planned()});
    REQUIRE(first.ok());
    auto reply = secret_mail("imap:1:2");
    reply.case_id = first->ids.case_id;
    auto joined = ingest_sync(*s, reply, {make_planned()});
    REQUIRE(joined.ok());
    REQUIRE(joined->ids.joined);
    raw_db raw(dir.db());
    check_schema_5(raw);
    CHECK(raw.scalar("SELECT COUNT(*) FROM cases") == 1);
    CHECK(raw.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'report_received'") == 1);
    const auto where = " FROM audit_events WHERE kind = 'report_joined' AND case_id = " +
                       std::to_string(first->ids.case_id) +
                       " AND report_id = " + std::to_string(joined->ids.report_id);
    CHECK(raw.scalar("SELECT COUNT(*)" + where) == 1);
    const auto detail = raw.text("SELECT detail" + where);
    CHECK(detail.find("notification_ids") != std::string::npos);
    for (const auto& needle : mail_needles) {
        CHECK(detail.find(needle) == std::string::npos);
    }
    CHECK(raw.scalar("SELECT case_id FROM reports WHERE id = " +
                     std::to_string(joined->ids.report_id)) == first->ids.case_id);
    CHECK(raw.text("SELECT dedup_key FROM reports WHERE id = " +
                   std::to_string(joined->ids.report_id)) == "sha256:imap:1:2");
    // A report without a dedup key stores NULL (the partial index skips it).
    auto plain = ingest_sync(*s, make_report("plain"), {});
    REQUIRE(plain.ok());
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports WHERE dedup_key IS NULL AND id = " +
                     std::to_string(plain->ids.report_id)) == 1);
}

TEST_CASE("details, raw and attachments are sealed on disk, and rekey re-seals them") {
    temp_dir dir;
    std::int64_t report_id = 0;
    {
        auto s = open_store(dir.db());
        auto r = ingest_sync(*s, secret_mail("imap:1:1"), {});
        REQUIRE(r.ok());
        report_id = r->ids.report_id;
    }
    raw_db raw(dir.db());
    const auto rid = std::to_string(report_id);
    CHECK(raw.text("SELECT typeof(details) FROM reports WHERE id = " + rid) == "blob");
    CHECK(raw.text("SELECT typeof(raw) FROM reports WHERE id = " + rid) == "blob");
    CHECK(raw.opened("reports", "raw", report_id) == secret_mail("x").raw);
    CHECK(raw.scalar("SELECT COUNT(*) FROM attachments WHERE report_id = " + rid +
                     " AND typeof(file_name) = 'blob' AND typeof(content_type) = 'blob' AND "
                     "typeof(sha256) = 'blob' AND typeof(bytes) = 'blob' AND size = 13 AND "
                     "kept = 1") == 2);
    const auto first_file = raw.scalar("SELECT MIN(id) FROM attachments");
    CHECK(raw.opened("attachments", "bytes", first_file) == secret_mail("x").attachments[0].bytes);
    CHECK(raw.opened("attachments", "file_name", first_file) == "secret-file-name.jpg");
    const auto files_on_disk = [&] {
        std::string all;
        for (const char* suffix : {"", "-wal"}) {
            all += file_bytes(dir.db() + suffix);
        }
        return all;
    };
    for (const auto& needle : mail_needles) {
        CAPTURE(needle);
        CHECK(files_on_disk().find(needle) == std::string::npos);
    }

    // Rekey: every new sealed column moves to the new key and still opens.
    const std::array<unsigned char, core::crypto::key_bytes> new_bytes{0x07, 0x08, 0x09};
    auto ring = std::make_shared<core::crypto::keyring>(core::crypto::key::from_bytes(new_bytes));
    ring->add_older(test_key_again());
    const auto new_id = ring->current().id();
    rekey_options ro;
    ro.path = dir.db();
    ro.keys = ring;
    auto done = rekey(ro);
    REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.err().describe()));
    CHECK(done->unreadable == 0);
    for (const auto& [table, column, id] :
         {std::tuple{"reports", "details", report_id}, std::tuple{"reports", "raw", report_id},
          std::tuple{"attachments", "file_name", first_file},
          std::tuple{"attachments", "content_type", first_file},
          std::tuple{"attachments", "sha256", first_file},
          std::tuple{"attachments", "bytes", first_file}}) {
        CAPTURE(column);
        const auto value = raw.bytes(std::string("SELECT ") + column + " FROM " + table +
                                     " WHERE id = " + std::to_string(id));
        CHECK(core::crypto::sealed_key_id(value) == new_id);
    }
    options o;
    o.path = dir.db();
    o.keys = ring;
    auto reopened = store::store::open(o);
    REQUIRE_MESSAGE(reopened.ok(), (reopened.ok() ? "" : reopened.err().describe()));
    auto loaded = (*reopened)->load_report(report_id);
    REQUIRE(loaded.ok());
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->raw == secret_mail("x").raw);
    CHECK((*loaded)->details == secret_mail("x").details);
    auto files = (*reopened)->attachments_for_report(report_id);
    REQUIRE(files.ok());
    REQUIRE(files->size() == 2);
    CHECK((*files)[1].bytes == secret_mail("x").attachments[1].bytes);
    CHECK((*files)[1].file_name == "secret-file-name.jpg");
}

TEST_CASE("a version 4 database migrates: old rows readable, case_id backfilled") {
    temp_dir dir;
    std::vector<domain::report_ids> old;
    {
        auto s = open_store(dir.db());
        for (const char* id : {"v4-a", "v4-b"}) {
            auto r = ingest_sync(*s, make_report(id), {make_planned()});
            REQUIRE(r.ok());
            old.push_back(r->ids);
        }
    }
    {
        raw_db raw(dir.db());
        REQUIRE(raw.exec(v5_undo) == SQLITE_OK);
        REQUIRE(raw.scalar("PRAGMA user_version") == 4);
        // A rekey refuses a database this version has not migrated yet.
        auto ring = std::make_shared<core::crypto::keyring>(core::crypto::key::from_bytes(
            std::array<unsigned char, core::crypto::key_bytes>{0x01}));
        ring->add_older(test_key_again());
        rekey_options ro;
        ro.path = dir.db();
        ro.keys = ring;
        auto refused = rekey(ro);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.err().code == "schema_old");
    }
    auto s = open_store(dir.db());
    raw_db raw(dir.db());
    CHECK(raw.scalar("PRAGMA user_version") == sqlite::current_schema_version());
    check_schema_5(raw);
    for (const auto& ids : old) {
        CHECK(raw.scalar("SELECT case_id FROM reports WHERE id = " +
                         std::to_string(ids.report_id)) == ids.case_id);
        auto loaded = s->load_report(ids.report_id);
        REQUIRE(loaded.ok());
        REQUIRE(loaded->has_value());
        CHECK((*loaded)->case_id == ids.case_id);
        CHECK((*loaded)->sender == make_report("x").sender);
        CHECK((*loaded)->details == nlohmann::json::object());
        CHECK((*loaded)->raw.empty());
    }
    // A re-delivery of an old report is still a duplicate, with its case.
    auto dup = ingest_sync(*s, make_report("v4-b"), {});
    REQUIRE(dup.ok());
    CHECK(dup->ids.duplicate);
    CHECK(dup->ids.case_id == old[1].case_id);
    // And a join into an old case works.
    auto reply = secret_mail("imap:1:1");
    reply.case_id = old[0].case_id;
    auto joined = ingest_sync(*s, reply, {make_planned("partner:ngo")});
    REQUIRE(joined.ok());
    CHECK(joined->ids.joined);
    auto targets = conformance::case_targets_sync(*s, old[0].case_id);
    REQUIRE(targets.ok());
    REQUIRE(targets->has_value());
    CHECK(**targets == std::vector<std::string>{"responder:alice", "partner:ngo"});
}

TEST_CASE("silences: sealed on disk, audited without matchers, re-sealed, purged when over") {
    temp_dir dir;
    core::manual_clock clock(10'000'000);
    const std::string number = "+79001234567";
    std::int64_t id = 0;
    {
        auto s = open_store(dir.db(), nullptr, &clock);
        new_silence n;
        n.matchers = {"sender = \"" + number + "\""};
        n.starts_at = 10'000'000;
        n.ends_at = 20'000'000;
        n.author = "responder:alice";
        n.comment = "secret-comment-text";
        auto added =
            wait_for<silence>([&](auto done) { s->add_silence(std::move(n), std::move(done)); });
        REQUIRE(added.ok());
        id = added->id;
        clock.set(11'000'000);
        auto expired = wait_for<silence_expiry>(
            [&](auto done) { s->expire_silence(id, "admin:ops", std::move(done)); });
        REQUIRE(expired.ok());
        CHECK(expired->changed);
    }
    raw_db raw(dir.db());
    const auto sid = std::to_string(id);
    CHECK(raw.text("SELECT typeof(matchers) FROM silences WHERE id = " + sid) == "blob");
    CHECK(raw.text("SELECT typeof(comment) FROM silences WHERE id = " + sid) == "blob");
    CHECK(raw.opened("silences", "matchers", id) == "[\"sender = \\\"" + number + "\\\"\"]");
    CHECK(raw.opened("silences", "comment", id) == "secret-comment-text");
    std::string on_disk;
    for (const char* suffix : {"", "-wal"}) {
        on_disk += file_bytes(dir.db() + suffix);
    }
    CHECK(on_disk.find(number) == std::string::npos);
    CHECK(on_disk.find("secret-comment-text") == std::string::npos);
    // The trail: who, what, when; never the matchers.
    CHECK(raw.text("SELECT actor FROM audit_events WHERE kind = 'silence_added'") ==
          "responder:alice");
    CHECK(raw.text("SELECT detail FROM audit_events WHERE kind = 'silence_added'") ==
          R"({"ends_at":20000000,"silence_id":)" + sid + R"(,"starts_at":10000000})");
    CHECK(raw.text("SELECT actor FROM audit_events WHERE kind = 'silence_expired'") == "admin:ops");
    CHECK(raw.scalar("SELECT at FROM audit_events WHERE kind = 'silence_expired'") == 11'000'000);
    CHECK(raw.scalar("SELECT count(*) FROM audit_events WHERE detail LIKE '%7900%'") == 0);

    // Rekey moves both columns to the new key.
    const std::array<unsigned char, core::crypto::key_bytes> new_bytes{0x0a, 0x0b};
    auto ring = std::make_shared<core::crypto::keyring>(core::crypto::key::from_bytes(new_bytes));
    ring->add_older(test_key_again());
    rekey_options ro;
    ro.path = dir.db();
    ro.keys = ring;
    auto done = rekey(ro);
    REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.err().describe()));
    CHECK(done->unreadable == 0);
    for (const char* column : {"matchers", "comment"}) {
        CAPTURE(column);
        CHECK(core::crypto::sealed_key_id(raw.bytes(std::string("SELECT ") + column +
                                                    " FROM silences WHERE id = " + sid)) ==
              ring->current().id());
    }

    // Retention: a silence over before the cut loses its matchers and comment, keeps the rest.
    options o;
    o.path = dir.db();
    o.keys = ring;
    o.clock = &clock;
    auto reopened = store::store::open(o);
    REQUIRE_MESSAGE(reopened.ok(), (reopened.ok() ? "" : reopened.err().describe()));
    auto& s = **reopened;
    const auto listed = [&] {
        auto l =
            wait_for<std::vector<silence>>([&](auto d) { s.list_silences(true, std::move(d)); });
        REQUIRE(l.ok());
        REQUIRE(l->size() == 1);
        return l->front();
    };
    CHECK(listed().matchers.size() == 1);
    purge_batch young;
    young.received_before = 11'000'000;  // expired at 11'000'000: not before the cut
    REQUIRE(wait_for<purge_progress>([&](auto d) { s.purge_contents(young, std::move(d)); }).ok());
    CHECK(listed().comment == "secret-comment-text");
    purge_batch old = young;
    old.received_before = 11'000'001;
    REQUIRE(wait_for<purge_progress>([&](auto d) { s.purge_contents(old, std::move(d)); }).ok());
    const auto purged = listed();
    CHECK(purged.matchers.empty());
    CHECK(purged.comment.empty());
    CHECK(purged.author == "responder:alice");
    CHECK(purged.expired_by == "admin:ops");
    CHECK(purged.ends_at == 20'000'000);
    CHECK_FALSE(purged.active_at(15'000'000));
}
