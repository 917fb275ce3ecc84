#include "rules/oncall.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include <date/tz.h>

namespace hotline::rules {

namespace {

using seconds = std::chrono::seconds;

// Instants are clamped to 1900-01-01 .. 9999-12-31 so that no arithmetic below overflows
// whatever a caller passes (the loader's dates are within this range already).
constexpr std::int64_t min_ms = -2'208'988'800'000;   // 1900-01-01T00:00Z
constexpr std::int64_t max_ms = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
// Raw shifts one layer may enumerate in one shifts() call: bounds the work of a tiny
// custom length over a long range even when overrides cover most of it.
constexpr std::size_t max_raw_shifts = 1'000'000;

std::int64_t clamp_ms(std::int64_t t) {
    return std::clamp(t, min_ms, max_ms);
}

// posix/ and right/ are Debian's copies of every zone (right/ counts leap seconds);
// "localtime" and "posixrules" are links to whatever the host says. None is a zone a
// schedule should name.
bool schedule_zone_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && !name.starts_with("posix/") &&
           !name.starts_with("right/") && name != "localtime" && name != "posixrules";
}

const date::time_zone* find_zone(const std::string& name) noexcept {
    if (!schedule_zone_name(name)) {
        return nullptr;
    }
    try {
        const date::time_zone* zone = date::locate_zone(name);
        // The zone's file is read on first use and that may throw: make it happen here,
        // at load, so that the computations below never do.
        (void)zone->get_info(date::sys_seconds{});
        return zone;
    } catch (const std::exception&) {
        return nullptr;  // unknown, unreadable, or no zone data on this host
    }
}

std::int64_t to_ms(const date::time_zone& zone, date::local_seconds local) {
    // earliest: an ambiguous time (autumn) is its first occurrence; a time in a gap
    // (spring) is the end of the gap, the first instant after it.
    const auto sys = zone.to_sys(local, date::choose::earliest);
    return static_cast<std::int64_t>(sys.time_since_epoch().count()) * 1000;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) {
        return false;
    }
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

std::optional<std::int64_t> days_of(int y, int m, int d) {
    if (y < 1900 || y > 9999) {
        return std::nullopt;
    }
    const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                   date::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return date::sys_days{ymd}.time_since_epoch().count();
}

// When each shift of one rotation begins.
struct rotation_clock {
    const date::time_zone* zone{};
    date::local_seconds first_local{};  // the start day at the hand-off time
    std::int64_t step_days{0};          // calendar days per shift; 0: length_ms of elapsed time
    std::int64_t length_ms{0};
    std::int64_t first_ms{0};

    // The instant shift k begins (k >= 0).
    [[nodiscard]] std::int64_t begins(std::int64_t k) const {
        if (step_days == 0) {
            return first_ms + k * length_ms;
        }
        return to_ms(*zone, first_local + seconds{k * step_days * 86'400});
    }

    // The shift in force at t; nullopt before the first hand-off.
    [[nodiscard]] std::optional<std::int64_t> index_at(std::int64_t t) const {
        if (t < first_ms) {
            return std::nullopt;
        }
        const std::int64_t nominal = step_days == 0 ? length_ms : step_days * day_ms;
        std::int64_t k = (t - first_ms) / nominal;
        // A calendar step is a day or more; UTC offsets differ by less than that, so these
        // loops turn at most twice.
        while (k > 0 && begins(k) > t) {
            --k;
        }
        while (begins(k + 1) <= t) {
            ++k;
        }
        return k;
    }
};

std::optional<rotation_clock> make_clock(const rotation& r, const date::time_zone* zone) {
    if (zone == nullptr || r.members.empty()) {
        return std::nullopt;
    }
    const auto handoff = parse_handoff(r.handoff);
    const auto start = parse_local_date(r.start);
    if (!handoff || !start) {
        return std::nullopt;
    }
    rotation_clock c;
    c.zone = zone;
    c.first_local = date::local_seconds{seconds{*start * 86'400 + *handoff * 60}};
    if (r.type == "daily") {
        c.step_days = 1;
    } else if (r.type == "weekly") {
        c.step_days = 7;
    } else if (r.type == "custom" && r.length_ms >= minute_ms) {
        if (r.length_ms % day_ms == 0) {
            c.step_days = r.length_ms / day_ms;
        } else {
            c.length_ms = r.length_ms;
        }
    } else {
        return std::nullopt;
    }
    c.first_ms = to_ms(*zone, c.first_local);
    return c;
}

const std::string& member(const rotation& r, std::int64_t k) {
    return r.members[static_cast<std::size_t>(k % static_cast<std::int64_t>(r.members.size()))];
}

struct interval {
    std::int64_t from, to;
};

// The layers' shifts overlapping [from, to), before overrides; back-to-back shifts of the
// same person merged.
std::vector<shift> layer_shifts(const rotation& r, std::size_t layer, const date::time_zone* zone,
                                std::int64_t from, std::int64_t to) {
    std::vector<shift> out;
    const auto clock = make_clock(r, zone);
    if (!clock) {
        return out;
    }
    std::int64_t k = clock->index_at(from).value_or(0);
    std::int64_t begins = clock->begins(k);
    for (std::size_t n = 0; begins < to && n < max_raw_shifts && begins < max_ms; ++n, ++k) {
        const std::int64_t ends = clock->begins(k + 1);
        const std::string& who = member(r, k);
        if (ends > begins) {
            if (!out.empty() && out.back().who == who && out.back().to_ms == begins) {
                out.back().to_ms = ends;
            } else {
                out.push_back({who, begins, ends, false, layer});
            }
        }
        begins = ends;
    }
    return out;
}

// Overrides as non-overlapping pieces: where several are in force, the later-listed one.
std::vector<shift> override_pieces(const std::vector<schedule_override>& overrides) {
    std::vector<std::int64_t> points;
    for (const auto& o : overrides) {
        if (o.from_ms < o.to_ms) {
            points.push_back(clamp_ms(o.from_ms));
            points.push_back(clamp_ms(o.to_ms));
        }
    }
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());
    std::vector<shift> out;
    for (std::size_t i = 0; i + 1 < points.size(); ++i) {
        const std::int64_t a = points[i];
        const std::int64_t b = points[i + 1];
        for (std::size_t j = overrides.size(); j-- > 0;) {
            const auto& o = overrides[j];
            if (clamp_ms(o.from_ms) <= a && b <= clamp_ms(o.to_ms)) {
                if (!out.empty() && out.back().who == o.who && out.back().to_ms == a) {
                    out.back().to_ms = b;
                } else {
                    out.push_back({o.who, a, b, true, j});
                }
                break;
            }
        }
    }
    return out;
}

// Appends the parts of `s` outside `covered` (sorted, disjoint) to `out`.
void subtract(const shift& s, const std::vector<interval>& covered, std::vector<shift>& out) {
    std::int64_t at = s.from_ms;
    for (const auto& c : covered) {
        if (c.to <= at) {
            continue;
        }
        if (c.from >= s.to_ms) {
            break;
        }
        if (c.from > at) {
            shift piece = s;
            piece.from_ms = at;
            piece.to_ms = c.from;
            out.push_back(std::move(piece));
        }
        at = std::max(at, c.to);
    }
    if (at < s.to_ms) {
        shift piece = s;
        piece.from_ms = at;
        out.push_back(std::move(piece));
    }
}

std::string two(int v) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02d", v);
    return buf;
}

}  // namespace

bool valid_time_zone(const std::string& zone) {
    return find_zone(zone) != nullptr;
}

std::vector<std::string> time_zone_names() {
    std::vector<std::string> out;
    try {
        // The system's tzdata: every zone file, links (Europe/Kiev) included.
        for (const auto& z : date::get_tzdb().zones) {
            if (schedule_zone_name(z.name())) {
                out.emplace_back(z.name());
            }
        }
    } catch (const std::exception&) {
        return {};  // no zone data on this host
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<int> parse_handoff(std::string_view text) {
    int h = 0;
    int m = 0;
    if (text.size() != 5 || text[2] != ':' || !digits(text, 0, 2, h) || !digits(text, 3, 2, m) ||
        h > 23 || m > 59) {
        return std::nullopt;
    }
    return h * 60 + m;
}

std::optional<std::int64_t> parse_local_date(std::string_view text) {
    int y = 0;
    int m = 0;
    int d = 0;
    if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(text, 0, 4, y) ||
        !digits(text, 5, 2, m) || !digits(text, 8, 2, d)) {
        return std::nullopt;
    }
    return days_of(y, m, d);
}

core::result<std::int64_t> parse_time(std::string_view text, const std::string& zone) {
    const auto bad = [] {
        return core::make_error("time",
                                "expected an ISO 8601 time: YYYY-MM-DDTHH:MM (local time), or "
                                "with an offset (2026-12-05T18:00+03:00, …Z)");
    };
    if (text.size() > 40) {
        return bad();
    }
    const auto day = parse_local_date(text.substr(0, std::min<std::size_t>(text.size(), 10)));
    if (!day) {
        return text.size() >= 10 && text[4] == '-' && text[7] == '-'
                   ? core::make_error("time", "no such date (years 1900 to 9999)")
                   : bad();
    }
    std::int64_t local_s = *day * 86'400;
    std::size_t pos = 10;
    if (pos < text.size()) {
        int h = 0;
        int m = 0;
        if ((text[pos] != 'T' && text[pos] != ' ') || !digits(text, pos + 1, 2, h) ||
            pos + 3 >= text.size() || text[pos + 3] != ':' || !digits(text, pos + 4, 2, m)) {
            return bad();
        }
        pos += 6;
        int s = 0;
        if (pos < text.size() && text[pos] == ':') {
            if (!digits(text, pos + 1, 2, s)) {
                return bad();
            }
            pos += 3;
        }
        if (h > 23 || m > 59 || s > 59) {
            return core::make_error("time", "no such time of day (00:00 to 23:59:59)");
        }
        local_s += h * 3600 + m * 60 + s;
    }
    if (pos == text.size()) {
        const date::time_zone* z = find_zone(zone);
        if (z == nullptr) {
            return core::make_error("time",
                                    "a local time needs a known time zone; add an "
                                    "offset (…+03:00 or …Z)");
        }
        return to_ms(*z, date::local_seconds{seconds{local_s}});
    }
    std::int64_t offset_s = 0;
    if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
        offset_s = 0;
    } else if (text[pos] == '+' || text[pos] == '-') {
        const int sign = text[pos] == '+' ? 1 : -1;
        int oh = 0;
        int om = 0;
        const std::string_view rest = text.substr(pos + 1);
        const bool shape = (rest.size() == 2 && digits(rest, 0, 2, oh)) ||
                           (rest.size() == 4 && digits(rest, 0, 2, oh) && digits(rest, 2, 2, om)) ||
                           (rest.size() == 5 && rest[2] == ':' && digits(rest, 0, 2, oh) &&
                            digits(rest, 3, 2, om));
        if (!shape || pos == 10) {
            return bad();
        }
        if (oh > 18 || om > 59) {
            return core::make_error("time", "no such UTC offset (at most ±18:00)");
        }
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return bad();
    }
    return (local_s - offset_s) * 1000;
}

std::string format_time(std::int64_t at_ms, const std::string& zone) {
    const date::time_zone* z = find_zone(zone);
    if (z == nullptr) {
        return {};
    }
    const date::sys_seconds sys{date::floor<seconds>(std::chrono::milliseconds{clamp_ms(at_ms)})};
    const auto info = z->get_info(sys);
    const auto local = date::local_seconds{sys.time_since_epoch() + info.offset};
    const auto day = date::floor<date::days>(local);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<seconds> tod{local - day};
    std::string out = std::to_string(static_cast<int>(ymd.year())) + "-" +
                      two(static_cast<int>(static_cast<unsigned>(ymd.month()))) + "-" +
                      two(static_cast<int>(static_cast<unsigned>(ymd.day()))) + "T" +
                      two(static_cast<int>(tod.hours().count())) + ":" +
                      two(static_cast<int>(tod.minutes().count()));
    if (tod.seconds().count() != 0) {
        out += ":" + two(static_cast<int>(tod.seconds().count()));
    }
    const auto off = info.offset.count();
    const auto abs_off = off < 0 ? -off : off;
    out += (off < 0 ? "-" : "+") + two(static_cast<int>(abs_off / 3600)) + ":" +
           two(static_cast<int>(abs_off / 60 % 60));
    if (abs_off % 60 != 0) {
        out += ":" + two(static_cast<int>(abs_off % 60));  // local mean time before 1900s
    }
    return out;
}

std::string zone_abbreviation(std::int64_t at_ms, const std::string& zone) {
    const date::time_zone* z = find_zone(zone);
    if (z == nullptr) {
        return {};
    }
    const date::sys_seconds sys{date::floor<seconds>(std::chrono::milliseconds{clamp_ms(at_ms)})};
    return z->get_info(sys).abbrev;
}

std::vector<std::string> on_call(const schedule& s, std::int64_t at_ms) {
    const std::int64_t t = clamp_ms(at_ms);
    for (std::size_t i = s.overrides.size(); i-- > 0;) {
        const auto& o = s.overrides[i];
        if (clamp_ms(o.from_ms) <= t && t < clamp_ms(o.to_ms)) {
            return {o.who};  // the later-listed override wins
        }
    }
    std::vector<std::string> out;
    const date::time_zone* zone = find_zone(s.time_zone);
    for (const auto& r : s.rotations) {
        const auto clock = make_clock(r, zone);
        if (!clock) {
            continue;
        }
        if (const auto k = clock->index_at(t)) {
            const std::string& who = member(r, *k);
            if (std::find(out.begin(), out.end(), who) == out.end()) {
                out.push_back(who);
            }
        }
    }
    return out;
}

std::vector<shift> shifts(const schedule& s, std::int64_t from_ms, std::int64_t to_ms) {
    const std::int64_t from = clamp_ms(from_ms);
    const std::int64_t to = clamp_ms(to_ms);
    std::vector<shift> out;
    if (from >= to) {
        return out;
    }
    const auto pieces = override_pieces(s.overrides);
    std::vector<interval> covered;
    for (const auto& p : pieces) {
        if (!covered.empty() && covered.back().to == p.from_ms) {
            covered.back().to = p.to_ms;
        } else {
            covered.push_back({p.from_ms, p.to_ms});
        }
        if (p.from_ms < to && p.to_ms > from) {
            out.push_back(p);
        }
    }
    const date::time_zone* zone = find_zone(s.time_zone);
    for (std::size_t layer = 0; layer < s.rotations.size(); ++layer) {
        for (const auto& raw : layer_shifts(s.rotations[layer], layer, zone, from, to)) {
            const std::size_t before = out.size();
            subtract(raw, covered, out);
            // Pieces of a raw shift that overlaps the range may still fall outside it.
            out.erase(
                std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
                               [&](const shift& x) { return x.to_ms <= from || x.from_ms >= to; }),
                out.end());
        }
    }
    std::sort(out.begin(), out.end(), [](const shift& a, const shift& b) {
        if (a.from_ms != b.from_ms) {
            return a.from_ms < b.from_ms;
        }
        if (a.override_ != b.override_) {
            return b.override_;
        }
        return a.layer < b.layer;
    });
    if (out.size() > max_shifts) {
        out.resize(max_shifts);
    }
    return out;
}

}  // namespace hotline::rules
