// Time intervals in Alertmanager's syntax (docs/escalation.md, "Time intervals"): times of
// day, weekdays, days of the month, months and years, in an IANA time zone (ICU), for
// matchers and for a route's active_time_intervals / mute_time_intervals. Pure: the config
// reader turns YAML into these, and contains() tells whether an instant is inside.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mark.hpp"
#include "core/result.hpp"

namespace hotline::rules {

// An IANA time zone loaded through ICU (opaque here, so ICU stays out of the headers).
struct time_zone;

struct time_of_day_range {
    int start_minute{0};  // minutes after local midnight, 0 .. 1439
    int end_minute{0};    // exclusive, 1 .. 1440 ("24:00")
};

// An inclusive range of weekdays (0 Sunday .. 6 Saturday), days of the month (1 .. 31, or
// -31 .. -1 counted from the month's end: -1 is its last day), months (1 .. 12) or years.
struct value_range {
    int begin{0};
    int end{0};
};

// One entry of an interval's `time_intervals:` list: every field given must hold; a field not
// given (empty) always holds.
struct time_interval_entry {
    std::vector<time_of_day_range> times;
    std::vector<value_range> weekdays;
    std::vector<value_range> days_of_month;
    std::vector<value_range> months;
    std::vector<value_range> years;
    std::string location;                   // as written; "" is UTC
    std::shared_ptr<const time_zone> zone;  // null: UTC
};

// Holds when any of its entries does (none: never).
struct time_interval {
    std::vector<time_interval_entry> entries;
};

struct named_time_interval {
    std::string name;
    std::shared_ptr<const time_interval> interval;
    core::mark at;
};

// Whether the instant (unix milliseconds) is inside the interval, in each entry's local time.
[[nodiscard]] bool contains(const time_interval& ti, std::int64_t unix_ms);

// The parsers of the YAML values, without positions (the config reader adds them).
// "09:00" .. "18:00": HH:MM, start before end, end exclusive, "24:00" allowed as the end only.
[[nodiscard]] core::result<time_of_day_range> parse_time_range(std::string_view start,
                                                               std::string_view end);
// "monday", "monday:friday" (case-insensitive); begin not after end.
[[nodiscard]] core::result<value_range> parse_weekday_range(std::string_view text);
// "1", "1:5", "-3:-1", "1:-1"; never 0; begin not after end (counting a negative day in a
// 31-day month, as Alertmanager does).
[[nodiscard]] core::result<value_range> parse_day_of_month_range(std::string_view text);
// "january", "1", "january:march", "1:3" (names case-insensitive).
[[nodiscard]] core::result<value_range> parse_month_range(std::string_view text);
// "2026", "2026:2027" (1 .. 9999).
[[nodiscard]] core::result<value_range> parse_year_range(std::string_view text);
// An IANA time zone name ("Europe/Kyiv", "UTC"); an unknown name is an error with a
// did-you-mean among ICU's zone names.
[[nodiscard]] core::result<std::shared_ptr<const time_zone>> load_time_zone(std::string_view name);

}  // namespace hotline::rules
