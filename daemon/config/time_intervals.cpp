// `time_intervals:` named intervals in Alertmanager's syntax (docs/escalation.md, "Time
// intervals"), compiled by rules/time_interval; routes and matchers name them, and
// resolve_time_intervals (called by finish_routes) binds those names once every file is read.
#include "config/sections.hpp"

#include <algorithm>
#include <functional>

namespace hotline::config {

namespace {

constexpr std::size_t max_intervals = 1024;
constexpr std::size_t max_entries = 256;
constexpr std::size_t max_values = 256;

using range_parser = core::result<rules::value_range> (*)(std::string_view);

void read_ranges(yaml_reader& y, const document& d, const YAML::Node& v, const std::string& path,
                 range_parser parse, std::vector<rules::value_range>& out) {
    if (!y.expect_list(d, v, path)) {
        return;
    }
    if (v.size() > max_values) {
        y.fail(y.at(d, v), path, "too many values (limit " + std::to_string(max_values) + ")");
        return;
    }
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(path, i++);
        auto text = y.read_string(d, item, item_path);
        if (!text) {
            continue;
        }
        auto range = parse(*text);
        if (!range) {
            y.fail(y.at(d, item), item_path, range.err().message);
            continue;
        }
        out.push_back(*range);
    }
}

void read_times(yaml_reader& y, const document& d, const YAML::Node& v, const std::string& path,
                std::vector<rules::time_of_day_range>& out) {
    if (!y.expect_list(d, v, path)) {
        return;
    }
    if (v.size() > max_values) {
        y.fail(y.at(d, v), path, "too many values (limit " + std::to_string(max_values) + ")");
        return;
    }
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(path, i++);
        const auto f = y.read_map(d, item, item_path, {"start_time", "end_time"});
        if (!f) {
            continue;
        }
        const auto start = f->find("start_time");
        const auto end = f->find("end_time");
        if (start == f->end() || end == f->end()) {
            y.fail(y.at(d, item), item_path,
                   std::string("missing ") + (start == f->end() ? "start_time" : "end_time"));
            continue;
        }
        const auto start_text =
            y.read_string(d, start->second.second, join(item_path, "start_time"));
        const auto end_text = y.read_string(d, end->second.second, join(item_path, "end_time"));
        if (!start_text || !end_text) {
            continue;
        }
        auto range = rules::parse_time_range(*start_text, *end_text);
        if (!range) {
            // Point at the value that is wrong: the start unless it alone is fine.
            const bool start_ok = rules::parse_time_range(*start_text, "24:00").ok();
            const auto& node = start_ok ? end->second.second : start->second.second;
            y.fail(y.at(d, node), join(item_path, start_ok ? "end_time" : "start_time"),
                   range.err().message);
            continue;
        }
        out.push_back(*range);
    }
}

std::optional<rules::time_interval_entry> read_entry(yaml_reader& y, const document& d,
                                                     const YAML::Node& node,
                                                     const std::string& path) {
    const auto f = y.read_map(
        d, node, path, {"times", "weekdays", "days_of_month", "months", "years", "location"});
    if (!f) {
        return std::nullopt;
    }
    rules::time_interval_entry e;
    const std::size_t errors_before = y.error_count();
    for (const auto& [key, entry] : *f) {
        const auto& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "times") {
            read_times(y, d, v, key_path, e.times);
        } else if (key == "weekdays") {
            read_ranges(y, d, v, key_path, rules::parse_weekday_range, e.weekdays);
        } else if (key == "days_of_month") {
            read_ranges(y, d, v, key_path, rules::parse_day_of_month_range, e.days_of_month);
        } else if (key == "months") {
            read_ranges(y, d, v, key_path, rules::parse_month_range, e.months);
        } else if (key == "years") {
            read_ranges(y, d, v, key_path, rules::parse_year_range, e.years);
        } else if (key == "location") {
            if (auto name = y.read_string(d, v, key_path)) {
                auto zone = rules::load_time_zone(*name);
                if (!zone) {
                    y.fail(y.at(d, v), key_path, zone.err().message);
                } else {
                    e.location = *name;
                    e.zone = std::move(*zone);
                }
            }
        }
    }
    if (y.error_count() != errors_before) {
        return std::nullopt;
    }
    return e;
}

std::vector<std::string> interval_names(const load_state& state) {
    std::vector<std::string> names;
    for (const auto& ti : state.cfg.time_intervals) {
        names.push_back(ti.name);
    }
    return names;
}

std::shared_ptr<const rules::time_interval> find_interval(const load_state& state,
                                                          const std::string& name) {
    for (const auto& ti : state.cfg.time_intervals) {
        if (ti.name == name) {
            return ti.interval;
        }
    }
    return nullptr;
}

void resolve_refs(load_state& state, std::vector<rules::interval_ref>& refs) {
    for (auto& ref : refs) {
        ref.interval = find_interval(state, ref.name);
        if (!ref.interval) {
            state.yaml.fail(
                ref.at, ref.path,
                "unknown time interval \"" + ref.name + "\"" +
                    suggest(ref.name, interval_names(state)) +
                    (state.cfg.time_intervals.empty() ? " (no `time_intervals:` are declared)"
                                                      : ""));
        }
    }
}

void resolve_node(load_state& state, rules::route_node& node) {
    for (auto& m : node.match) {
        if (m.field != "time_interval") {
            continue;
        }
        m.interval = find_interval(state, m.value);
        if (!m.interval) {
            state.yaml.fail(
                m.at, "route " + node.name + " match",
                "unknown time interval \"" + m.value + "\"" +
                    suggest(m.value, interval_names(state)) +
                    (state.cfg.time_intervals.empty() ? " (no `time_intervals:` are declared)"
                                                      : ""));
        }
    }
    if (node.active_time_intervals) {
        resolve_refs(state, *node.active_time_intervals);
    }
    if (node.mute_time_intervals) {
        resolve_refs(state, *node.mute_time_intervals);
    }
    for (auto& child : node.routes) {
        resolve_node(state, child);
    }
}

}  // namespace

void read_time_intervals(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, value, "time_intervals")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        const std::string path = index("time_intervals", i++);
        const auto f = y.read_map(d, item, path, {"name", "time_intervals"});
        if (!f) {
            continue;
        }
        rules::named_time_interval named;
        named.at = y.at(d, item);
        const auto name = f->find("name");
        if (name == f->end()) {
            y.fail(named.at, path, "missing name");
            continue;
        }
        const auto id = y.read_identifier(d, name->second.second, join(path, "name"));
        if (!id) {
            continue;
        }
        named.name = *id;
        const auto same = std::find_if(
            state.cfg.time_intervals.begin(), state.cfg.time_intervals.end(),
            [&](const rules::named_time_interval& ti) { return ti.name == named.name; });
        if (same != state.cfg.time_intervals.end()) {
            y.fail(
                y.at(d, name->second.second), join(path, "name"),
                "duplicate time interval \"" + named.name + "\" (first at " + same->at.str() + ")");
            continue;
        }
        if (state.cfg.time_intervals.size() >= max_intervals) {
            y.fail(named.at, path,
                   "too many time intervals (limit " + std::to_string(max_intervals) + ")");
            return;
        }
        auto interval = std::make_shared<rules::time_interval>();
        if (const auto list = f->find("time_intervals"); list != f->end()) {
            const std::string list_path = join(path, "time_intervals");
            const auto& v = list->second.second;
            if (y.expect_list(d, v, list_path)) {
                if (v.size() > max_entries) {
                    y.fail(y.at(d, v), list_path,
                           "too many entries (limit " + std::to_string(max_entries) + ")");
                } else {
                    std::size_t j = 0;
                    for (const auto& entry : v) {
                        if (auto e = read_entry(y, d, entry, index(list_path, j))) {
                            interval->entries.push_back(std::move(*e));
                        }
                        ++j;
                    }
                }
            }
        } else {
            y.fail(named.at, path, "missing time_intervals (a list of times, weekdays, ...)");
        }
        // Kept even when an entry was wrong (the load fails anyway), so the routes that name
        // it are not also told it is unknown.
        named.interval = std::move(interval);
        state.cfg.time_intervals.push_back(std::move(named));
    }
}

void resolve_time_intervals(load_state& state, rules::route_node& root) {
    resolve_node(state, root);
}

}  // namespace hotline::config
