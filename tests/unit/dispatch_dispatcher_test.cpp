// The dispatcher's state machine over a real SQLite store and the real webhook module, with
// a scripted net::sender in place of the curl transport: delivery, retries (same
// idempotency key), fall-through to the next contact, dead letters to the admins (and no
// loop when an admin's alert fails), and the shutdown grace that aborts a hung transfer.
// Timers wait real time, so the retry policy uses millisecond backoffs.
#include <doctest/doctest.h>
#include <sodium.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "dispatch/dispatcher.hpp"
#include "dispatch/plugin_host.hpp"
#include "net/sender.hpp"
#include "plugin_test_support.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace std::chrono_literals;

namespace {

// One scripted answer; `hang` never answers until cancel_all.
struct step {
    net::reply reply;
    bool hang{false};
};

step http(long status, net::header_list headers = {}) {
    step s;
    s.reply.status = status;
    s.reply.headers = std::move(headers);
    return s;
}

step transport_error(int curl_code) {
    step s;
    s.reply.curl_code = curl_code;
    s.reply.error_text = "scripted transport error";
    return s;
}

step hang() {
    step s;
    s.hang = true;
    return s;
}

// Answers from the script, in order (HTTP 200 once it runs out), on the io thread and never
// inside perform; records every request.
class fake_sender final : public net::sender {
public:
    explicit fake_sender(asio::io_context& io) : io_(io) {}

    void perform(net::request req, core::duration /*timeout*/,
                 std::function<void(net::reply)> done) override {
        requests.push_back(std::move(req));
        step s = script.empty() ? http(200) : std::move(script.front());
        if (!script.empty()) {
            script.pop_front();
        }
        if (s.hang) {
            hung_.push_back(std::move(done));
            return;
        }
        ++posted_;
        asio::post(io_, [this, done = std::move(done), r = std::move(s.reply)]() mutable {
            --posted_;
            done(std::move(r));
        });
    }

    [[nodiscard]] std::size_t in_flight() const override { return hung_.size() + posted_; }

    void cancel_all() override {
        ++cancels;
        auto hung = std::move(hung_);
        hung_.clear();
        for (auto& done : hung) {
            net::reply r;
            r.curl_code = 42;  // CURLE_ABORTED_BY_CALLBACK, as the curl transport answers
            r.error_text = "aborted";
            ++posted_;
            asio::post(io_, [this, done = std::move(done), r = std::move(r)]() mutable {
                --posted_;
                done(std::move(r));
            });
        }
    }

    std::deque<step> script;
    std::vector<net::request> requests;
    int cancels{0};

private:
    asio::io_context& io_;
    std::vector<std::function<void(net::reply)>> hung_;
    std::size_t posted_{0};
};

// What the dispatcher and the store read as now: a fixed start plus the real (steady) time
// since. Not core::manual_clock: the dispatcher arms real timers from clock differences and
// then checks due jobs against the clock, so a clock stepped by the test between io slices
// is stale when a timer fires inside one, misses the job and leaves it to the 5 s scan.
class real_time_clock final : public core::clock {
public:
    [[nodiscard]] std::int64_t now_ms() const override {
        return start_ms_ + std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - real_start_)
                               .count();
    }

private:
    std::int64_t start_ms_{1'764'061'200'000};
    std::chrono::steady_clock::time_point real_start_{std::chrono::steady_clock::now()};
};

const plugin_test::channel_block hook_block{"conf/hotline.yaml", "hook", "webhook", 20, 5, 7};

const std::string alice_1 = "http://127.0.0.1:9/alice-1";
const std::string alice_2 = "http://127.0.0.1:9/alice-2";
const std::string admin_url = "http://127.0.0.1:9/admin";

domain::person person(const std::string& id, std::vector<std::string> addresses) {
    domain::person p;
    p.id = id;
    p.name = id;
    p.language = "en";
    for (auto& a : addresses) {
        p.contacts.push_back(domain::contact{"hook", std::move(a), {}});
    }
    return p;
}

std::string header(const net::request& r, const std::string& key) {
    for (const auto& [k, v] : r.headers) {
        if (k == key) {
            return v;
        }
    }
    return {};
}

struct fixture {
    fixture() {
        REQUIRE(sodium_init() >= 0);
        store::options opts;
        opts.path = dir.db();
        opts.clock = &clock;
        opts.keys = store::testing::test_keys();
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);

        auto cfg = std::make_shared<config::config>();
        cfg->responders.push_back(person("alice", {alice_1, alice_2}));
        cfg->admins.push_back(person("ops", {admin_url}));
        auto channel = hook_block.config({hook_block.option("secret", "k3y", 21, true)});
        channel.retry.initial_backoff = 1ms;
        channel.retry.max_backoff = 2ms;
        channel.retry.max_attempts = 5;
        auto inst = host.instantiate_channel(channel, "channels[0]");
        if (!inst.ok()) {
            FAIL(inst.err().describe());
        }
        disp.emplace(io, *db, net, metrics, clock);
        disp->set_config(cfg, dispatch::channel_map{{"hook", *inst}});
    }
    ~fixture() {
        disp.reset();
        db->close();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    // Stores a report with one job for alice's first contact and hands it to the dispatcher.
    void ingest_and_enqueue() {
        domain::planned_notification p;
        p.channel = "hook";
        p.address = alice_1;
        p.target = "responder:alice";
        p.contact_index = 0;
        p.language = "en";
        p.payload = {{"kind", "alert"}, {"severity", "critical"}, {"target", "responder:alice"}};
        auto r = store::testing::ingest_sync(*db, store::testing::make_report("r1"), {p});
        REQUIRE(r.ok());
        REQUIRE(r->notifications.size() == 1);
        report_id = r->ids.report_id;
        disp->enqueue(r->notifications);
    }

    void tick() { io.run_for(2ms); }

    // Runs until `done` holds or `max_ms` of real time passed.
    bool drive(const std::function<bool()>& done, int max_ms = 3000) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
        while (!done() && std::chrono::steady_clock::now() < until) {
            tick();
        }
        return done();
    }

    // Lets whatever is queued run for a while (to see that nothing more happens).
    void settle(int ms = 100) {
        drive([] { return false; }, ms);
    }

    std::vector<domain::notification> rows() {
        auto r = db->notifications_for_report(report_id);
        REQUIRE(r.ok());
        return *r;
    }

    std::optional<domain::notification> row_for(const std::string& target, int contact_index) {
        for (auto& n : rows()) {
            if (n.target == target && n.contact_index == contact_index) {
                return n;
            }
        }
        return std::nullopt;
    }

    bool status_is(const std::string& target, int contact_index, domain::notification_status s) {
        const auto n = row_for(target, contact_index);
        return n && n->status == s;
    }

    // First, so it outlives every channel instance (the sender's hung callbacks hold one).
    dispatch::plugin_host host{HOTLINE_PLUGIN_DIR};
    store::testing::temp_dir dir;
    real_time_clock clock;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::metrics metrics;
    fake_sender net{io};
    std::unique_ptr<store::store> db;
    std::optional<dispatch::dispatcher> disp;
    std::int64_t report_id{0};
};

using status = domain::notification_status;
const core::labels hook_label{{"channel", "hook"}};

}  // namespace

TEST_CASE("dispatcher: HTTP 200 delivers with one request") {
    fixture f;
    f.net.script = {http(200, {{"X-Request-Id", "prov-1"}})};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }));
    f.settle();
    REQUIRE(f.net.requests.size() == 1);
    CHECK(f.net.requests[0].url == alice_1);
    CHECK(f.net.requests[0].kind == net::protocol::http);
    const auto rows = f.rows();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].attempts == 1);
    CHECK(rows[0].provider_id == "prov-1");
    CHECK(header(f.net.requests[0], "Idempotency-Key") == rows[0].idempotency_key);
    CHECK(f.metrics.value("hotline_notifications_sent_total", hook_label) == 1);
    CHECK(f.metrics.value("hotline_notifications_retried_total", hook_label) == 0);
    CHECK(f.disp->in_flight() == 0);
}

TEST_CASE("dispatcher: 503 and a transport error are retried with the same key, then delivered") {
    fixture f;
    f.net.script = {http(503), transport_error(7), http(200)};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }));
    f.settle();
    REQUIRE(f.net.requests.size() == 3);
    const auto rows = f.rows();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].attempts == 3);
    for (const auto& r : f.net.requests) {
        CHECK(r.url == alice_1);
        CHECK(header(r, "Idempotency-Key") == rows[0].idempotency_key);
    }
    CHECK_FALSE(rows[0].idempotency_key.empty());
    CHECK(f.metrics.value("hotline_notifications_retried_total", hook_label) == 2);
    CHECK(f.metrics.value("hotline_notifications_sent_total", hook_label) == 1);
}

TEST_CASE("dispatcher: 429 with Retry-After waits at least that long") {
    fixture f;
    f.net.script = {http(429, {{"Retry-After", "1"}}), hang()};
    const auto t0 = f.clock.now_ms();
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] {
        const auto n = f.row_for("responder:alice", 0);
        return n && n->attempts == 1;
    }));
    const auto n = f.row_for("responder:alice", 0);
    REQUIRE(n.has_value());
    CHECK(n->status == status::pending);
    CHECK(n->next_attempt_at >= t0 + 1000);
    CHECK(n->last_error.find("429") != std::string::npos);
    CHECK(f.net.requests.size() == 1);  // the retry waits the second out (real time)
    REQUIRE(f.drive([&] { return f.net.requests.size() == 2; }, 4000));
}

TEST_CASE("dispatcher: 410 falls through to the target's next contact") {
    fixture f;
    f.net.script = {http(410), http(200)};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 1, status::delivered); }));
    f.settle();
    REQUIRE(f.net.requests.size() == 2);
    CHECK(f.net.requests[0].url == alice_1);
    CHECK(f.net.requests[1].url == alice_2);
    CHECK(f.status_is("responder:alice", 0, status::failed));
    CHECK(f.rows().size() == 2);
    CHECK(f.metrics.value("hotline_notifications_failed_total", hook_label) == 1);
    CHECK(f.metrics.value("hotline_notifications_dead_total", hook_label) == 0);
}

TEST_CASE("dispatcher: every contact failing is a dead letter; the admin's own failure ends it") {
    fixture f;
    f.net.script = {http(410), http(404), http(410)};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("admin:ops", 0, status::dead); }));
    f.settle(200);
    // alice-1, alice-2, then the admin's alert; nothing after the admin's alert failed.
    REQUIRE(f.net.requests.size() == 3);
    CHECK(f.net.requests[0].url == alice_1);
    CHECK(f.net.requests[1].url == alice_2);
    CHECK(f.net.requests[2].url == admin_url);
    CHECK(f.status_is("responder:alice", 0, status::failed));
    CHECK(f.status_is("responder:alice", 1, status::dead));
    const auto admin = f.row_for("admin:ops", 0);
    REQUIRE(admin.has_value());
    CHECK(admin->payload.value("kind", std::string{}) == "dead_letter");
    CHECK(admin->payload.value("target", std::string{}) == "responder:alice");
    CHECK(f.rows().size() == 3);
    CHECK(f.metrics.value("hotline_notifications_dead_total", hook_label) == 2);
    CHECK(f.disp->in_flight() == 0);
}

TEST_CASE("dispatcher: at grace expiry a hung transfer is aborted and its job stays pending") {
    fixture f;
    f.net.script = {hang()};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.net.requests.size() == 1; }));
    bool stopped = false;
    f.disp->shutdown(300ms, [&] { stopped = true; });
    f.settle(30);
    CHECK_FALSE(stopped);  // waits for the transfer within the grace
    CHECK(f.net.cancels == 0);
    REQUIRE(f.drive([&] { return stopped; }, 3000));
    CHECK(f.net.cancels == 1);
    CHECK(f.net.in_flight() == 0);
    // Abort code 42 is a transport error the webhook module classifies as "retry": the
    // attempt is counted and the job stays pending for the next start.
    const auto n = f.row_for("responder:alice", 0);
    REQUIRE(n.has_value());
    CHECK(n->status == status::pending);
    CHECK(n->attempts == 1);
    CHECK(n->last_error.find("transport error 42") != std::string::npos);
    f.settle();
    CHECK(f.net.requests.size() == 1);  // stopped: no new attempt after shutdown
}
