// Retention (store::purge_contents) and the online backup (store::backup) of the SQLite
// store: what is purged and what stays, bounded batches, one audit event per sweep; a
// backup taken while writes go on is whole, checked, sealed and private.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "core/clock.hpp"
#include "store/backup.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace hotline::store;
using namespace hotline::store::testing;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::int64_t t0 = 1'700'000'000'000;

std::unique_ptr<store::store> open_store(const std::string& path, const core::clock* clock) {
    options o;
    o.keys = test_keys();
    o.path = path;
    o.clock = clock;
    auto s = store::store::open(o);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.err().describe()));
    return std::move(*s);
}

core::result<purge_progress> purge_sync(store::store& s, const purge_batch& b) {
    return wait_for<purge_progress>([&](auto done) { s.purge_contents(b, std::move(done)); });
}

// A whole sweep, batch after batch, as the daemon runs it.
purge_progress sweep(store::store& s, std::int64_t before, std::size_t limit,
                     std::int64_t after_id = 0) {
    purge_batch b;
    b.received_before = before;
    b.after_id = after_id;
    b.limit = limit;
    for (int guard = 0; guard < 10'000; ++guard) {
        auto p = purge_sync(s, b);
        REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.err().describe()));
        if (p->done) {
            return *p;
        }
        CHECK(p->batches == b.batches + 1);
        b.after_id = p->last_id;
        b.reports = p->reports;
        b.notifications = p->notifications;
        b.batches = p->batches;
    }
    FAIL("the sweep did not end");
    return {};
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777U;
}

}  // namespace

TEST_CASE("retention purges the contents of old reports and keeps ids, times and the trail") {
    temp_dir dir;
    core::manual_clock clock(t0 + 200 * day_ms);
    auto s = open_store(dir.db(), &clock);
    // Five old reports (one of them with a notification still pending), three young ones.
    std::vector<std::int64_t> old_ids, young_ids;
    for (int i = 0; i < 5; ++i) {
        auto r = ingest_sync(*s, make_report("old-" + std::to_string(i), t0 + i),
                             {make_planned(), make_planned("partner:ngo")});
        REQUIRE(r.ok());
        old_ids.push_back(r->ids.report_id);
        if (i > 0) {
            attempt_result delivered;
            delivered.outcome = attempt_result::kind::delivered;
            delivered.provider_id = "p-" + std::to_string(i);
            REQUIRE(attempt_sync(*s, r->notifications[0].id, delivered).ok());
        }
    }
    for (int i = 0; i < 3; ++i) {
        auto r = ingest_sync(*s, make_report("young-" + std::to_string(i), t0 + 190 * day_ms));
        REQUIRE(r.ok());
        young_ids.push_back(r->ids.report_id);
    }
    raw_db raw(dir.db());
    const auto audit_before = raw.scalar("SELECT count(*) FROM audit_events");

    // 180 days before now: the old ones go. Batches of 2 reports: several batches.
    const auto p = sweep(*s, clock.now_ms() - 180 * day_ms, 2);
    CHECK(p.reports == 5);
    CHECK(p.notifications == 10);
    CHECK(p.batches == 3);  // 2 + 2 + 1 old, the third one stops at the first young report
    CHECK(p.last_id == old_ids.back());

    for (const auto id : old_ids) {
        const auto where = " FROM reports WHERE id = " + std::to_string(id);
        CHECK(raw.text("SELECT sender" + where) == "");
        CHECK(raw.text("SELECT subject" + where) == "");
        CHECK(raw.text("SELECT text" + where) == "");
        CHECK(raw.text("SELECT labels" + where) == "{}");
        CHECK(raw.text("SELECT typeof(text)" + where) == "text");
        // Ids, times, source and external id stay (a re-delivery is still a duplicate).
        CHECK(raw.scalar("SELECT received_at" + where) > 0);
        CHECK(raw.text("SELECT external_id" + where).rfind("old-", 0) == 0);
        const auto nwhere = " FROM notifications WHERE report_id = " + std::to_string(id);
        CHECK(raw.scalar("SELECT count(*)" + nwhere) == 2);
        CHECK(raw.scalar("SELECT count(*)" + nwhere +
                         " AND address = 'purged' AND payload = '' AND typeof(payload) = 'text'") ==
              2);
        CHECK(raw.scalar("SELECT count(*) FROM cases WHERE report_id = " + std::to_string(id)) ==
              1);
        auto loaded = s->load_report(id);
        REQUIRE(loaded.ok());
        REQUIRE(loaded->has_value());
        CHECK((*loaded)->text.empty());
        CHECK((*loaded)->sender.empty());
    }
    // The first report's notifications were pending: failed now, never sent with no address.
    CHECK(raw.scalar(
              "SELECT count(*) FROM notifications WHERE report_id = " + std::to_string(old_ids[0]) +
              " AND status = 'failed' AND last_error = 'purged by retention'") == 2);
    // A delivered one keeps its status and provider id.
    CHECK(raw.text("SELECT provider_id FROM notifications WHERE report_id = " +
                   std::to_string(old_ids[1]) + " AND status = 'delivered'") == "p-1");
    auto due = due_sync(*s, clock.now_ms() + day_ms, 100);
    REQUIRE(due.ok());
    for (const auto& n : *due) {
        CHECK(n.address != "purged");
    }
    for (const auto id : young_ids) {
        CHECK(raw.opened("reports", "text", id).find("Detained at the station young-") == 0);
        CHECK(raw.opened("reports", "sender", id) == "+79001234567");
    }
    // The trail stays, plus one event for the sweep with its counts.
    CHECK(raw.scalar("SELECT count(*) FROM audit_events") == audit_before + 1);
    CHECK(raw.scalar("SELECT count(*) FROM audit_events WHERE kind = 'report_received'") == 8);
    CHECK(raw.text("SELECT actor FROM audit_events WHERE kind = 'retention_sweep'") == "retention");
    CHECK(raw.scalar("SELECT json_extract(detail, '$.reports') FROM audit_events WHERE kind = "
                     "'retention_sweep'") == 5);
    CHECK(raw.scalar("SELECT json_extract(detail, '$.notifications') FROM audit_events WHERE "
                     "kind = 'retention_sweep'") == 10);
    CHECK(raw.scalar("SELECT at FROM audit_events WHERE kind = 'retention_sweep'") ==
          clock.now_ms());

    SUBCASE("a second sweep purges nothing again and is audited too") {
        const auto again = sweep(*s, clock.now_ms() - 180 * day_ms, 2);
        CHECK(again.reports == 0);
        CHECK(again.notifications == 0);
        CHECK(raw.scalar("SELECT count(*) FROM audit_events WHERE kind = 'retention_sweep'") == 2);
    }
    SUBCASE("resuming after the last purged id, the young ones go once they age") {
        clock.advance(200 * day_ms);
        const auto later = sweep(*s, clock.now_ms() - 180 * day_ms, 2, p.last_id);
        CHECK(later.reports == 3);
        CHECK(later.notifications == 3);
        CHECK(raw.scalar("SELECT count(*) FROM reports WHERE typeof(text) = 'blob'") == 0);
    }
}

TEST_CASE("a sweep cut short (limit 0) ends with its audit event and the totals so far") {
    temp_dir dir;
    core::manual_clock clock(t0 + 200 * day_ms);
    auto s = open_store(dir.db(), &clock);
    for (int i = 0; i < 4; ++i) {
        REQUIRE(ingest_sync(*s, make_report("old-" + std::to_string(i), t0 + i)).ok());
    }
    purge_batch b;
    b.received_before = t0 + 100 * day_ms;
    b.limit = 2;
    auto first = purge_sync(*s, b);
    REQUIRE(first.ok());
    CHECK_FALSE(first->done);
    CHECK(first->reports == 2);
    b.after_id = first->last_id;
    b.reports = first->reports;
    b.notifications = first->notifications;
    b.batches = first->batches;
    b.limit = 0;
    auto last = purge_sync(*s, b);
    REQUIRE(last.ok());
    CHECK(last->done);
    CHECK(last->reports == 2);
    CHECK(last->last_id == first->last_id);
    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT json_extract(detail, '$.reports') FROM audit_events WHERE kind = "
                     "'retention_sweep'") == 2);
    CHECK(raw.scalar("SELECT count(*) FROM reports WHERE typeof(text) = 'blob'") == 2);
}

TEST_CASE("retention on an empty store ends at once and is audited") {
    temp_dir dir;
    core::manual_clock clock(t0);
    auto s = open_store(dir.db(), &clock);
    const auto p = sweep(*s, t0, 500);
    CHECK(p.reports == 0);
    CHECK(p.batches == 1);
    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT count(*) FROM audit_events WHERE kind = 'retention_sweep'") == 1);
}

TEST_CASE("backup: a whole, checked, sealed, private copy while writes go on") {
    temp_dir dir;
    core::manual_clock clock(t0);
    auto s = open_store(dir.db(), &clock);
    std::int64_t acked_before = 0;
    for (int i = 0; i < 50; ++i) {
        REQUIRE(ingest_sync(*s, make_report("before-" + std::to_string(i))).ok());
        ++acked_before;
    }
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
        for (int i = 0; !stop; ++i) {
            if (ingest_sync(*s, make_report("during-" + std::to_string(i))).ok()) {
                ++written;
            }
        }
    });
    while (written < 5) {
        std::this_thread::yield();
    }
    const auto to = (dir.path / "copy.db").string();
    backup_options o;
    o.path = dir.db();
    o.to = to;
    const auto report = store::backup(o);
    stop = true;
    writer.join();
    REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.err().describe()));
    CHECK(report->reports >= acked_before + 5);
    CHECK(report->reports <= acked_before + written);
    CHECK(report->notifications == report->reports);
    CHECK(report->pages > 0);
    CHECK(report->bytes > 0);
    CHECK(report->key_id == test_keys()->current().id_hex());
    CHECK(mode_of(to) == 0600U);
    CHECK_FALSE(std::filesystem::exists(to + ".partial"));
    CHECK_FALSE(std::filesystem::exists(to + "-wal"));

    raw_db copy(to);
    CHECK(copy.text("PRAGMA integrity_check") == "ok");
    CHECK(copy.text("PRAGMA journal_mode") == "delete");
    CHECK(copy.scalar("SELECT count(*) FROM reports") == report->reports);
    // Sealed as in the live file: raw SQL sees ciphertext, the key opens it.
    CHECK(copy.text("SELECT typeof(text) FROM reports WHERE id = 1") == "blob");
    CHECK(copy.opened("reports", "text", 1) == "Detained at the station before-0");

    // The copy opens as a store with the same key and serves the reports.
    s->close();
    auto restored = open_store(to, &clock);
    auto first = restored->load_report(1);
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK((*first)->external_id == "before-0");

    SUBCASE("an existing target is refused and left alone") {
        const auto again = store::backup(o);
        REQUIRE_FALSE(again.ok());
        CHECK(again.err().code == "exists");
    }
    SUBCASE("no database: not_found, and no file is made") {
        backup_options missing;
        missing.path = (dir.path / "nothing.db").string();
        missing.to = (dir.path / "nothing-copy.db").string();
        const auto none = store::backup(missing);
        REQUIRE_FALSE(none.ok());
        CHECK(none.err().code == "not_found");
        CHECK_FALSE(std::filesystem::exists(missing.path));
        CHECK_FALSE(std::filesystem::exists(missing.to));
    }
}
