// The dispatcher's state machine over a real SQLite store and the real webhook module, with
// a scripted net::sender in place of the curl transport: delivery, retries (same
// idempotency key), fall-through to the next contact, dead letters to the admins (and no
// loop when an admin's alert fails), and the shutdown grace that aborts a hung transfer
// without counting it as an attempt. Issue 7: outcomes the store cannot record are held (a
// flaky_store wrapper fails record_attempt on demand), the backlog in memory is bounded per
// channel and paged in from the store, and a critical job never waits behind low ones.
// Timers wait real time, so the retry policy uses millisecond backoffs.
#include <doctest/doctest.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "dispatch/ack_link.hpp"
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

namespace st = hotline::store;

// The real store, except that record_attempt fails with "disk_full" while `fail_records`
// is set (as SQLite answers on a full disk), without reaching the store. Counts the
// record_attempt calls that reached the store, by notification id.
class flaky_store final : public hotline::store::store {
public:
    explicit flaky_store(hotline::store::store& inner) : inner_(inner) {}

    using hotline::store::store::ingest;
    void ingest(domain::report r, st::case_info c, std::vector<st::planned_notification> planned,
                std::vector<st::new_timer> timers,
                std::function<void(core::result<st::ingest_result>)> done) override {
        inner_.ingest(std::move(r), std::move(c), std::move(planned), std::move(timers),
                      std::move(done));
    }
    void record_attempt(std::int64_t id, st::attempt_result outcome,
                        std::function<void(core::result<st::attempt_record>)> done) override {
        ++record_calls;
        if (fail_records) {
            done(core::make_error("disk_full", "database or disk is full"));
            return;
        }
        ++recorded[id];
        inner_.record_attempt(id, std::move(outcome), std::move(done));
    }
    void due(std::int64_t now_ms, st::due_query q,
             std::function<void(core::result<std::vector<st::notification>>)> done) override {
        ++due_calls;
        if (!q.channel.empty()) {  // the sweep for unconfigured channels has its own limit
            max_exclude = std::max(max_exclude, q.exclude.size());
            max_limit = std::max(max_limit, q.limit);
        }
        inner_.due(now_ms, std::move(q), std::move(done));
    }
    void next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) override {
        inner_.next_due(std::move(done));
    }
    void get_stats(std::int64_t now_ms,
                   std::function<void(core::result<st::stats>)> done) override {
        inner_.get_stats(now_ms, std::move(done));
    }
    void outbox_stats(std::int64_t now_ms,
                      std::function<void(core::result<st::stats>)> done) override {
        inner_.outbox_stats(now_ms, std::move(done));
    }
    void add_timers(std::vector<st::new_timer> timers,
                    std::function<void(core::result<std::vector<std::int64_t>>)> done) override {
        inner_.add_timers(std::move(timers), std::move(done));
    }
    void claim_due_timers(std::int64_t now_ms, std::string owner, std::int64_t lease_ms,
                          std::size_t limit,
                          std::function<void(core::result<std::vector<st::timer>>)> done) override {
        inner_.claim_due_timers(now_ms, std::move(owner), lease_ms, limit, std::move(done));
    }
    void complete_timer(std::int64_t id, std::string owner,
                        std::function<void(core::result<st::timer_completion>)> done) override {
        inner_.complete_timer(id, std::move(owner), std::move(done));
    }
    void cancel_timers(std::string subject, std::string kind,
                       std::function<void(core::result<std::int64_t>)> done) override {
        inner_.cancel_timers(std::move(subject), std::move(kind), std::move(done));
    }
    void next_timer_due(
        std::function<void(core::result<std::optional<std::int64_t>>)> done) override {
        inner_.next_timer_due(std::move(done));
    }
    void purge_contents(st::purge_batch batch,
                        std::function<void(core::result<st::purge_progress>)> done) override {
        inner_.purge_contents(std::move(batch), std::move(done));
    }
    core::result<std::vector<st::notification>> notifications_for_report(
        std::int64_t report_id) override {
        return inner_.notifications_for_report(report_id);
    }
    std::chrono::steady_clock::time_point writer_heartbeat() const override {
        return inner_.writer_heartbeat();
    }
    core::result<std::optional<domain::report>> load_report(std::int64_t report_id) override {
        return inner_.load_report(report_id);
    }
    core::result<std::vector<domain::attachment>> attachments_for_report(
        std::int64_t report_id) override {
        return inner_.attachments_for_report(report_id);
    }
    void case_targets(
        std::int64_t case_id,
        std::function<void(core::result<std::optional<std::vector<std::string>>>)> done) override {
        inner_.case_targets(case_id, std::move(done));
    }
    void get_case(std::int64_t case_id,
                  std::function<void(core::result<std::optional<st::case_view>>)> done) override {
        inner_.get_case(case_id, std::move(done));
    }
    void list_cases(st::case_query q,
                    std::function<void(core::result<std::vector<st::case_record>>)> done) override {
        inner_.list_cases(std::move(q), std::move(done));
    }
    void act_on_case(st::case_action a,
                     std::function<void(core::result<st::case_action_result>)> done) override {
        inner_.act_on_case(std::move(a), std::move(done));
    }
    void fire_timer(st::timer_firing f,
                    std::function<void(core::result<st::firing_result>)> done) override {
        inner_.fire_timer(std::move(f), std::move(done));
    }
    void find_group_case(
        std::string group_key, std::int64_t now_ms,
        std::function<void(core::result<std::optional<std::int64_t>>)> done) override {
        inner_.find_group_case(std::move(group_key), now_ms, std::move(done));
    }
    void load_cursor(std::string source,
                     std::function<void(core::result<std::optional<std::string>>)> done) override {
        inner_.load_cursor(std::move(source), std::move(done));
    }
    void save_cursor(std::string source, std::string value,
                     std::function<void(core::status)> done) override {
        inner_.save_cursor(std::move(source), std::move(value), std::move(done));
    }
    void known_dedup_keys(
        std::string source, std::vector<std::string> keys,
        std::function<void(core::result<std::vector<std::string>>)> done) override {
        inner_.known_dedup_keys(std::move(source), std::move(keys), std::move(done));
    }
    std::string sms_key(std::string_view purpose, std::string_view value) const override {
        return inner_.sms_key(purpose, value);
    }
    void add_sms_part(st::new_sms_part p,
                      std::function<void(core::result<st::sms_part_added>)> done) override {
        inner_.add_sms_part(std::move(p), std::move(done));
    }
    void take_sms_parts(
        std::string source, std::string group_key,
        std::function<void(core::result<std::vector<st::sms_part>>)> done) override {
        inner_.take_sms_parts(std::move(source), std::move(group_key), std::move(done));
    }
    void delete_sms_parts(std::string source, std::string group_key,
                          std::function<void(core::result<std::int64_t>)> done) override {
        inner_.delete_sms_parts(std::move(source), std::move(group_key), std::move(done));
    }
    void set_sms_opt_out(std::string number, std::string responder,
                         std::function<void(core::result<bool>)> done) override {
        inner_.set_sms_opt_out(std::move(number), std::move(responder), std::move(done));
    }
    void clear_sms_opt_out(std::string number, std::string responder,
                           std::function<void(core::result<bool>)> done) override {
        inner_.clear_sms_opt_out(std::move(number), std::move(responder), std::move(done));
    }
    void list_sms_opt_outs(
        std::function<void(core::result<std::vector<st::sms_opt_out>>)> done) override {
        inner_.list_sms_opt_outs(std::move(done));
    }
    void add_silence(st::new_silence s,
                     std::function<void(core::result<st::silence>)> done) override {
        inner_.add_silence(std::move(s), std::move(done));
    }
    void list_silences(bool all,
                       std::function<void(core::result<std::vector<st::silence>>)> done) override {
        inner_.list_silences(all, std::move(done));
    }
    void expire_silence(std::int64_t id, std::string by,
                        std::function<void(core::result<st::silence_expiry>)> done) override {
        inner_.expire_silence(id, std::move(by), std::move(done));
    }
    void change_checkin(st::checkin_change c,
                        std::function<void(core::result<st::checkin_result>)> done) override {
        inner_.change_checkin(std::move(c), std::move(done));
    }
    void list_checkins(
        std::function<void(core::result<std::vector<st::checkin_state>>)> done) override {
        inner_.list_checkins(std::move(done));
    }
    bool writable() const override { return inner_.writable(); }
    void close() override { inner_.close(); }

    bool fail_records{false};
    int record_calls{0};
    int due_calls{0};
    std::size_t max_exclude{0};
    std::size_t max_limit{0};
    std::map<std::int64_t, int> recorded;

private:
    hotline::store::store& inner_;
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

// Channel settings a test changes from the fixture's defaults.
struct channel_tweaks {
    std::size_t concurrency{0};  // 0: the default
    std::size_t max_queued{0};
};

struct fixture {
    explicit fixture(channel_tweaks tweaks = {}) {
        REQUIRE(sodium_init() >= 0);
        store::options opts;
        opts.path = dir.db();
        opts.clock = &clock;
        opts.keys = store::testing::test_keys();
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);

        cfg = std::make_shared<config::config>();
        cfg->responders.push_back(person("alice", {alice_1, alice_2}));
        cfg->admins.push_back(person("ops", {admin_url}));
        auto channel = hook_block.config({hook_block.option("secret", "k3y", 21, true)});
        channel.retry.initial_backoff = 1ms;
        channel.retry.max_backoff = 2ms;
        channel.retry.max_attempts = 5;
        if (tweaks.concurrency != 0) {
            channel.concurrency = tweaks.concurrency;
        }
        if (tweaks.max_queued != 0) {
            channel.max_queued = tweaks.max_queued;
        }
        auto inst = host.instantiate_channel(channel, "channels[0]");
        if (!inst.ok()) {
            FAIL(inst.err().describe());
        }
        flaky.emplace(*db);
        disp.emplace(io, *flaky, net, metrics, clock);
        hook = *inst;
        disp->set_config(cfg, dispatch::channel_map{{"hook", hook}});
    }
    ~fixture() {
        disp.reset();
        db->close();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    // Stores a report with one job for alice's first contact and hands it to the dispatcher.
    void ingest_and_enqueue() {
        auto r = ingest("r1", {planned(alice_1, "critical")});
        report_id = r.ids.report_id;
        disp->enqueue(r.notifications);
    }

    static domain::planned_notification planned(const std::string& address,
                                                const std::string& severity) {
        domain::planned_notification p;
        p.channel = "hook";
        p.address = address;
        p.target = "responder:alice";
        p.contact_index = 0;
        p.language = "en";
        p.payload = {{"kind", "alert"}, {"severity", severity}, {"target", "responder:alice"}};
        return p;
    }

    // Stores one report with `jobs` (not handed to the dispatcher).
    store::ingest_result ingest(const std::string& external_id,
                                std::vector<domain::planned_notification> jobs) {
        auto r = store::testing::ingest_sync(*db, store::testing::make_report(external_id),
                                             std::move(jobs));
        REQUIRE(r.ok());
        return std::move(*r);
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
    std::optional<flaky_store> flaky;
    std::optional<dispatch::dispatcher> disp;
    std::shared_ptr<config::config> cfg;
    std::shared_ptr<dispatch::channel_instance> hook;
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

TEST_CASE("dispatcher: every notification of a case carries its case tag, with the prefix") {
    fixture f;
    f.net.script = {http(200), http(200)};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }));
    REQUIRE(f.net.requests.size() == 1);
    const auto case_id = f.rows().at(0).case_id;
    REQUIRE(case_id > 0);
    const auto tag = "[HOTLINE #" + std::to_string(case_id) + "]";
    const auto first = nlohmann::json::parse(f.net.requests[0].body);
    CHECK(first["case_tag"] == tag);
    CHECK(first["message"]["subject"].get<std::string>().rfind(tag + " Case #", 0) == 0);
    // The config's prefix, as of the attempt (a reload applies to what is sent next).
    auto next = std::make_shared<config::config>(*f.cfg);
    next->case_tag_prefix = "ngo-2";
    f.disp->set_config(next, dispatch::channel_map{{"hook", f.hook}});
    auto r = f.ingest("r2", {fixture::planned(alice_1, "high")});
    f.disp->enqueue(r.notifications);
    REQUIRE(f.drive([&] { return f.net.requests.size() == 2; }));
    const auto second = nlohmann::json::parse(f.net.requests[1].body);
    const auto tag2 = "[ngo-2 #" + std::to_string(r.ids.case_id) + "]";
    CHECK(second["case_tag"] == tag2);
    CHECK(second["message"]["subject"].get<std::string>().rfind(tag2 + " Case #", 0) == 0);
}

TEST_CASE("dispatcher: with an ack key and a public_url every alert carries a signed ack_url") {
    fixture f;
    f.net.script = {http(503), http(200), http(200)};
    // Without a key (the default): no link.
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }));
    REQUIRE(f.net.requests.size() == 2);
    CHECK_FALSE(nlohmann::json::parse(f.net.requests[0].body).contains("ack_url"));

    const auto storage = core::crypto::key::generate();
    const auto key = dispatch::ack_key(storage);
    auto next = std::make_shared<config::config>(*f.cfg);
    next->public_url = "https://hotline.example.org/";
    next->ack_links.ttl = std::chrono::hours(2);
    f.disp->set_config(next, dispatch::channel_map{{"hook", f.hook}});
    f.disp->set_ack_key(key);
    auto r = f.ingest("r2", {fixture::planned(alice_1, "high")});
    const auto before = f.clock.now_ms();
    f.disp->enqueue(r.notifications);
    REQUIRE(f.drive([&] { return f.net.requests.size() == 3; }));
    const auto sent = nlohmann::json::parse(f.net.requests[2].body);
    const auto url = sent.at("ack_url").get<std::string>();
    const std::string base = "https://hotline.example.org/v1/ack/";
    REQUIRE(url.rfind(base, 0) == 0);
    const auto claim = dispatch::check_ack_token(*key, url.substr(base.size()), before);
    REQUIRE(claim.has_value());
    CHECK(claim->case_id == r.ids.case_id);
    CHECK(claim->target == "responder:alice");
    CHECK(claim->expires_at >= before + 2 * 3'600'000);
    CHECK(claim->expires_at <= f.clock.now_ms() + 2 * 3'600'000);
    // In the rendered message too, and never in the stored payload.
    CHECK(sent["message"]["body"].get<std::string>().find(url) != std::string::npos);
    for (const auto& row : f.rows()) {
        CHECK_FALSE(row.payload.contains("ack_url"));
    }

    // No public_url: no link, even with a key.
    auto no_url = std::make_shared<config::config>(*next);
    no_url->public_url.clear();
    f.disp->set_config(no_url, dispatch::channel_map{{"hook", f.hook}});
    f.net.script = {http(200)};
    auto r3 = f.ingest("r3", {fixture::planned(alice_1, "high")});
    f.disp->enqueue(r3.notifications);
    REQUIRE(f.drive([&] { return f.net.requests.size() == 4; }));
    CHECK_FALSE(nlohmann::json::parse(f.net.requests[3].body).contains("ack_url"));
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
    // The abort is the shutdown's, not the channel's: no attempt is counted, nothing is
    // recorded, and the job stays pending as it was for the next start (issue 7, fault 6).
    const auto n = f.row_for("responder:alice", 0);
    REQUIRE(n.has_value());
    CHECK(n->status == status::pending);
    CHECK(n->attempts == 0);
    CHECK(n->last_error.empty());
    CHECK(f.flaky->record_calls == 0);
    f.settle();
    CHECK(f.net.requests.size() == 1);  // stopped: no new attempt after shutdown
    CHECK(f.disp->in_flight() == 0);
}

TEST_CASE("dispatcher: an aborted last attempt neither falls through nor dead-letters") {
    // One attempt left: were the abort counted, it would exhaust the retries and fall
    // through to alice's second contact (and from there to a dead letter).
    fixture f;
    f.net.script = {http(503), hang()};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] {
        const auto n = f.row_for("responder:alice", 0);
        return n && n->attempts == 1 && f.net.requests.size() == 2;
    }));
    bool stopped = false;
    f.disp->shutdown(100ms, [&] { stopped = true; });
    REQUIRE(f.drive([&] { return stopped; }, 3000));
    f.settle();
    const auto rows = f.rows();
    REQUIRE(rows.size() == 1);  // no follow-up for the next contact, no admin alert
    CHECK(rows[0].status == status::pending);
    CHECK(rows[0].attempts == 1);
    CHECK(rows[0].last_error.find("503") != std::string::npos);
    CHECK(f.metrics.value("hotline_notifications_failed_total", hook_label) == 0);
    CHECK(f.metrics.value("hotline_notifications_dead_total", hook_label) == 0);
    CHECK(f.metrics.value("hotline_notifications_retried_total", hook_label) == 1);
}

TEST_CASE("dispatcher: pending rows of a channel no longer configured fall through at start") {
    fixture f;
    auto gone = fixture::planned("http://127.0.0.1:9/old", "normal");
    gone.channel = "gone";
    auto r = f.ingest("r-gone", {gone});
    f.report_id = r.ids.report_id;
    f.disp->start();  // the sweep finds the row: no channel "gone" in the config
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 1, status::delivered); }));
    f.settle();
    CHECK(f.status_is("responder:alice", 0, status::failed));
    const auto old = f.row_for("responder:alice", 0);
    REQUIRE(old.has_value());
    CHECK(old->last_error.find("no longer configured") != std::string::npos);
    REQUIRE(f.net.requests.size() == 1);
    CHECK(f.net.requests[0].url == alice_2);
}

TEST_CASE("dispatcher: an outcome the store cannot record is held, not re-sent, recorded once") {
    fixture f;
    f.flaky->fail_records = true;
    f.net.script = {http(200)};
    f.ingest_and_enqueue();
    // The delivery happened, its record failed: held, retried with backoff (100, 200, 400,
    // 800 ms...), and for longer than the old 1 s rescan that re-sent it.
    REQUIRE(f.drive([&] { return f.flaky->record_calls >= 4; }, 4000));
    f.settle(600);
    CHECK(f.net.requests.size() == 1);
    CHECK(f.disp->held() == 1);
    CHECK(f.disp->paused());
    CHECK(f.disp->in_flight() == 1);
    CHECK(f.flaky->record_calls <= 6);  // backoff, not a busy loop
    CHECK(f.metrics.value("hotline_dispatch_held_outcomes", {}) == 1);
    auto n = f.row_for("responder:alice", 0);
    REQUIRE(n.has_value());
    CHECK(n->status == status::pending);

    // While held, dispatch is paused: a new job waits (a scan would not send it either).
    auto second = f.ingest("r2", {fixture::planned(alice_2, "critical")});
    f.disp->enqueue(second.notifications);
    f.disp->start();
    f.settle(300);
    CHECK(f.net.requests.size() == 1);

    // The store writes again: the held outcome is recorded (once), dispatch resumes.
    f.flaky->fail_records = false;
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }, 8000));
    const auto second_id = second.notifications[0].id;
    REQUIRE(f.drive(
        [&] {
            const auto r = f.db->notifications_for_report(second.ids.report_id);
            return r.ok() && r->size() == 1 && (*r)[0].status == status::delivered;
        },
        3000));
    f.settle(200);
    n = f.row_for("responder:alice", 0);
    REQUIRE(n.has_value());
    CHECK(n->attempts == 1);
    CHECK(f.flaky->recorded[n->id] == 1);
    CHECK(f.flaky->recorded[second_id] == 1);
    REQUIRE(f.net.requests.size() == 2);  // each sent once
    CHECK(f.net.requests[0].url == alice_1);
    CHECK(f.net.requests[1].url == alice_2);
    CHECK(f.disp->held() == 0);
    CHECK_FALSE(f.disp->paused());
    CHECK(f.metrics.value("hotline_dispatch_held_outcomes", {}) == 0);
}

TEST_CASE("dispatcher: held outcomes are retried within the shutdown grace, then given up") {
    SUBCASE("the store recovers within the grace: recorded, then stopped") {
        fixture f;
        f.flaky->fail_records = true;
        f.ingest_and_enqueue();
        REQUIRE(f.drive([&] { return f.disp->held() == 1; }));
        bool stopped = false;
        f.disp->shutdown(5s, [&] { stopped = true; });
        f.settle(150);
        CHECK_FALSE(stopped);
        f.flaky->fail_records = false;
        REQUIRE(f.drive([&] { return stopped; }, 4000));
        CHECK(f.status_is("responder:alice", 0, status::delivered));
        CHECK(f.net.requests.size() == 1);
    }
    SUBCASE("it does not: after the grace the job stays pending, to be sent after a restart") {
        fixture f;
        f.flaky->fail_records = true;
        f.ingest_and_enqueue();
        REQUIRE(f.drive([&] { return f.disp->held() == 1; }));
        bool stopped = false;
        f.disp->shutdown(300ms, [&] { stopped = true; });
        f.settle(100);
        CHECK_FALSE(stopped);
        REQUIRE(f.drive([&] { return stopped; }, 3000));
        CHECK(f.disp->held() == 0);
        CHECK(f.disp->in_flight() == 0);
        const auto n = f.row_for("responder:alice", 0);
        REQUIRE(n.has_value());
        CHECK(n->status == status::pending);
        CHECK(n->attempts == 0);
        CHECK(f.net.requests.size() == 1);
    }
}

// Fault 7: 100,000 pending jobs (a channel down for an hour) against the default bound of
// 1,000 per channel. The dispatcher only scans; each job is sent once, and the jobs it holds
// in memory and the pages it asks the store for never exceed the bound.
void page_backlog(std::size_t reports, std::size_t per_report, channel_tweaks tweaks,
                  std::size_t bound) {
    fixture f(tweaks);
    // A log line per delivery would be most of the run time.
    const auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::warn);
    struct restore {
        spdlog::level::level_enum level;
        ~restore() { spdlog::set_level(level); }
    } const restore_level{level};
    std::vector<std::int64_t> ids;
    for (std::size_t r = 0; r < reports; ++r) {
        std::vector<domain::planned_notification> jobs;
        for (std::size_t i = 0; i < per_report; ++i) {
            jobs.push_back(
                fixture::planned(alice_1 + "/" + std::to_string(r * per_report + i), "low"));
        }
        ids.push_back(f.ingest("bulk-" + std::to_string(r), std::move(jobs)).ids.report_id);
    }
    const auto total = reports * per_report;
    std::size_t most = 0;
    f.disp->start();
    const auto sample = [&] { most = std::max(most, f.disp->in_memory("hook")); };
    REQUIRE(f.drive(
        [&] {
            sample();
            return f.net.requests.size() >= total;
        },
        240000));
    REQUIRE(f.drive(
        [&] {
            sample();
            return f.disp->in_flight() == 0;
        },
        10000));
    f.settle(200);
    CHECK(most <= bound);
    CHECK(most >= std::min<std::size_t>(bound, 2));
    CHECK(f.flaky->max_limit <= bound);
    CHECK(f.flaky->max_exclude <= bound);
    CHECK(f.net.requests.size() == total);
    std::set<std::string> urls;
    for (const auto& r : f.net.requests) {
        urls.insert(r.url);
    }
    CHECK(urls.size() == total);
    std::size_t delivered = 0;
    for (const auto rid : ids) {
        const auto rows = f.db->notifications_for_report(rid);
        REQUIRE(rows.ok());
        for (const auto& n : *rows) {
            delivered += n.status == status::delivered && n.attempts == 1 ? 1 : 0;
        }
    }
    CHECK(delivered == total);
}

TEST_CASE("dispatcher: a backlog larger than max_queued is paged in, each job sent once") {
    page_backlog(10, 100, {2, 16}, 16);
}

// The release build pages 100,000 jobs (16 s on the 2-core CI machine). Under ASan+UBSan,
// about 15x slower, 30,000: still 30 times the bound, which is what the test is about, and
// well inside the wall-clock guard of page_backlog on a loaded machine.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t backlog_reports = 30;
#else
constexpr std::size_t backlog_reports = 100;
#endif

TEST_CASE(
    "dispatcher: 100,000 pending jobs (30,000 under ASan), at most max_queued (1,000) in memory") {
    page_backlog(backlog_reports, 1000, {}, 1000);
}

TEST_CASE("dispatcher: a critical job is never queued behind 10,000 low ones") {
    SUBCASE("from the store: the due scan hands over the critical one first") {
        fixture f({1, 100});
        std::vector<domain::planned_notification> low;
        for (int i = 0; i < 10'000; ++i) {
            low.push_back(fixture::planned(alice_1 + "/low", "low"));
        }
        f.ingest("lows", std::move(low));
        f.ingest("crit", {fixture::planned(alice_2, "critical")});
        f.net.script = {hang()};
        f.disp->start();
        REQUIRE(f.drive([&] { return f.net.requests.size() == 1; }));
        CHECK(f.net.requests[0].url == alice_2);
        CHECK(f.disp->in_memory("hook") <= 100);
    }
    SUBCASE("fresh: it displaces a waiting low one and goes next") {
        fixture f({1, 100});
        std::vector<domain::planned_notification> low;
        for (int i = 0; i < 10'000; ++i) {
            low.push_back(fixture::planned(alice_1 + "/low", "low"));
        }
        f.ingest("lows", std::move(low));
        f.net.script = {hang()};
        f.disp->start();
        REQUIRE(f.drive(
            [&] { return f.net.requests.size() == 1 && f.disp->in_memory("hook") == 100; }));
        CHECK(f.net.requests[0].url == alice_1 + "/low");
        auto crit = f.ingest("crit", {fixture::planned(alice_2, "critical")});
        auto high = f.ingest("high", {fixture::planned(alice_2 + "/high", "high")});
        f.disp->enqueue(high.notifications);
        f.disp->enqueue(crit.notifications);
        CHECK(f.disp->in_memory("hook") == 100);  // each displaced a waiting low one
        f.net.script = {hang()};
        f.net.cancel_all();  // the hung transfer ends (as a transport error: a retry)
        REQUIRE(f.drive([&] { return f.net.requests.size() == 2; }));
        CHECK(f.net.requests[1].url == alice_2);
        f.net.script = {hang()};
        f.net.cancel_all();
        REQUIRE(f.drive([&] { return f.net.requests.size() == 3; }));
        CHECK(f.net.requests[2].url == alice_2 + "/high");
    }
}

TEST_CASE("dispatcher: an opted-out number only stops SMS channels (a webhook still delivers)") {
    // The SMS side (fail "recipient opted out (STOP)", fall through) needs an SMS-flagged
    // channel plugin: covered by tests/system/test_sms_state.py once those plugins land.
    fixture f;
    f.disp->set_opted_out({alice_1});
    f.net.script = {http(200)};
    f.ingest_and_enqueue();
    REQUIRE(f.drive([&] { return f.status_is("responder:alice", 0, status::delivered); }));
    CHECK(f.net.requests.size() == 1);
}
