// On-call schedules: who is on call at an instant, and the shifts of a time range. Pure
// (no I/O but the system's time zone data, read once), so the escalation engine, `hotlinectl
// oncall` and the tests share one answer.
//
// Time zones come from the system's tzdata (/usr/share/zoneinfo, Debian's tzdata package)
// through Howard Hinnant's date library: ICU 72's built-in zone data is 2022e and lacks, for
// one, Asia/Almaty's move from UTC+6 to UTC+5 on 2024-03-01. Hand-offs are local wall-clock
// times (docs/escalation.md, "Teams and schedules", says what a gap or an overlap does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mark.hpp"
#include "core/result.hpp"

namespace hotline::rules {

inline constexpr std::int64_t minute_ms = 60'000;
inline constexpr std::int64_t day_ms = 86'400'000;

struct rotation {
    std::string type;              // daily | weekly | custom
    std::int64_t length_ms{};      // daily: 1 day, weekly: 7 days, custom: `length:` (e.g. 12h, 3d)
    std::string handoff{"09:00"};  // local wall-clock time of each hand-off (HH:MM)
    std::string
        start;  // YYYY-MM-DD (local date): members[0]'s first shift begins at handoff that day
    std::vector<std::string> members;  // responder ids, in turn order
    core::mark at;
};

struct schedule_override {
    std::int64_t from_ms{}, to_ms{};
    std::string who;
    core::mark at;
};

struct schedule {
    std::string id;
    std::string time_zone;            // IANA, e.g. Europe/Kyiv; validated at load
    std::vector<rotation> rotations;  // layers: all on call at once (union, in layer order)
    std::vector<schedule_override>
        overrides;  // while one is in force its `who` replaces the layers
    core::mark at;
};

// Responder ids on call at `at_ms` (unix ms), in order, without duplicates. Empty when
// nobody (before every rotation's start, or a rotation that cannot be computed: an unknown
// zone, a bad handoff or start, no members; the loader refuses those).
[[nodiscard]] std::vector<std::string> on_call(const schedule& s, std::int64_t at_ms);

struct shift {
    std::string who;
    std::int64_t from_ms{}, to_ms{};
    bool override_{false};
    std::size_t layer{};  // the rotation's index; for an override, the override's index
};

// At most this many shifts come back from one call (a 1-minute rotation over a year would
// be half a million); the earliest ones.
inline constexpr std::size_t max_shifts = 10'000;

// The shifts (after overrides) that overlap [from_ms, to_ms), in time order (then layer
// order), each with its whole extent (it may begin before from_ms or end after to_ms). A
// layer's shift that an override interrupts comes back as the pieces outside the override;
// back-to-back shifts of the same person in one layer (a one-member rotation) are one.
[[nodiscard]] std::vector<shift> shifts(const schedule& s, std::int64_t from_ms,
                                        std::int64_t to_ms);

// Whether the system's time zone data knows the IANA name (Europe/Kyiv; also the old
// aliases it keeps, such as Europe/Kiev).
[[nodiscard]] bool valid_time_zone(const std::string& zone);

// --- the pieces the config loader and hotlinectl use

// Every zone name valid_time_zone accepts, sorted (for did-you-mean).
[[nodiscard]] std::vector<std::string> time_zone_names();

// "HH:MM" (00:00 to 23:59, two digits each) as minutes after midnight.
[[nodiscard]] std::optional<int> parse_handoff(std::string_view text);
// "YYYY-MM-DD" (a real date, years 1900 to 9999) as days since 1970-01-01.
[[nodiscard]] std::optional<std::int64_t> parse_local_date(std::string_view text);

// An ISO 8601 instant as unix ms: YYYY-MM-DDTHH:MM[:SS] followed by Z, ±HH:MM, ±HHMM or
// ±HH, or with no offset a local time in `zone` (a time in a spring gap is the first instant
// after it, an autumn repeat the first occurrence), or a bare YYYY-MM-DD (00:00 local).
// Errors: code "time", a message saying what was expected.
[[nodiscard]] core::result<std::int64_t> parse_time(std::string_view text, const std::string& zone);

// An instant as local time in `zone` with its offset: "2026-12-05T18:00+02:00" (seconds
// when not zero, milliseconds cut); "" for an unknown zone.
[[nodiscard]] std::string format_time(std::int64_t at_ms, const std::string& zone);
// The zone's abbreviation at that instant ("EET", "BST", "+05"); "" for an unknown zone.
[[nodiscard]] std::string zone_abbreviation(std::int64_t at_ms, const std::string& zone);

}  // namespace hotline::rules
