#include "rules/time_interval.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include <unicode/strenum.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include "core/text.hpp"

namespace hotline::rules {

// ICU's TimeZone is safe for concurrent const use (getOffset), so one instance is shared by
// every evaluation on every thread.
struct time_zone {
    std::unique_ptr<const icu::TimeZone> zone;
};

namespace {

constexpr std::int64_t ms_per_day = 86'400'000;
constexpr std::size_t max_zone_name = 64;

core::error interval_error(std::string message) {
    return core::make_error("config", std::move(message));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Howard Hinnant's civil_from_days: days since 1970-01-01 to year, month (1-12), day.
void civil_from_days(std::int64_t z, std::int64_t& y, int& m, int& d) {
    z += 719468;
    const std::int64_t era = floor_div(z, 146097);
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

bool is_leap(std::int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) {
    static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[static_cast<std::size_t>(m - 1)];
}

struct local_time {
    std::int64_t year{};
    int month{};    // 1..12
    int day{};      // 1..31
    int weekday{};  // 0 Sunday
    int minute{};   // of the day
    int month_days{};
};

local_time local_at(const time_zone* zone, std::int64_t unix_ms) {
    // Beyond ±35,000 years there is nothing to schedule, and adding an offset could overflow.
    constexpr std::int64_t limit = std::int64_t{1} << 50;
    std::int64_t local_ms = std::clamp(unix_ms, -limit, limit);
    if (zone != nullptr) {
        std::int32_t raw = 0;
        std::int32_t dst = 0;
        UErrorCode status = U_ZERO_ERROR;
        zone->zone->getOffset(static_cast<UDate>(local_ms), false, raw, dst, status);
        if (U_SUCCESS(status)) {
            local_ms += static_cast<std::int64_t>(raw) + dst;
        }
    }
    const std::int64_t days = floor_div(local_ms, ms_per_day);
    local_time t;
    t.minute = static_cast<int>((local_ms - days * ms_per_day) / 60'000);
    civil_from_days(days, t.year, t.month, t.day);
    t.weekday = static_cast<int>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    t.month_days = days_in_month(t.year, t.month);
    return t;
}

bool in_ranges(const std::vector<value_range>& ranges, std::int64_t value) {
    if (ranges.empty()) {
        return true;
    }
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const value_range& r) { return value >= r.begin && value <= r.end; });
}

// Alertmanager's rule: negative days count from the month's end; a range that starts after
// the month's last day does not hold that month; the rest is clamped to the month.
bool in_days_of_month(const std::vector<value_range>& ranges, const local_time& t) {
    if (ranges.empty()) {
        return true;
    }
    for (const auto& r : ranges) {
        const int begin = r.begin < 0 ? t.month_days + r.begin + 1 : r.begin;
        const int end = r.end < 0 ? t.month_days + r.end + 1 : r.end;
        if (begin > t.month_days) {
            continue;
        }
        if (t.day >= std::max(begin, 1) && t.day <= std::min(end, t.month_days)) {
            return true;
        }
    }
    return false;
}

bool entry_contains(const time_interval_entry& e, std::int64_t unix_ms) {
    const local_time t = local_at(e.zone.get(), unix_ms);
    if (!e.times.empty() &&
        std::none_of(e.times.begin(), e.times.end(), [&](const time_of_day_range& r) {
            return t.minute >= r.start_minute && t.minute < r.end_minute;
        })) {
        return false;
    }
    return in_ranges(e.weekdays, t.weekday) && in_days_of_month(e.days_of_month, t) &&
           in_ranges(e.months, t.month) && in_ranges(e.years, t.year);
}

std::optional<int> parse_clock(std::string_view s) {
    // Exactly HH:MM, as Alertmanager's regex ^(([01][0-9])|(2[0-3])):[0-5][0-9]$|^24:00$.
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (s.size() != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) ||
        !digit(s[4])) {
        return std::nullopt;
    }
    const int hours = (s[0] - '0') * 10 + (s[1] - '0');
    const int minutes = (s[3] - '0') * 10 + (s[4] - '0');
    if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
        return std::nullopt;
    }
    return hours * 60 + minutes;
}

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s.substr(0, 40)) + (s.size() > 40 ? "...\"" : "\"");
}

std::optional<int> parse_int(std::string_view s) {
    int value = 0;
    if (s.empty() || s.size() > 6) {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

// Splits "a:b" (or "a", giving a:a); an empty side ("monday:", ":5") is an error.
core::result<std::pair<std::string_view, std::string_view>> split_range(std::string_view text,
                                                                        std::string_view what) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        if (text.empty()) {
            return interval_error("expected " + std::string(what) + ", got an empty value");
        }
        return std::pair{text, text};
    }
    const std::string_view begin = text.substr(0, colon);
    const std::string_view end = text.substr(colon + 1);
    if (begin.empty() || end.empty() || end.find(':') != std::string_view::npos) {
        return interval_error("expected " + std::string(what) + " or a range of them like " +
                              (what == "a weekday" ? "\"monday:friday\"" : "\"1:5\"") + ", got " +
                              quoted(text));
    }
    return std::pair{begin, end};
}

// Names (case-insensitive) or, when `numbers`, numbers from `first`.
core::result<value_range> parse_named_range(std::string_view text, std::string_view what,
                                            const std::vector<std::string_view>& names, int first,
                                            bool numbers) {
    auto sides = split_range(text, what);
    if (!sides) {
        return sides.err();
    }
    const auto one = [&](std::string_view s) -> core::result<int> {
        const std::string l = lower_ascii(s);
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (l == names[i]) {
                return first + static_cast<int>(i);
            }
        }
        if (numbers) {
            if (auto n = parse_int(s);
                n && *n >= first && *n < first + static_cast<int>(names.size())) {
                return *n;
            }
        }
        std::string hint;
        for (const auto name : names) {
            if (core::edit_distance(l.substr(0, 16), name) <= 2) {
                hint = "; did you mean \"" + std::string(name) + "\"?";
                break;
            }
        }
        return interval_error(
            "unknown " + std::string(what.substr(2)) + " " + quoted(s) + " (expected " +
            std::string(names.front()) + " .. " + std::string(names.back()) +
            (numbers ? " or " + std::to_string(first) + " .. " +
                           std::to_string(first + static_cast<int>(names.size()) - 1)
                     : std::string()) +
            ")" + hint);
    };
    auto begin = one(sides->first);
    if (!begin) {
        return begin.err();
    }
    auto end = one(sides->second);
    if (!end) {
        return end.err();
    }
    if (*begin > *end) {
        return interval_error("the range " + quoted(text) + " starts after it ends");
    }
    return value_range{*begin, *end};
}

}  // namespace

bool contains(const time_interval& ti, std::int64_t unix_ms) {
    return std::any_of(ti.entries.begin(), ti.entries.end(),
                       [&](const time_interval_entry& e) { return entry_contains(e, unix_ms); });
}

core::result<time_of_day_range> parse_time_range(std::string_view start, std::string_view end) {
    const auto s = parse_clock(start);
    if (!s || *s == 24 * 60) {
        return interval_error("expected start_time as HH:MM from 00:00 to 23:59, got " +
                              quoted(start));
    }
    const auto e = parse_clock(end);
    if (!e) {
        return interval_error("expected end_time as HH:MM from 00:00 to 24:00, got " + quoted(end));
    }
    if (*s >= *e) {
        return interval_error("start_time " + quoted(start) + " is not before end_time " +
                              quoted(end) +
                              " (an interval across midnight is two ranges: 22:00-24:00 and "
                              "00:00-06:00)");
    }
    return time_of_day_range{*s, *e};
}

core::result<value_range> parse_weekday_range(std::string_view text) {
    static const std::vector<std::string_view> names{"sunday",   "monday", "tuesday", "wednesday",
                                                     "thursday", "friday", "saturday"};
    return parse_named_range(text, "a weekday", names, 0, false);
}

core::result<value_range> parse_month_range(std::string_view text) {
    static const std::vector<std::string_view> names{
        "january", "february", "march",     "april",   "may",      "june",
        "july",    "august",   "september", "october", "november", "december"};
    return parse_named_range(text, "a month", names, 1, true);
}

core::result<value_range> parse_day_of_month_range(std::string_view text) {
    auto sides = split_range(text, "a day of the month");
    if (!sides) {
        return sides.err();
    }
    const auto one = [&](std::string_view s) -> core::result<int> {
        const auto n = parse_int(s);
        if (!n || *n == 0 || *n < -31 || *n > 31) {
            return interval_error("expected a day of the month from 1 to 31 or -31 to -1, got " +
                                  quoted(s));
        }
        return *n;
    };
    auto begin = one(sides->first);
    if (!begin) {
        return begin.err();
    }
    auto end = one(sides->second);
    if (!end) {
        return end.err();
    }
    // As Alertmanager: compare in a 31-day month (-1 is day 31).
    const int true_begin = *begin < 0 ? 32 + *begin : *begin;
    const int true_end = *end < 0 ? 32 + *end : *end;
    if (true_begin > true_end) {
        return interval_error("the range " + quoted(text) + " starts after it ends");
    }
    return value_range{*begin, *end};
}

core::result<value_range> parse_year_range(std::string_view text) {
    auto sides = split_range(text, "a year");
    if (!sides) {
        return sides.err();
    }
    const auto one = [&](std::string_view s) -> core::result<int> {
        const auto n = parse_int(s);
        if (!n || *n < 1 || *n > 9999) {
            return interval_error("expected a year from 1 to 9999, got " + quoted(s));
        }
        return *n;
    };
    auto begin = one(sides->first);
    if (!begin) {
        return begin.err();
    }
    auto end = one(sides->second);
    if (!end) {
        return end.err();
    }
    if (*begin > *end) {
        return interval_error("the range " + quoted(text) + " starts after it ends");
    }
    return value_range{*begin, *end};
}

core::result<std::shared_ptr<const time_zone>> load_time_zone(std::string_view name) {
    if (name.empty() || name.size() > max_zone_name) {
        return interval_error("expected an IANA time zone like Europe/Kyiv, got " + quoted(name));
    }
    const icu::UnicodeString id = icu::UnicodeString::fromUTF8(
        icu::StringPiece(name.data(), static_cast<std::int32_t>(name.size())));
    icu::UnicodeString canonical;
    UBool is_system = false;
    UErrorCode status = U_ZERO_ERROR;
    icu::TimeZone::getCanonicalID(id, canonical, is_system, status);
    if (U_FAILURE(status) || !is_system) {
        std::string hint;
        if (name == "Local") {
            hint = "; the daemon's own zone is not used: name the zone, like Europe/Kyiv";
        } else {
            UErrorCode enum_status = U_ZERO_ERROR;
            std::unique_ptr<icu::StringEnumeration> all(
                icu::TimeZone::createEnumeration(enum_status));
            std::size_t best = 3;
            std::string best_name;
            const char* candidate = nullptr;
            std::int32_t length = 0;
            while (all && U_SUCCESS(enum_status) &&
                   (candidate = all->next(&length, enum_status)) != nullptr) {
                const std::string_view c(candidate, static_cast<std::size_t>(length));
                const std::size_t distance = core::edit_distance(lower_ascii(name), lower_ascii(c));
                if (distance < best) {
                    best = distance;
                    best_name = c;
                }
            }
            if (!best_name.empty()) {
                hint = "; did you mean \"" + best_name + "\"?";
            }
        }
        return interval_error("unknown time zone " + quoted(name) + hint);
    }
    auto zone = std::make_shared<time_zone>();
    zone->zone.reset(icu::TimeZone::createTimeZone(id));
    return std::shared_ptr<const time_zone>(std::move(zone));
}

}  // namespace hotline::rules
