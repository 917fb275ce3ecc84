// ingest::pipeline over a real SQLite store in a temp dir, with a stand-in for the
// dispatcher's enqueue: a report in; the stored report, case and notifications, the
// enqueue call and the counters out; a duplicate; a store error; a config swap.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/asio.hpp"
#include "core/metrics.hpp"
#include "ingest/pipeline.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace std::chrono_literals;

namespace {

using store::testing::temp_dir;

domain::person responder(const std::string& id, const std::string& address) {
    domain::person p;
    p.id = id;
    p.name = id;
    p.language = "en";
    p.contacts.push_back(domain::contact{"hook", address, {}});
    return p;
}

// Root notifies alice; a child route for label kind=detention raises the severity and
// adds bob.
std::shared_ptr<const config::config> make_config(bool with_bob = true) {
    auto cfg = std::make_shared<config::config>();
    cfg->responders.push_back(responder("alice", "http://127.0.0.1:1/a"));
    cfg->responders.push_back(responder("bob", "http://127.0.0.1:1/b"));
    cfg->route.name = "root";
    cfg->route.severity = "normal";
    cfg->route.notify.push_back(domain::target{domain::target::kind::responder, "alice", {}});
    rules::route_node detention;
    detention.name = "detention";
    rules::matcher kind;
    kind.field = "labels.kind";
    kind.label = "kind";
    kind.kind = rules::matcher::op::equal;
    kind.value = "detention";
    detention.match.push_back(std::move(kind));
    detention.severity = "critical";
    if (with_bob) {
        detention.notify.push_back(domain::target{domain::target::kind::responder, "bob", {}});
    }
    cfg->route.routes.push_back(std::move(detention));
    return cfg;
}

domain::report make_report(const std::string& external_id, const std::string& kind) {
    domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.external_id = external_id;
    r.sender = "+79001234567";
    r.subject = "Задержание";
    r.text = "Detained at the station";
    r.labels = {{"kind", kind}};
    r.language = "ru";
    r.received_at = 1'764'061'200'000;
    return r;
}

struct fixture {
    fixture() {
        store::options opts;
        opts.path = (dir.path / "hotline.db").string();
        opts.max_batch = 64;
        opts.unsealed_for_tests = true;  // sealing has its own tests; this one is about the path
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);
        pipe.emplace(io.get_executor(), metrics, ingest::pipeline::commit_to(*db),
                     [this](std::vector<domain::notification> jobs) {
                         CHECK(io_thread == std::this_thread::get_id());
                         events.push_back("enqueue");
                         enqueued.push_back(std::move(jobs));
                     });
        pipe->set_config(make_config());
    }
    ~fixture() {
        pipe.reset();
        db->close();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    // Submits on the io thread (this one) and runs the io_context until `done` ran.
    core::result<domain::report_ids> submit(domain::report r) {
        std::optional<core::result<domain::report_ids>> out;
        const auto refused = pipe->submit(std::move(r), [&](core::result<domain::report_ids> res) {
            CHECK(io_thread == std::this_thread::get_id());
            events.push_back("done");
            out.emplace(std::move(res));
        });
        REQUIRE_FALSE(refused.has_value());
        CHECK_FALSE(out.has_value());  // never answers before the commit
        io.restart();
        for (int i = 0; i < 500 && !out; ++i) {
            io.run_one_for(10ms);
        }
        REQUIRE(out.has_value());
        return std::move(*out);
    }

    double counter(const std::string& name, const core::labels& l) const {
        return metrics.value(name, l);
    }

    temp_dir dir;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::thread::id io_thread{std::this_thread::get_id()};
    core::metrics metrics;
    std::unique_ptr<store::store> db;
    std::optional<ingest::pipeline> pipe;
    std::vector<std::string> events;
    std::vector<std::vector<domain::notification>> enqueued;
};

const core::labels source_label{{"source", "partner-webhook"}};

}  // namespace

TEST_CASE("pipeline: a report is routed, planned, committed, enqueued, then answered") {
    fixture f;
    const auto ids = f.submit(make_report("r1", "detention"));
    REQUIRE(ids.ok());
    CHECK_FALSE(ids->duplicate);
    CHECK(ids->report_id > 0);
    CHECK(ids->case_id > 0);
    CHECK(f.events == std::vector<std::string>{"enqueue", "done"});

    // Stored: the report as given, and one notification per target of the matched path.
    const auto stored = f.db->load_report(ids->report_id);
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    CHECK((*stored)->external_id == "r1");
    CHECK((*stored)->text == "Detained at the station");
    const auto rows = f.db->notifications_for_report(ids->report_id);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 2);
    std::vector<std::string> targets;
    for (const auto& n : *rows) {
        targets.push_back(n.target);
        CHECK(n.case_id == ids->case_id);
    }
    std::sort(targets.begin(), targets.end());
    CHECK(targets == std::vector<std::string>{"responder:alice", "responder:bob"});

    // Enqueued: exactly the stored rows, with their ids.
    REQUIRE(f.enqueued.size() == 1);
    REQUIRE(f.enqueued[0].size() == 2);
    for (const auto& n : f.enqueued[0]) {
        CHECK(n.id > 0);
        CHECK(n.report_id == ids->report_id);
    }
    CHECK(f.counter("hotline_reports_received_total", source_label) == 1);
    CHECK(f.counter("hotline_reports_duplicate_total", source_label) == 0);
}

TEST_CASE("pipeline: a known (source, external_id) is a duplicate, nothing enqueued") {
    fixture f;
    const auto first = f.submit(make_report("r1", "detention"));
    REQUIRE(first.ok());
    f.events.clear();
    const auto again = f.submit(make_report("r1", "other"));
    REQUIRE(again.ok());
    CHECK(again->duplicate);
    CHECK(again->report_id == first->report_id);
    CHECK(again->case_id == first->case_id);
    CHECK(f.events == std::vector<std::string>{"done"});
    CHECK(f.enqueued.size() == 1);
    CHECK(f.counter("hotline_reports_received_total", source_label) == 1);
    CHECK(f.counter("hotline_reports_duplicate_total", source_label) == 1);
}

TEST_CASE("pipeline: a store error is answered as an error, not counted, not enqueued") {
    fixture f;
    f.db->close();  // operations now fail with code "closed"
    const auto res = f.submit(make_report("r1", "detention"));
    REQUIRE_FALSE(res.ok());
    CHECK(res.err().code == "closed");
    CHECK(f.enqueued.empty());
    CHECK(f.events == std::vector<std::string>{"done"});
    CHECK(f.counter("hotline_reports_received_total", source_label) == 0);
}

TEST_CASE("pipeline: each submit plans with the config in force") {
    fixture f;
    f.pipe->set_config(make_config(/*with_bob=*/false));
    const auto ids = f.submit(make_report("r1", "detention"));
    REQUIRE(ids.ok());
    REQUIRE(f.enqueued.size() == 1);
    REQUIRE(f.enqueued[0].size() == 1);
    CHECK(f.enqueued[0][0].target == "responder:alice");
    // A report that matches no child gets the root's targets only.
    f.pipe->set_config(make_config());
    const auto plain = f.submit(make_report("r2", "other"));
    REQUIRE(plain.ok());
    REQUIRE(f.enqueued.size() == 2);
    CHECK(f.enqueued[1].size() == 1);
}

TEST_CASE("pipeline: without a config the submit is answered with an error") {
    asio::io_context io;
    core::metrics metrics;
    bool committed = false;
    ingest::pipeline p(
        io.get_executor(), metrics,
        [&](domain::report, domain::case_info, std::vector<domain::planned_notification>,
            std::vector<store::new_timer>,
            std::function<void(core::result<store::ingest_result>)>) { committed = true; },
        [](std::vector<domain::notification>) {});
    std::optional<core::result<domain::report_ids>> out;
    CHECK_FALSE(p.submit(make_report("r1", "x"), [&](core::result<domain::report_ids> r) {
                     out.emplace(r);
                 }).has_value());
    io.run();
    REQUIRE(out.has_value());
    REQUIRE_FALSE(out->ok());
    CHECK(out->err().code == "config");
    CHECK_FALSE(committed);
}

namespace {

// A pipeline whose commits are held until the test lets them land (a stalled store).
struct deadline_commits {
    explicit deadline_commits(std::chrono::milliseconds submit_timeout)
        : pipe(
              io.get_executor(), metrics,
              [this](domain::report, domain::case_info, std::vector<domain::planned_notification>,
                     std::vector<store::new_timer>,
                     std::function<void(core::result<store::ingest_result>)> done) {
                  held.push_back(std::move(done));
              },
              [this](std::vector<domain::notification> jobs) {
                  enqueued.push_back(std::move(jobs));
              }) {
        auto cfg = std::make_shared<config::config>(*make_config());
        cfg->server.submit_timeout = submit_timeout;
        pipe.set_config(cfg);
    }

    void submit(domain::report r) {
        const auto refused = pipe.submit(
            std::move(r), [this](core::result<domain::report_ids> res) { answers.push_back(res); });
        REQUIRE_FALSE(refused.has_value());
    }

    template <class Pred>
    void run_until(Pred pred, std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (!pred() && std::chrono::steady_clock::now() < until) {
            io.run_one_for(5ms);
        }
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::metrics metrics;
    std::vector<std::function<void(core::result<store::ingest_result>)>> held;
    std::vector<std::vector<domain::notification>> enqueued;
    std::vector<core::result<domain::report_ids>> answers;
    ingest::pipeline pipe;
};

store::ingest_result stored(std::int64_t report_id) {
    store::ingest_result r;
    r.ids.report_id = report_id;
    r.ids.case_id = report_id;
    r.notifications.emplace_back();
    return r;
}

}  // namespace

TEST_CASE("pipeline: no commit within submit_timeout is answered 'timeout'; a late one enqueues") {
    deadline_commits h(100ms);
    const auto started = std::chrono::steady_clock::now();
    h.submit(make_report("r1", "detention"));
    h.run_until([&] { return !h.answers.empty(); }, 5s);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(h.answers.size() == 1);
    REQUIRE_FALSE(h.answers[0].ok());
    CHECK(h.answers[0].err().code == "timeout");
    CHECK(took >= 100ms);
    CHECK(took < 3s);
    CHECK(h.enqueued.empty());

    // The commit lands after all: its notifications are sent, the source is not answered
    // twice (its retry will be a duplicate), and the report counts as received.
    REQUIRE(h.held.size() == 1);
    h.held[0](stored(7));
    h.run_until([&] { return !h.enqueued.empty(); }, 5s);
    CHECK(h.enqueued.size() == 1);
    h.io.run_for(20ms);
    CHECK(h.answers.size() == 1);
    CHECK(h.metrics.value("hotline_reports_received_total", source_label) == 1);
}

TEST_CASE("pipeline: a commit within submit_timeout is answered once, the deadline is void") {
    deadline_commits h(50ms);
    h.submit(make_report("r1", "detention"));
    h.io.run_for(5ms);
    REQUIRE(h.held.size() == 1);
    h.held[0](stored(8));
    h.run_until([&] { return !h.answers.empty(); }, 5s);
    REQUIRE(h.answers.size() == 1);
    REQUIRE(h.answers[0].ok());
    CHECK(h.answers[0]->report_id == 8);
    h.io.run_for(150ms);  // past the deadline: nothing more
    CHECK(h.answers.size() == 1);
    CHECK(h.enqueued.size() == 1);

    // A failed commit before the deadline is answered with its error, once.
    h.submit(make_report("r2", "detention"));
    h.io.run_for(5ms);
    REQUIRE(h.held.size() == 2);
    h.held[1](core::make_error("disk_full", "full"));
    h.io.run_for(150ms);
    REQUIRE(h.answers.size() == 2);
    REQUIRE_FALSE(h.answers[1].ok());
    CHECK(h.answers[1].err().code == "disk_full");
}

TEST_CASE("pipeline: rejections count by source and reason") {
    asio::io_context io;
    core::metrics metrics;
    ingest::pipeline p(io.get_executor(), metrics, nullptr, nullptr);
    p.rejected("partner-webhook", "bad_json");
    p.rejected("partner-webhook", "bad_json");
    p.rejected("", "unauthorized");
    CHECK(metrics.value("hotline_reports_rejected_total",
                        {{"source", "partner-webhook"}, {"reason", "bad_json"}}) == 2);
    CHECK(metrics.value("hotline_reports_rejected_total",
                        {{"source", ""}, {"reason", "unauthorized"}}) == 1);
    CHECK(metrics.render().find("# HELP hotline_reports_received_total") != std::string::npos);
}

namespace {

// The pipeline over a commit_fn that holds every commit until the test completes it, so
// what is at the store (in flight) and what waits in the fair queue can be seen.
struct held_commits {
    struct call {
        std::string source;
        std::string external_id;
        std::function<void(core::result<store::ingest_result>)> done;
    };

    explicit held_commits(config::ingest_limits limits) {
        auto cfg = std::const_pointer_cast<config::config>(make_config());
        cfg->route.severity = "low";  // everything but detention (critical) is low
        cfg->server.limits.source.rate = 0;
        cfg->server.limits.sender.rate = 0;
        cfg->server.ingest = limits;
        pipe.emplace(
            io.get_executor(), metrics,
            [this](domain::report r, domain::case_info, std::vector<domain::planned_notification>,
                   std::vector<store::new_timer>,
                   std::function<void(core::result<store::ingest_result>)> done) {
                calls.push_back({r.source, r.external_id, std::move(done)});
            },
            [](std::vector<domain::notification>) {});
        pipe->set_config(cfg);
    }

    std::optional<ingest::pipeline::refusal> submit(const std::string& source,
                                                    const std::string& external_id,
                                                    const std::string& kind) {
        auto r = make_report(external_id, kind);
        r.source = source;
        return pipe->submit(std::move(r), [this](core::result<domain::report_ids> res) {
            answered += res.ok() ? 1 : 0;
        });
    }

    // Completes the commit of call `i` and runs what it posted.
    void complete(std::size_t i) {
        const std::int64_t id = static_cast<std::int64_t>(i) + 1;
        calls[i].done(store::ingest_result{{id, id, false}, {}, {}});
        io.restart();
        io.poll();
    }

    asio::io_context io;
    core::metrics metrics;
    std::optional<ingest::pipeline> pipe;
    std::vector<call> calls;
    int answered{0};
};

config::ingest_limits ingest_limits(std::size_t in_flight, std::size_t per_source) {
    config::ingest_limits l;
    l.max_in_flight = in_flight;
    l.max_in_flight_per_source = per_source;
    l.max_queued = 20'000;
    l.max_queued_per_source = 20'000;
    return l;
}

}  // namespace

TEST_CASE("fair ingest: a critical report is not queued behind 10,000 low ones") {
    held_commits h(ingest_limits(4, 4));  // source A may take every slot at the store
    for (int i = 0; i < 10'000; ++i) {
        REQUIRE_FALSE(h.submit("A", "low-" + std::to_string(i), "x").has_value());
    }
    CHECK(h.calls.size() == 4);
    CHECK(h.pipe->in_flight() == 4);
    CHECK(h.pipe->queued() == 9'996);
    REQUIRE_FALSE(h.submit("B", "crit", "detention").has_value());
    CHECK(h.calls.size() == 4);  // the store's slots are all taken
    h.complete(0);
    REQUIRE(h.calls.size() == 5);
    CHECK(h.calls[4].source == "B");  // the next to commit, ahead of 9,996 low ones
    CHECK(h.calls[4].external_id == "crit");
    CHECK(h.answered == 1);
    // Then A goes on, in its own order.
    h.complete(1);
    REQUIRE(h.calls.size() == 6);
    CHECK(h.calls[5].external_id == "low-4");
}

TEST_CASE("fair ingest: one source cannot take every slot at the store") {
    held_commits h(ingest_limits(4, 2));
    for (int i = 0; i < 100; ++i) {
        REQUIRE_FALSE(h.submit("A", "a-" + std::to_string(i), "x").has_value());
    }
    CHECK(h.calls.size() == 2);
    // B (even with a low report) starts at once: A is at its per-source cap.
    REQUIRE_FALSE(h.submit("B", "b-0", "x").has_value());
    REQUIRE(h.calls.size() == 3);
    CHECK(h.calls[2].source == "B");
}

TEST_CASE("fair ingest: a full queue refuses at once (429 per source, 503 overall)") {
    auto l = ingest_limits(1, 1);
    l.max_queued_per_source = 3;
    l.max_queued = 5;
    held_commits h(l);
    for (int i = 0; i < 4; ++i) {  // one in flight, three queued
        REQUIRE_FALSE(h.submit("A", "a-" + std::to_string(i), "x").has_value());
    }
    const auto refused = h.submit("A", "a-4", "x");
    REQUIRE(refused.has_value());
    CHECK(refused->status == 429);
    CHECK(refused->limiter == "queue");
    CHECK(refused->retry_after_s >= 1);
    REQUIRE_FALSE(h.submit("B", "b-0", "x").has_value());
    REQUIRE_FALSE(h.submit("B", "b-1", "x").has_value());
    const auto all = h.submit("C", "c-0", "x");
    REQUIRE(all.has_value());
    CHECK(all->status == 503);
    CHECK(h.metrics.value("hotline_reports_limited_total",
                          {{"source", "A"}, {"limiter", "queue"}}) == 1);
    CHECK(h.metrics.value("hotline_reports_limited_total",
                          {{"source", "C"}, {"limiter", "queue"}}) == 1);
    CHECK(h.calls.size() == 1);  // nothing refused reached the store
}

TEST_CASE("pipeline: a rate-limited report is refused before routing, never committed") {
    held_commits h(ingest_limits(4, 4));
    auto cfg = std::make_shared<config::config>(*make_config());
    cfg->route.severity = "low";
    cfg->server.limits.source.rate = 0;
    cfg->server.limits.sender = {1.0 / 60.0, 2};
    h.pipe->set_config(cfg);
    core::manual_clock clock;
    h.pipe->set_clock(clock);
    REQUIRE_FALSE(h.submit("A", "r-0", "x").has_value());
    REQUIRE_FALSE(h.submit("A", "r-1", "x").has_value());
    const auto refused = h.submit("A", "r-2", "x");  // same sender (make_report's)
    REQUIRE(refused.has_value());
    CHECK(refused->status == 429);
    CHECK(refused->limiter == "sender");
    CHECK(refused->retry_after_s == 60);
    CHECK(h.calls.size() == 2);
    CHECK(h.metrics.value("hotline_reports_limited_total",
                          {{"source", "A"}, {"limiter", "sender"}}) == 1);
    clock.advance(60'000);
    CHECK_FALSE(h.submit("A", "r-3", "x").has_value());
    CHECK(h.calls.size() == 3);
}

TEST_CASE("pipeline: a silenced report is stored with its case but plans nobody") {
    fixture f;
    store::silence s;
    s.id = 42;
    s.matchers = {R"(sender = "+79001234567")", R"(labels.kind = "drill")"};
    s.starts_at = make_report("x", "drill").received_at;
    s.ends_at = s.starts_at + 60'000;
    s.author = "responder:alice";
    f.pipe->set_silences(ingest::silence_set::compile({s}));

    const auto silenced = f.submit(make_report("r1", "drill"));
    REQUIRE(silenced.ok());
    CHECK(silenced->case_id > 0);
    const auto stored = f.db->load_report(silenced->report_id);
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    CHECK((*stored)->text == "Detained at the station");
    const auto rows = f.db->notifications_for_report(silenced->report_id);
    REQUIRE(rows.ok());
    CHECK(rows->empty());
    CHECK(f.counter("hotline_reports_silenced_total", source_label) == 1);
    CHECK(f.counter("hotline_reports_received_total", source_label) == 1);
    store::testing::raw_db raw((f.dir.path / "hotline.db").string());
    CHECK(raw.text("SELECT json_extract(labels, '$.silenced_by') FROM cases WHERE id = " +
                   std::to_string(silenced->case_id)) == "42");
    CHECK(raw.text("SELECT json_extract(detail, '$.silenced_by') FROM audit_events WHERE "
                   "kind = 'report_received' AND report_id = " +
                   std::to_string(silenced->report_id)) == "42");

    // Another label, another time, or no silence any more: planned as usual.
    const auto other = f.submit(make_report("r2", "detention"));
    REQUIRE(other.ok());
    CHECK(f.db->notifications_for_report(other->report_id)->size() == 2);
    auto late = make_report("r3", "drill");
    late.received_at = s.ends_at;
    const auto after = f.submit(late);
    REQUIRE(after.ok());
    CHECK(f.db->notifications_for_report(after->report_id)->size() == 1);
    CHECK(raw.scalar("SELECT count(*) FROM cases WHERE json_extract(labels, '$.silenced_by') "
                     "IS NOT NULL") == 1);
    f.pipe->set_silences({});
    const auto unsilenced = f.submit(make_report("r4", "drill"));
    REQUIRE(unsilenced.ok());
    CHECK(f.db->notifications_for_report(unsilenced->report_id)->size() == 1);
    CHECK(f.counter("hotline_reports_silenced_total", source_label) == 1);
}

TEST_CASE("pipeline: reload_silences reads the store's live silences into the pipeline") {
    fixture f;
    store::new_silence n;
    n.matchers = {R"(labels.kind = "drill")"};
    n.starts_at = 0;
    n.ends_at = 4'000'000'000'000;
    n.author = "admin:ops";
    n.comment = "drill";
    const auto added = store::testing::wait_for<store::silence>(
        [&](auto done) { f.db->add_silence(n, std::move(done)); });
    REQUIRE(added.ok());
    std::optional<core::status> loaded;
    ingest::reload_silences(*f.db, *f.pipe, f.io.get_executor(),
                            [&](core::status s) { loaded.emplace(std::move(s)); });
    f.io.restart();
    for (int i = 0; i < 500 && !loaded; ++i) {
        f.io.run_one_for(10ms);
    }
    REQUIRE(loaded.has_value());
    CHECK(loaded->ok());
    const auto ids = f.submit(make_report("r1", "drill"));
    REQUIRE(ids.ok());
    CHECK(f.db->notifications_for_report(ids->report_id)->empty());
}
