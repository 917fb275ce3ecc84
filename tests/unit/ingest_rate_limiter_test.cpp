// ingest::token_bucket, ingest::rate_limiter and ingest::fair_queue: pure, with time given
// by hand.
#include <doctest/doctest.h>

#include <string>

#include "ingest/fair_queue.hpp"
#include "ingest/rate_limiter.hpp"

using namespace hotline;

namespace {

config::rate_limits limits(double source_rate, std::size_t source_burst, double sender_rate,
                           std::size_t sender_burst) {
    config::rate_limits l;
    l.source = {source_rate, source_burst};
    l.sender = {sender_rate, sender_burst};
    return l;
}

}  // namespace

TEST_CASE("token bucket: starts full, refills at the rate, never past the burst") {
    const config::rate_limit l{2.0, 3};  // 2 per second, 3 at once
    ingest::token_bucket b;
    std::int64_t t = 1'000'000;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(b.ready(l, t));
        b.take();
    }
    CHECK_FALSE(b.ready(l, t));
    CHECK(b.wait_ms(l) == 500);
    CHECK_FALSE(b.ready(l, t + 499));
    CHECK(b.ready(l, t + 500));
    b.take();
    // A long pause refills to the burst, not beyond.
    t += 60'000;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(b.ready(l, t));
        b.take();
    }
    CHECK_FALSE(b.ready(l, t));
    // Time running backwards (a clock step) refills nothing.
    CHECK_FALSE(b.ready(l, t - 10'000));
    CHECK_FALSE(b.ready(l, t));
}

TEST_CASE("rate limiter: per sender within a source, then per source") {
    ingest::rate_limiter r;
    const auto l = limits(100.0, 5, 1.0 / 60.0, 2);  // sender: 1/min, burst 2
    const std::int64_t t = 5'000'000;
    CHECK_FALSE(r.admit("a", "+7900", l, t).has_value());
    CHECK_FALSE(r.admit("a", "+7900", l, t).has_value());
    const auto third = r.admit("a", "+7900", l, t);
    REQUIRE(third.has_value());
    CHECK(third->limiter == "sender");
    CHECK(third->retry_after_s == 60);
    // The same sender at another source has its own bucket; another sender too.
    CHECK_FALSE(r.admit("b", "+7900", l, t).has_value());
    CHECK_FALSE(r.admit("a", "+7911", l, t).has_value());
    // Source a has spent 3 of 5 (the refused one took nothing).
    CHECK_FALSE(r.admit("a", "", l, t).has_value());
    CHECK_FALSE(r.admit("a", "", l, t).has_value());
    const auto full = r.admit("a", "x@example.org", l, t);
    REQUIRE(full.has_value());
    CHECK(full->limiter == "source");
    CHECK(full->retry_after_s == 1);
    // A refusal by the source limiter did not spend the sender's token.
    CHECK(r.admit("a", "x@example.org", l, t + 20).has_value() == false);
    CHECK_FALSE(r.admit("a", "+7900", l, t + 60'000).has_value());
}

TEST_CASE("rate limiter: rate 0 turns a limiter off") {
    ingest::rate_limiter r;
    const auto l = limits(0, 0, 0, 0);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE_FALSE(r.admit("a", "+7900", l, 0).has_value());
    }
    CHECK(r.senders() == 0);
}

TEST_CASE("rate limiter: sender buckets are bounded (least recently seen goes)") {
    ingest::rate_limiter r(100);
    const auto l = limits(0, 0, 1.0 / 60.0, 1);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE_FALSE(r.admit("a", "sender-" + std::to_string(i), l, 0).has_value());
    }
    CHECK(r.senders() == 100);
    // The most recent ones are still known (limited); the first one was forgotten.
    CHECK(r.admit("a", "sender-999", l, 0).has_value());
    CHECK_FALSE(r.admit("a", "sender-0", l, 0).has_value());
    CHECK(r.senders() == 100);
}

TEST_CASE("fair queue: most urgent first, round robin across sources, in-flight caps") {
    ingest::fair_queue<int> q;
    config::ingest_limits l;
    l.max_in_flight = 3;
    l.max_in_flight_per_source = 2;
    l.max_queued = 100;
    l.max_queued_per_source = 50;
    for (int i = 0; i < 10; ++i) {
        q.push("a", 3, i);  // low
    }
    q.push("b", 2, 100);  // normal
    q.push("c", 2, 200);  // normal
    q.push("c", 0, 201);  // critical
    auto first = q.pop(l);
    REQUIRE(first.has_value());
    CHECK(first->first == "c");
    CHECK(first->second == 201);
    auto second = q.pop(l);
    REQUIRE(second.has_value());
    CHECK(second->second == 100);  // b then c at equal urgency
    auto third = q.pop(l);
    REQUIRE(third.has_value());
    CHECK(third->second == 200);
    CHECK_FALSE(q.pop(l).has_value());  // 3 in flight
    q.done("c");
    auto fourth = q.pop(l);
    REQUIRE(fourth.has_value());
    CHECK(fourth->second == 0);  // a's first low one
    CHECK(q.in_flight() == 3);
    CHECK(q.queued() == 9);
    q.done("a");
    q.done("b");
    auto fifth = q.pop(l);
    auto sixth = q.pop(l);
    REQUIRE(fifth.has_value());
    REQUIRE(sixth.has_value());
    CHECK(fifth->second == 1);
    CHECK(sixth->second == 2);
    CHECK_FALSE(q.pop(l).has_value());  // a is at its per-source cap (c still holds one)
}

TEST_CASE("fair queue: bounded per source and overall") {
    ingest::fair_queue<int> q;
    config::ingest_limits l;
    l.max_queued = 5;
    l.max_queued_per_source = 3;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(q.check("a", l) == ingest::fair_queue<int>::room::ok);
        q.push("a", 2, i);
    }
    CHECK(q.check("a", l) == ingest::fair_queue<int>::room::source_full);
    CHECK(q.check("b", l) == ingest::fair_queue<int>::room::ok);
    q.push("b", 2, 10);
    q.push("b", 2, 11);
    CHECK(q.check("c", l) == ingest::fair_queue<int>::room::all_full);
}
