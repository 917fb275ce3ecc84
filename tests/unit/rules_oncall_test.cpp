// rules/oncall: rotation boundaries, layers, overrides, shifts, and hand-offs across DST
// changes and offset changes in the zones hotline's users live in (London, Kyiv, Moscow,
// Minsk, Almaty), computed from the system's tzdata.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "rules/oncall.hpp"

using namespace hotline::rules;

namespace {

using strings = std::vector<std::string>;

constexpr std::int64_t hour_ms = 3'600'000;

// A UTC instant as unix ms, computed with std::chrono's calendar (not the code under test).
std::int64_t utc(int y, unsigned m, unsigned d, int h = 0, int mi = 0, int s = 0) {
    const auto day =
        std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
    return std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count() +
           h * hour_ms + mi * minute_ms + s * 1000LL;
}

rotation rot(const std::string& type, const std::string& start, strings members,
             const std::string& handoff = "09:00", std::int64_t length_ms = 0) {
    rotation r;
    r.type = type;
    r.start = start;
    r.members = std::move(members);
    r.handoff = handoff;
    r.length_ms = length_ms != 0 ? length_ms : type == "weekly" ? 7 * day_ms : day_ms;
    return r;
}

schedule sched(const std::string& zone, std::vector<rotation> rotations,
               std::vector<schedule_override> overrides = {}) {
    schedule s;
    s.id = "test";
    s.time_zone = zone;
    s.rotations = std::move(rotations);
    s.overrides = std::move(overrides);
    return s;
}

// The hand-off instants of a schedule's first rotation, found from the shifts (not from
// on_call), so both paths are checked against the expected times.
std::vector<std::int64_t> handoffs(const schedule& s, std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> out;
    for (const auto& x : shifts(s, from, to)) {
        out.push_back(x.from_ms);
    }
    return out;
}

// on_call just before and at `instant`: `before` then `after`.
void hands_over(const schedule& s, std::int64_t instant, const std::string& before,
                const std::string& after) {
    INFO("at " << format_time(instant, s.time_zone));
    CHECK(on_call(s, instant - 1) == strings{before});
    CHECK(on_call(s, instant) == strings{after});
}

}  // namespace

TEST_CASE("weekly rotation: first shift, exact hand-off instant, before start") {
    // Europe/Kyiv in winter is UTC+2: 09:00 local is 07:00Z. 2026-11-30 is a Monday.
    const auto s = sched("Europe/Kyiv", {rot("weekly", "2026-11-30", {"alice", "boris", "carol"})});
    CHECK(on_call(s, utc(2026, 1, 1)).empty());
    CHECK(on_call(s, utc(2026, 11, 30, 6, 59, 59)).empty());
    CHECK(on_call(s, utc(2026, 11, 30, 7) - 1).empty());
    CHECK(on_call(s, utc(2026, 11, 30, 7)) == strings{"alice"});
    hands_over(s, utc(2026, 12, 7, 7), "alice", "boris");
    hands_over(s, utc(2026, 12, 14, 7), "boris", "carol");
    hands_over(s, utc(2026, 12, 21, 7), "carol", "alice");
    // A year on (52 weeks = 17 turns of 3 and one more): boris, and the hand-off is still
    // Monday 09:00 local although summer time came and went.
    hands_over(s, utc(2027, 11, 29, 7), "alice", "boris");
    // In summer (EEST, UTC+3) the Monday 09:00 hand-off is 06:00Z: week 30 is alice's.
    hands_over(s, utc(2027, 6, 28, 6), "carol", "alice");
}

TEST_CASE("daily rotation and custom lengths") {
    const auto daily = sched("UTC", {rot("daily", "2026-01-01", {"a", "b"}, "00:00")});
    CHECK(on_call(daily, utc(2026, 1, 1)) == strings{"a"});
    CHECK(on_call(daily, utc(2026, 1, 2)) == strings{"b"});
    CHECK(on_call(daily, utc(2026, 1, 3, 23, 59)) == strings{"a"});
    CHECK(on_call(daily, utc(2025, 12, 31, 23, 59)).empty());

    // 12h is elapsed time from the first hand-off: across London's spring change it moves
    // by an hour on the wall clock (08:00Z is 09:00 BST).
    const auto half =
        sched("Europe/London", {rot("custom", "2026-03-28", {"a", "b"}, "20:00", 12 * hour_ms)});
    CHECK(handoffs(half, utc(2026, 3, 28, 20), utc(2026, 3, 30, 12)) ==
          std::vector<std::int64_t>{utc(2026, 3, 28, 20), utc(2026, 3, 29, 8), utc(2026, 3, 29, 20),
                                    utc(2026, 3, 30, 8)});
    hands_over(half, utc(2026, 3, 29, 8), "a", "b");

    // 3d is calendar days: the hand-off stays at 09:00 local.
    const auto three =
        sched("Europe/London", {rot("custom", "2026-03-27", {"a", "b"}, "09:00", 3 * day_ms)});
    CHECK(on_call(three, utc(2026, 3, 27, 9) - 1).empty());
    CHECK(on_call(three, utc(2026, 3, 27, 9)) == strings{"a"});
    hands_over(three, utc(2026, 3, 30, 8), "a", "b");
    hands_over(three, utc(2026, 4, 2, 8), "b", "a");

    // A custom length that is not whole days nor hours: 90 minutes, exact.
    const auto odd = sched("Asia/Almaty",
                           {rot("custom", "2026-06-01", {"a", "b", "c"}, "00:00", 90 * minute_ms)});
    // Almaty is UTC+5 since 2024-03-01: 00:00 local is 19:00Z the day before.
    hands_over(odd, utc(2026, 5, 31, 20, 30), "a", "b");
    hands_over(odd, utc(2026, 5, 31, 22), "b", "c");
}

TEST_CASE("Europe/London: last Sundays of March and October 2026") {
    // BST from 2026-03-29 01:00Z to 2026-10-25 01:00Z.
    const auto daily = sched("Europe/London", {rot("daily", "2026-03-27", {"a", "b"})});
    CHECK(handoffs(daily, utc(2026, 3, 27, 9), utc(2026, 3, 31)) ==
          std::vector<std::int64_t>{utc(2026, 3, 27, 9), utc(2026, 3, 28, 9), utc(2026, 3, 29, 8),
                                    utc(2026, 3, 30, 8)});
    const auto sh = shifts(daily, utc(2026, 3, 28, 12), utc(2026, 3, 28, 13));
    REQUIRE(sh.size() == 1);
    CHECK(sh[0].to_ms - sh[0].from_ms == 23 * hour_ms);  // the short day

    const auto weekly = sched("Europe/London", {rot("weekly", "2026-03-23", {"a", "b"})});
    const auto spring = shifts(weekly, utc(2026, 3, 24), utc(2026, 3, 25));
    REQUIRE(spring.size() == 1);
    CHECK(spring[0].from_ms == utc(2026, 3, 23, 9));
    CHECK(spring[0].to_ms == utc(2026, 3, 30, 8));  // 167 hours
    CHECK(spring[0].to_ms - spring[0].from_ms == 167 * hour_ms);
    const auto autumn = shifts(weekly, utc(2026, 10, 20), utc(2026, 10, 21));
    REQUIRE(autumn.size() == 1);
    CHECK(autumn[0].from_ms == utc(2026, 10, 19, 8));
    CHECK(autumn[0].to_ms == utc(2026, 10, 26, 9));  // 169 hours
    CHECK(autumn[0].to_ms - autumn[0].from_ms == 169 * hour_ms);
    // 30 weeks after 2026-03-23: an even number of turns, so a's.
    CHECK(autumn[0].who == "a");
    hands_over(weekly, utc(2026, 10, 26, 9), "a", "b");

    // 01:30 does not exist on 2026-03-29 (01:00 GMT -> 02:00 BST): the first instant after
    // the gap, 01:00Z. On 2026-10-25 it happens twice: the first, 00:30Z (BST).
    const auto night = sched("Europe/London", {rot("daily", "2026-03-27", {"a", "b"}, "01:30")});
    CHECK(handoffs(night, utc(2026, 3, 28), utc(2026, 3, 30, 12)) ==
          std::vector<std::int64_t>{utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30),
                                    utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)});
    CHECK(handoffs(night, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)) ==
          std::vector<std::int64_t>{utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
                                    utc(2026, 10, 26, 1, 30)});
    // A zone whose data would stop early (a "slim" tzdata) would lose summer time in later
    // years: 2036 still has BST here.
    const auto later = sched("Europe/London", {rot("daily", "2036-07-01", {"a"})});
    CHECK(on_call(later, utc(2036, 7, 1, 8) - 1).empty());
    CHECK(on_call(later, utc(2036, 7, 1, 8)) == strings{"a"});
}

TEST_CASE("Europe/Kyiv: EET and EEST") {
    // EEST from 2026-03-29 01:00Z (03:00 -> 04:00 local) to 2026-10-25 01:00Z.
    const auto daily = sched("Europe/Kyiv", {rot("daily", "2026-03-27", {"a", "b"})});
    CHECK(handoffs(daily, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)) ==
          std::vector<std::int64_t>{utc(2026, 3, 27, 7), utc(2026, 3, 28, 7), utc(2026, 3, 29, 6),
                                    utc(2026, 3, 30, 6)});
    const auto oct = sched("Europe/Kyiv", {rot("daily", "2026-10-23", {"a", "b"})});
    CHECK(handoffs(oct, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)) ==
          std::vector<std::int64_t>{utc(2026, 10, 24, 6), utc(2026, 10, 25, 7),
                                    utc(2026, 10, 26, 7)});
    const auto gap = sched("Europe/Kyiv", {rot("daily", "2026-03-28", {"a", "b"}, "03:30")});
    hands_over(gap, utc(2026, 3, 29, 1), "a", "b");  // 03:30 local is in the gap
    CHECK(format_time(utc(2026, 3, 29, 1), "Europe/Kyiv") == "2026-03-29T04:00+03:00");
    // The old spelling is kept by tzdata as a link.
    CHECK(valid_time_zone("Europe/Kiev"));
}

TEST_CASE("Europe/Moscow: no DST since 2011; MSD in 2010; UTC+4 to UTC+3 in 2014") {
    const auto now = sched("Europe/Moscow", {rot("daily", "2026-03-27", {"a", "b"})});
    CHECK(handoffs(now, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)) ==
          std::vector<std::int64_t>{utc(2026, 3, 27, 6), utc(2026, 3, 28, 6), utc(2026, 3, 29, 6),
                                    utc(2026, 3, 30, 6)});
    CHECK(handoffs(now, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)) ==
          std::vector<std::int64_t>{utc(2026, 10, 24, 6), utc(2026, 10, 25, 6),
                                    utc(2026, 10, 26, 6)});
    // 2010: MSD (UTC+4) from 2010-03-28 (02:00 local) to 2010-10-31 (03:00 local).
    const auto old = sched("Europe/Moscow", {rot("daily", "2010-03-26", {"a", "b"})});
    CHECK(handoffs(old, utc(2010, 3, 27, 12), utc(2010, 3, 29, 12)) ==
          std::vector<std::int64_t>{utc(2010, 3, 27, 6), utc(2010, 3, 28, 5), utc(2010, 3, 29, 5)});
    CHECK(
        handoffs(old, utc(2010, 10, 30, 12), utc(2010, 11, 1, 12)) ==
        std::vector<std::int64_t>{utc(2010, 10, 30, 5), utc(2010, 10, 31, 6), utc(2010, 11, 1, 6)});
    // 2014-10-26 02:00 local: UTC+4 back to UTC+3 for good.
    const auto y2014 = sched("Europe/Moscow", {rot("daily", "2014-10-20", {"a", "b"})});
    CHECK(handoffs(y2014, utc(2014, 10, 25, 12), utc(2014, 10, 27, 12)) ==
          std::vector<std::int64_t>{utc(2014, 10, 25, 5), utc(2014, 10, 26, 6),
                                    utc(2014, 10, 27, 6)});
    CHECK(zone_abbreviation(utc(2010, 7, 1), "Europe/Moscow") == "MSD");
    CHECK(zone_abbreviation(utc(2026, 7, 1), "Europe/Moscow") == "MSK");
}

TEST_CASE("Europe/Minsk: EET/EEST in 2010, UTC+3 all year since 2011") {
    const auto old = sched("Europe/Minsk", {rot("daily", "2010-03-26", {"a", "b"})});
    // EEST from 2010-03-28 02:00 local (00:00Z).
    CHECK(handoffs(old, utc(2010, 3, 27, 12), utc(2010, 3, 29, 12)) ==
          std::vector<std::int64_t>{utc(2010, 3, 27, 7), utc(2010, 3, 28, 6), utc(2010, 3, 29, 6)});
    const auto now = sched("Europe/Minsk", {rot("weekly", "2026-03-23", {"a", "b"})});
    const auto sh = shifts(now, utc(2026, 3, 24), utc(2026, 4, 1));
    REQUIRE(sh.size() == 2);
    CHECK(sh[0].to_ms - sh[0].from_ms == 168 * hour_ms);  // no DST: a week is 168 h
    CHECK(sh[1].from_ms == utc(2026, 3, 30, 6));
    CHECK(format_time(utc(2026, 7, 1, 6), "Europe/Minsk") == "2026-07-01T09:00+03:00");
}

TEST_CASE("Asia/Almaty: UTC+6 to UTC+5 on 2024-03-01 moves a daily hand-off in UTC") {
    // Checks the zone data itself first: if this host's tzdata predates 2024a, the change
    // is missing and every hand-off below would be an hour early.
    CHECK(format_time(utc(2024, 2, 29, 12), "Asia/Almaty") == "2024-02-29T18:00+06:00");
    CHECK(format_time(utc(2024, 3, 1, 12), "Asia/Almaty") == "2024-03-01T17:00+05:00");
    const auto daily = sched("Asia/Almaty", {rot("daily", "2024-02-27", {"a", "b"})});
    CHECK(handoffs(daily, utc(2024, 2, 28, 12), utc(2024, 3, 2, 12)) ==
          std::vector<std::int64_t>{utc(2024, 2, 28, 3), utc(2024, 2, 29, 3), utc(2024, 3, 1, 4),
                                    utc(2024, 3, 2, 4)});
    const auto sh = shifts(daily, utc(2024, 2, 29, 12), utc(2024, 2, 29, 13));
    REQUIRE(sh.size() == 1);
    CHECK(sh[0].to_ms - sh[0].from_ms == 25 * hour_ms);
    hands_over(daily, utc(2024, 3, 1, 4), "a", "b");
}

TEST_CASE("layers: union in layer order, without duplicates") {
    const auto s = sched("UTC", {rot("daily", "2026-01-01", {"alice", "boris"}, "00:00"),
                                 rot("weekly", "2026-01-01", {"alice", "carol"}, "12:00")});
    CHECK(on_call(s, utc(2026, 1, 1, 6)) == strings{"alice"});            // layer 2 not yet
    CHECK(on_call(s, utc(2026, 1, 1, 12)) == strings{"alice"});           // both: alice once
    CHECK(on_call(s, utc(2026, 1, 2, 12)) == strings{"boris", "alice"});  // layer order
    CHECK(on_call(s, utc(2026, 1, 8, 12)) == strings{"boris", "carol"});
    CHECK(on_call(s, utc(2026, 1, 9, 12)) == strings{"alice", "carol"});
}

TEST_CASE("overrides: inside, at both ends, overlapping") {
    // boris from Saturday 18:00 to Sunday 09:00 Kyiv time (16:00Z to 07:00Z).
    auto s = sched("Europe/Kyiv", {rot("weekly", "2026-11-30", {"alice", "boris"})},
                   {{utc(2026, 12, 5, 16), utc(2026, 12, 6, 7), "boris", {}}});
    CHECK(on_call(s, utc(2026, 12, 5, 12)) == strings{"alice"});
    hands_over(s, utc(2026, 12, 5, 16), "alice", "boris");
    CHECK(on_call(s, utc(2026, 12, 6, 0)) == strings{"boris"});
    hands_over(s, utc(2026, 12, 6, 7), "boris", "alice");
    // An override before the rotation starts still puts someone on call.
    s.overrides.push_back({utc(2026, 11, 1), utc(2026, 11, 2), "dana", {}});
    CHECK(on_call(s, utc(2026, 11, 1, 12)) == strings{"dana"});
    CHECK(on_call(s, utc(2026, 11, 2, 12)).empty());

    // Overlapping: the later-listed one wins where both are in force.
    const schedule_override carol{utc(2026, 12, 2), utc(2026, 12, 4), "carol", {}};
    const schedule_override dave{utc(2026, 12, 3), utc(2026, 12, 5), "dave", {}};
    auto both = sched("UTC", {rot("daily", "2026-11-30", {"alice"})}, {carol, dave});
    CHECK(on_call(both, utc(2026, 12, 2, 12)) == strings{"carol"});
    CHECK(on_call(both, utc(2026, 12, 3, 12)) == strings{"dave"});
    CHECK(on_call(both, utc(2026, 12, 4, 12)) == strings{"dave"});
    CHECK(on_call(both, utc(2026, 12, 5)) == strings{"alice"});
    both.overrides = {dave, carol};
    CHECK(on_call(both, utc(2026, 12, 3, 12)) == strings{"carol"});
    CHECK(on_call(both, utc(2026, 12, 4)) == strings{"dave"});
    const auto sh = shifts(both, utc(2026, 12, 1), utc(2026, 12, 6));
    REQUIRE(sh.size() == 4);
    CHECK(sh[0].who == "alice");
    CHECK(sh[0].to_ms == utc(2026, 12, 2));
    CHECK(sh[1].who == "carol");
    CHECK(sh[1].override_);
    CHECK(sh[1].layer == 1);
    CHECK(sh[1].from_ms == utc(2026, 12, 2));
    CHECK(sh[1].to_ms == utc(2026, 12, 4));
    CHECK(sh[2].who == "dave");
    CHECK(sh[2].from_ms == utc(2026, 12, 4));
    CHECK(sh[2].to_ms == utc(2026, 12, 5));
    CHECK(sh[3].who == "alice");
    CHECK_FALSE(sh[3].override_);
    CHECK(sh[3].from_ms == utc(2026, 12, 5));
}

TEST_CASE("shifts: pieces around an override, whole extents, time order") {
    const auto s = sched("Europe/Kyiv", {rot("weekly", "2026-11-30", {"alice", "boris"})},
                         {{utc(2026, 12, 5, 16), utc(2026, 12, 6, 7), "boris", {}}});
    const auto sh = shifts(s, utc(2026, 12, 1), utc(2026, 12, 15));
    REQUIRE(sh.size() == 5);
    CHECK(sh[0].who == "alice");
    CHECK(sh[0].from_ms == utc(2026, 11, 30, 7));  // begins before the range
    CHECK(sh[0].to_ms == utc(2026, 12, 5, 16));
    CHECK(sh[1].who == "boris");
    CHECK(sh[1].override_);
    CHECK(sh[1].layer == 0);
    CHECK(sh[2].who == "alice");
    CHECK(sh[2].from_ms == utc(2026, 12, 6, 7));
    CHECK(sh[2].to_ms == utc(2026, 12, 7, 7));
    CHECK(sh[3].who == "boris");
    CHECK_FALSE(sh[3].override_);
    CHECK(sh[3].to_ms == utc(2026, 12, 14, 7));
    CHECK(sh[4].who == "alice");
    CHECK(sh[4].to_ms == utc(2026, 12, 21, 7));  // ends after the range

    CHECK(shifts(s, utc(2026, 12, 1), utc(2026, 12, 1)).empty());
    CHECK(shifts(s, utc(2026, 12, 2), utc(2026, 12, 1)).empty());
    CHECK(shifts(s, utc(2026, 1, 1), utc(2026, 1, 2)).empty());  // before start

    // A one-member rotation is one shift, not one a day.
    const auto solo = sched("UTC", {rot("daily", "2026-01-01", {"alice"}, "00:00")});
    const auto one = shifts(solo, utc(2026, 1, 3), utc(2026, 1, 8));
    REQUIRE(one.size() == 1);
    CHECK(one[0].from_ms == utc(2026, 1, 3));
    CHECK(one[0].to_ms == utc(2026, 1, 8));

    // A tiny length over a month: capped at max_shifts, the earliest ones.
    const auto tiny = sched("UTC", {rot("custom", "2026-01-01", {"a", "b"}, "00:00", minute_ms)});
    const auto many = shifts(tiny, utc(2026, 1, 1), utc(2026, 2, 1));
    REQUIRE(many.size() == max_shifts);
    CHECK(many.front().from_ms == utc(2026, 1, 1));
    CHECK(many.back().from_ms == utc(2026, 1, 1) + (max_shifts - 1) * minute_ms);
}

TEST_CASE("shifts and on_call agree") {
    const auto s = sched("Europe/London",
                         {rot("weekly", "2026-03-02", {"alice", "boris", "carol"}),
                          rot("custom", "2026-03-20", {"dana", "erik"}, "21:15", 11 * hour_ms)},
                         {{utc(2026, 3, 28, 18), utc(2026, 3, 29, 12), "boris", {}},
                          {utc(2026, 3, 29, 6), utc(2026, 3, 30, 6), "carol", {}}});
    const std::int64_t from = utc(2026, 3, 25);
    const std::int64_t to = utc(2026, 4, 5);
    const auto sh = shifts(s, from, to);
    for (std::int64_t t = from; t < to; t += 37 * minute_ms + 13'000) {
        strings expected;
        for (const auto& x : sh) {
            if (x.from_ms <= t && t < x.to_ms &&
                std::find(expected.begin(), expected.end(), x.who) == expected.end()) {
                expected.push_back(x.who);
            }
        }
        auto got = on_call(s, t);
        std::sort(expected.begin(), expected.end());
        std::sort(got.begin(), got.end());
        INFO("at " << format_time(t, "UTC"));
        REQUIRE(got == expected);
    }
}

TEST_CASE("rotations that cannot be computed put nobody on call") {
    const std::int64_t t = utc(2026, 6, 1, 12);
    CHECK(on_call(sched("Mars/Olympus", {rot("daily", "2026-01-01", {"a"})}), t).empty());
    CHECK(on_call(sched("", {rot("daily", "2026-01-01", {"a"})}), t).empty());
    for (const char* handoff : {"9:00", "24:00", "09:60", "09-00", "", "0900", "09:00 "}) {
        INFO(handoff);
        CHECK(on_call(sched("UTC", {rot("daily", "2026-01-01", {"a"}, handoff)}), t).empty());
    }
    for (const char* start : {"2026-02-30", "2026-13-01", "26-01-01", "", "2026/01/01"}) {
        INFO(start);
        CHECK(on_call(sched("UTC", {rot("daily", start, {"a"})}), t).empty());
    }
    CHECK(on_call(sched("UTC", {rot("daily", "2026-01-01", {})}), t).empty());
    CHECK(on_call(sched("UTC", {rot("custom", "2026-01-01", {"a"}, "09:00", 59'999)}), t).empty());
    CHECK(on_call(sched("UTC", {rot("hourly", "2026-01-01", {"a"})}), t).empty());
    // A good layer still counts beside a bad one.
    CHECK(on_call(sched("UTC", {rot("daily", "2026-01-01", {"a"}, "25:00"),
                                rot("daily", "2026-01-01", {"b"})}),
                  t) == strings{"b"});
    // Extreme instants are clamped, not overflowed.
    const auto s = sched("UTC", {rot("custom", "2026-01-01", {"a", "b"}, "00:00", minute_ms)},
                         {{std::numeric_limits<std::int64_t>::min(), utc(1950, 1, 1), "x", {}}});
    CHECK(on_call(s, std::numeric_limits<std::int64_t>::max()).size() == 1);
    CHECK(on_call(s, std::numeric_limits<std::int64_t>::min()) == strings{"x"});
    CHECK(shifts(s, std::numeric_limits<std::int64_t>::max() - 5,
                 std::numeric_limits<std::int64_t>::max())
              .empty());
    CHECK_FALSE(shifts(s, std::numeric_limits<std::int64_t>::min(), utc(1900, 1, 2)).empty());
}

TEST_CASE("valid_time_zone") {
    for (const char* zone : {"Europe/Kyiv", "Europe/London", "Europe/Moscow", "Europe/Minsk",
                             "Asia/Almaty", "UTC", "America/Argentina/Buenos_Aires"}) {
        INFO(zone);
        CHECK(valid_time_zone(zone));
    }
    for (const char* zone : {"", "Mars/Olympus", "europe/kyiv", "Europe/Kyiv ", "../../etc/passwd",
                             "/usr/share/zoneinfo/UTC", "posix/Europe/London",
                             "right/Europe/London", "localtime", "posixrules", "Europe/"}) {
        INFO(zone);
        CHECK_FALSE(valid_time_zone(zone));
    }
    CHECK_FALSE(valid_time_zone(std::string(10'000, 'A')));
    CHECK_FALSE(valid_time_zone(std::string("Europe/Kyiv\0x", 13)));
}

TEST_CASE("parse_handoff and parse_local_date") {
    CHECK(parse_handoff("00:00") == 0);
    CHECK(parse_handoff("09:00") == 540);
    CHECK(parse_handoff("23:59") == 23 * 60 + 59);
    for (const char* bad :
         {"24:00", "9:00", "09:0", "09:60", "-1:00", "09.00", "", "09:00:00", "٠٩:٠٠"}) {
        INFO(bad);
        CHECK_FALSE(parse_handoff(bad));
    }
    CHECK(parse_local_date("1970-01-01") == 0);
    CHECK(parse_local_date("2026-11-30") == utc(2026, 11, 30) / day_ms);
    CHECK(parse_local_date("2028-02-29").has_value());
    for (const char* bad : {"2026-02-29", "2026-00-10", "2026-04-31", "1899-12-31", "2026-1-01",
                            "2026-01-01T00:00", "20261130", "", "abcd-ef-gh"}) {
        INFO(bad);
        CHECK_FALSE(parse_local_date(bad));
    }
}

TEST_CASE("parse_time: offsets, local times in the zone, errors") {
    const auto ok = [](const std::string& text, const std::string& zone = "Europe/Kyiv") {
        const auto r = parse_time(text, zone);
        INFO(text << ": " << (r ? std::string() : r.err().message));
        REQUIRE(r.ok());
        return *r;
    };
    CHECK(ok("2026-12-05T18:00") == utc(2026, 12, 5, 16));  // EET
    CHECK(ok("2026-07-05T18:00") == utc(2026, 7, 5, 15));   // EEST
    CHECK(ok("2026-12-05 18:00:30") == utc(2026, 12, 5, 16, 0, 30));
    CHECK(ok("2026-12-05") == utc(2026, 12, 4, 22));
    CHECK(ok("2026-12-05T18:00+03:00") == utc(2026, 12, 5, 15));
    CHECK(ok("2026-12-05T18:00-0330") == utc(2026, 12, 5, 21, 30));
    CHECK(ok("2026-12-05T18:00+05") == utc(2026, 12, 5, 13));
    CHECK(ok("2026-12-05T18:00Z") == utc(2026, 12, 5, 18));
    CHECK(ok("2026-12-05T18:00:59z") == utc(2026, 12, 5, 18, 0, 59));
    CHECK(ok("2026-12-05T18:00Z", "") == utc(2026, 12, 5, 18));  // no zone needed
    // The gap and the repeat follow the hand-off rule.
    CHECK(ok("2026-03-29T03:30") == utc(2026, 3, 29, 1));
    CHECK(ok("2026-10-25T03:30") == utc(2026, 10, 25, 0, 30));

    const auto fails = [](const std::string& text, const std::string& starts,
                          const std::string& zone = "Europe/Kyiv") {
        const auto r = parse_time(text, zone);
        INFO(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "time");
        CHECK(r.err().message.starts_with(starts));
    };
    fails("2026-12-05T18:00", "a local time needs a known time zone", "Mars/Olympus");
    fails("2026-02-30T10:00", "no such date");
    fails("2026-12-05T24:00", "no such time of day");
    fails("2026-12-05T23:60", "no such time of day");
    fails("2026-12-05T18:00+19:00", "no such UTC offset");
    for (const char* bad :
         {"", "tomorrow", "2026-12-05T", "2026-12-05T18", "2026-12-05T18:0", "2026-12-05T18:00+3",
          "2026-12-05T18:00+03:0", "2026-12-05T18:00:00.000Z", "2026-12-05+03:00",
          "2026-12-05T18:00 Z", "2026-12-05T18:00ZZ", "2026-12-05X18:00", "1764957600000",
          "2026-12-05T18:00+03:00 and more text that goes on"}) {
        fails(bad, "expected an ISO 8601 time");
    }
}

TEST_CASE("format_time and zone_abbreviation") {
    CHECK(format_time(utc(2026, 12, 5, 16), "Europe/Kyiv") == "2026-12-05T18:00+02:00");
    CHECK(format_time(utc(2026, 7, 5, 15, 0, 7), "Europe/Kyiv") == "2026-07-05T18:00:07+03:00");
    CHECK(format_time(utc(2026, 7, 5, 15) + 999, "UTC") == "2026-07-05T15:00+00:00");
    CHECK(format_time(utc(2026, 1, 1), "America/St_Johns") == "2025-12-31T20:30-03:30");
    CHECK(format_time(utc(2026, 1, 1), "Mars/Olympus").empty());
    CHECK(zone_abbreviation(utc(2026, 7, 1), "Europe/London") == "BST");
    CHECK(zone_abbreviation(utc(2026, 1, 1), "Europe/Kyiv") == "EET");
    CHECK(zone_abbreviation(utc(2026, 1, 1), "Asia/Almaty") == "+05");
    CHECK(zone_abbreviation(utc(2026, 1, 1), "nowhere").empty());
}
