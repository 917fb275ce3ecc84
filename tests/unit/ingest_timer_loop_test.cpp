// ingest::timer_loop over a real SQLite store: due timers fire at once at start (a
// restart), each once; a future one fires when due; a handler that fails leaves its timer
// to come back after the lease; wake_at brings an earlier timer forward; unknown kinds are
// left alone.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "ingest/timer_loop.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace std::chrono_literals;

namespace {

using store::testing::temp_dir;
using store::testing::wait_for;

struct fixture {
    fixture() { open(); }
    ~fixture() { db->close(); }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    void open() {
        store::options opts;
        opts.path = (dir.path / "hotline.db").string();
        opts.unsealed_for_tests = true;
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);
    }

    std::int64_t add(std::int64_t due_at, const std::string& kind = "test") {
        store::new_timer t;
        t.due_at = due_at;
        t.kind = kind;
        t.subject = "case:1";
        auto ids = wait_for<std::vector<std::int64_t>>(
            [&](auto done) { db->add_timers({t}, std::move(done)); });
        REQUIRE(ids.ok());
        return ids->front();
    }

    template <class Pred>
    void run_until(Pred done, int rounds = 300) {
        io.restart();
        for (int i = 0; i < rounds && !done(); ++i) {
            io.run_one_for(10ms);
        }
    }

    temp_dir dir;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::system_clock clock;
    std::unique_ptr<store::store> db;
};

}  // namespace

TEST_CASE("timer loop: due timers fire at start, each once; a later one when it is due") {
    fixture f;
    const auto now = f.clock.now_ms();
    const auto past = f.add(now - 60'000);
    const auto soon = f.add(now + 200);
    f.add(now - 1, "unknown-kind");
    std::vector<std::int64_t> fired;
    {
        ingest::timer_loop loop(f.io.get_executor(), *f.db, f.clock, "owner-1");
        loop.on("test", [&](const store::timer& t, ingest::timer_loop::settled_fn settled) {
            fired.push_back(t.id);
            settled(true);
        });
        loop.start();
        f.run_until([&] { return fired.size() >= 1; });
        REQUIRE(fired == std::vector<std::int64_t>{past});
        f.run_until([&] { return fired.size() >= 2; });
        REQUIRE(fired == std::vector<std::int64_t>{past, soon});
        f.run_until([] { return false; }, 30);
        loop.stop();
    }
    // A second process (a restart): nothing of kind "test" fires twice.
    ingest::timer_loop again(f.io.get_executor(), *f.db, f.clock, "owner-2");
    again.on("test", [&](const store::timer& t, ingest::timer_loop::settled_fn settled) {
        fired.push_back(t.id);
        settled(true);
    });
    again.start();
    f.run_until([] { return false; }, 30);
    CHECK(fired.size() == 2);
}

TEST_CASE("timer loop: a handler that fails gets its timer back after the lease") {
    fixture f;
    const auto id = f.add(f.clock.now_ms() - 1);
    int calls = 0;
    ingest::timer_loop::settings s;
    s.lease_ms = 150;
    ingest::timer_loop loop(f.io.get_executor(), *f.db, f.clock, "owner", s);
    loop.on("test", [&](const store::timer& t, ingest::timer_loop::settled_fn settled) {
        CHECK(t.id == id);
        ++calls;
        settled(calls >= 2);  // the first attempt fails
    });
    loop.start();
    f.run_until([&] { return calls >= 2; });
    CHECK(calls == 2);
    f.run_until([] { return false; }, 40);  // past another lease: completed, so no third
    CHECK(calls == 2);
}

TEST_CASE("timer loop: wake_at brings a timer added after start forward") {
    fixture f;
    int calls = 0;
    ingest::timer_loop::settings s;
    s.idle_recheck_ms = 60'000;  // without the wake it would wait a minute
    ingest::timer_loop loop(f.io.get_executor(), *f.db, f.clock, "owner", s);
    loop.on("test", [&](const store::timer&, ingest::timer_loop::settled_fn settled) {
        ++calls;
        settled(true);
    });
    loop.start();
    f.run_until([] { return false; }, 5);
    const auto due = f.clock.now_ms() + 100;
    f.add(due);
    loop.wake_at(due);
    f.run_until([&] { return calls >= 1; });
    CHECK(calls == 1);
}
