// `teams:` (named groups of responders) and `schedules:` (on-call rotations in a time zone,
// with overrides), the targets team:ID and schedule:ID of routes and policies. The math is
// rules/oncall; this file reads and checks the YAML. Member and `who` ids are responders,
// checked by finish_oncall once every file is read.
#include <algorithm>
#include <string_view>

#include "config/sections.hpp"
#include "rules/oncall.hpp"

namespace hotline::config {

namespace {

// A schedule's overrides are compared pairwise when its shifts are listed.
constexpr std::size_t max_overrides = 1000;
constexpr std::size_t max_rotations = 32;

// Reads `id` into `out` and registers it in declared_ids[section]; false when missing or bad.
bool read_id(load_state& state, const document& d, const yaml_reader::fields& f,
             const std::string& path, const mark& at, const std::string& section,
             std::string& out) {
    yaml_reader& y = state.yaml;
    const auto it = f.find("id");
    if (it == f.end()) {
        y.fail(at, join(path, "id"), "missing (every entry needs an id)");
        return false;
    }
    const auto x = y.read_identifier(d, it->second.second, join(path, "id"));
    if (!x) {
        return false;
    }
    out = *x;
    const auto [first, fresh] = state.declared_ids[section].emplace(out, at);
    if (!fresh) {
        y.fail(y.at(d, it->second.second), join(path, "id"),
               "duplicate id \"" + out + "\" (first at " + first->second.str() + ")");
        return false;
    }
    return true;
}

// A list of responder ids; each is recorded for finish_oncall. Empty lists are refused.
bool read_members(load_state& state, const document& d, const YAML::Node& node,
                  const std::string& path, bool unique, std::vector<std::string>& out) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, node, path)) {
        return false;
    }
    if (node.size() == 0) {
        y.fail(y.at(d, node), path, "must list at least one responder");
        return false;
    }
    bool good = true;
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string item_path = index(path, i++);
        const auto id = y.read_identifier(d, item, item_path);
        if (!id) {
            good = false;
            continue;
        }
        if (unique && std::find(out.begin(), out.end(), *id) != out.end()) {
            y.fail(y.at(d, item), item_path, "\"" + *id + "\" is listed twice");
            good = false;
            continue;
        }
        state.oncall_refs.push_back({*id, item_path, y.at(d, item)});
        out.push_back(*id);
    }
    return good;
}

const YAML::Node* find(const yaml_reader::fields& f, std::string_view key) {
    const auto it = f.find(std::string(key));
    return it == f.end() ? nullptr : &it->second.second;
}

bool read_rotation(load_state& state, const document& d, const YAML::Node& node,
                   const std::string& path, rules::rotation& r) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"type", "length", "handoff", "start", "members"});
    if (!f) {
        return false;
    }
    r.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    for (const char* required : {"type", "start", "members"}) {
        if (find(*f, required) == nullptr) {
            y.fail(r.at, join(path, required),
                   std::string("missing") +
                       (std::string_view(required) == "type" ? " (daily, weekly or custom)"
                        : std::string_view(required) == "start"
                            ? " (YYYY-MM-DD: the first shift begins at the hand-off that day)"
                            : " (responder ids in turn order)"));
        }
    }
    if (const auto* n = find(*f, "type")) {
        if (auto x = y.read_enum(d, *n, join(path, "type"), {"daily", "weekly", "custom"})) {
            r.type = *x;
        }
    }
    const YAML::Node* length = find(*f, "length");
    if (r.type == "daily" || r.type == "weekly") {
        r.length_ms = r.type == "daily" ? rules::day_ms : 7 * rules::day_ms;
        if (length != nullptr) {
            y.fail(y.at(d, *length), join(path, "length"),
                   "only for type: custom (daily is one day, weekly seven)");
        }
    } else if (r.type == "custom") {
        if (length == nullptr) {
            y.fail(r.at, join(path, "length"),
                   "missing (type: custom needs a length such as 12h or 3d)");
        } else if (auto x = y.read_duration(d, *length, join(path, "length"))) {
            if (x->count() < rules::minute_ms) {
                y.fail(y.at(d, *length), join(path, "length"),
                       "at least 1m, got " + describe(*length));
            } else if (x->count() % rules::minute_ms != 0) {
                y.fail(y.at(d, *length), join(path, "length"),
                       "a whole number of minutes, got " + describe(*length));
            } else {
                r.length_ms = x->count();
            }
        }
    }
    if (const auto* n = find(*f, "handoff")) {
        if (auto x = y.read_string(d, *n, join(path, "handoff"))) {
            if (rules::parse_handoff(*x)) {
                r.handoff = *x;
            } else {
                y.fail(y.at(d, *n), join(path, "handoff"),
                       "expected a local time of day HH:MM (00:00 to 23:59), got " + describe(*n));
            }
        }
    }
    if (const auto* n = find(*f, "start")) {
        if (auto x = y.read_string(d, *n, join(path, "start"))) {
            if (rules::parse_local_date(*x)) {
                r.start = *x;
            } else {
                y.fail(y.at(d, *n), join(path, "start"),
                       "expected a date YYYY-MM-DD (years 1900 to 9999), got " + describe(*n));
            }
        }
    }
    if (const auto* n = find(*f, "members")) {
        read_members(state, d, *n, join(path, "members"), false, r.members);
    }
    return y.error_count() == errors_before;
}

bool read_override(load_state& state, const document& d, const YAML::Node& node,
                   const std::string& path, const std::string& zone, bool zone_known,
                   rules::schedule_override& o) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"from", "to", "who"});
    if (!f) {
        return false;
    }
    o.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    bool times = true;
    for (const char* key : {"from", "to"}) {
        const auto* n = find(*f, key);
        const std::string key_path = join(path, key);
        if (n == nullptr) {
            y.fail(o.at, key_path,
                   "missing (an ISO 8601 time: 2026-12-05T18:00 in the schedule's time zone, "
                   "or with an offset)");
            times = false;
            continue;
        }
        const auto text = y.read_string(d, *n, key_path);
        if (!text) {
            times = false;
            continue;
        }
        // A bad time_zone has its own error: a well-formed local time is not one more.
        const auto t = rules::parse_time(*text, zone_known ? zone : "UTC");
        if (!t || !zone_known) {
            if (!t) {
                y.fail(y.at(d, *n), key_path, t.err().message + ", got " + describe(*n));
            }
            times = false;
            continue;
        }
        (std::string_view(key) == "from" ? o.from_ms : o.to_ms) = *t;
    }
    if (times && o.to_ms <= o.from_ms) {
        const auto* n = find(*f, "to");
        y.fail(y.at(d, *n), join(path, "to"),
               "must be after from (" + rules::format_time(o.from_ms, zone_known ? zone : "UTC") +
                   "), got " + describe(*n));
    }
    if (const auto* n = find(*f, "who")) {
        if (auto x = y.read_identifier(d, *n, join(path, "who"))) {
            o.who = *x;
            state.oncall_refs.push_back({*x, join(path, "who"), y.at(d, *n)});
        }
    } else {
        y.fail(o.at, join(path, "who"), "missing (the responder on call instead)");
    }
    return y.error_count() == errors_before;
}

void read_schedule(load_state& state, const document& d, const YAML::Node& node,
                   const std::string& path) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"id", "time_zone", "rotations", "overrides"});
    if (!f) {
        return;
    }
    rules::schedule s;
    s.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    read_id(state, d, *f, path, s.at, "schedules", s.id);
    // The zone first: overrides written as local times are read in it.
    bool zone_known = false;
    if (const auto* n = find(*f, "time_zone")) {
        if (auto x = y.read_string(d, *n, join(path, "time_zone"))) {
            if (rules::valid_time_zone(*x)) {
                s.time_zone = *x;
                zone_known = true;
            } else {
                y.fail(y.at(d, *n), join(path, "time_zone"),
                       "unknown time zone " + describe(*n) + " (an IANA name like Europe/Kyiv)" +
                           suggest(*x, rules::time_zone_names()));
            }
        }
    } else {
        y.fail(s.at, join(path, "time_zone"),
               "missing (an IANA name like Europe/Kyiv: hand-offs are local times there)");
    }
    if (const auto* n = find(*f, "rotations")) {
        const std::string rp = join(path, "rotations");
        if (y.expect_list(d, *n, rp)) {
            if (n->size() == 0) {
                y.fail(y.at(d, *n), rp, "must list at least one rotation");
            } else if (n->size() > max_rotations) {
                y.fail(y.at(d, *n), rp,
                       "at most " + std::to_string(max_rotations) + " rotations, got " +
                           std::to_string(n->size()));
            } else {
                std::size_t i = 0;
                for (const auto& item : *n) {
                    rules::rotation r;
                    if (read_rotation(state, d, item, index(rp, i++), r)) {
                        s.rotations.push_back(std::move(r));
                    }
                }
            }
        }
    } else {
        y.fail(s.at, join(path, "rotations"),
               "missing (at least one {type, start, members} rotation)");
    }
    if (const auto* n = find(*f, "overrides")) {
        const std::string op = join(path, "overrides");
        if (y.expect_list(d, *n, op)) {
            if (n->size() > max_overrides) {
                y.fail(y.at(d, *n), op,
                       "at most " + std::to_string(max_overrides) + " overrides, got " +
                           std::to_string(n->size()) + "; remove those that have ended");
            } else {
                std::size_t i = 0;
                for (const auto& item : *n) {
                    rules::schedule_override o;
                    if (read_override(state, d, item, index(op, i++), s.time_zone, zone_known, o)) {
                        s.overrides.push_back(std::move(o));
                    }
                }
            }
        }
    }
    if (y.error_count() == errors_before) {
        state.cfg.schedules.push_back(std::move(s));
    }
}

void read_team(load_state& state, const document& d, const YAML::Node& node,
               const std::string& path) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"id", "name", "members"});
    if (!f) {
        return;
    }
    team t;
    t.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    read_id(state, d, *f, path, t.at, "teams", t.id);
    if (const auto* n = find(*f, "name")) {
        assign_if(y.read_string(d, *n, join(path, "name")), t.name);
    }
    if (const auto* n = find(*f, "members")) {
        read_members(state, d, *n, join(path, "members"), true, t.members);
    } else {
        y.fail(t.at, join(path, "members"), "missing (the responder ids of the team)");
    }
    if (t.name.empty()) {
        t.name = t.id;
    }
    if (y.error_count() == errors_before) {
        state.cfg.teams.push_back(std::move(t));
    }
}

}  // namespace

void read_teams(load_state& state, const document& d, const YAML::Node& value) {
    if (!state.yaml.expect_list(d, value, "teams")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        read_team(state, d, item, index("teams", i++));
    }
}

void read_schedules(load_state& state, const document& d, const YAML::Node& value) {
    if (!state.yaml.expect_list(d, value, "schedules")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        read_schedule(state, d, item, index("schedules", i++));
    }
}

void finish_oncall(load_state& state, const mark& /*main_at*/) {
    const auto& responders = state.declared_ids["responders"];
    std::vector<std::string> names;
    for (const auto& [id, where] : responders) {
        names.push_back(id);
    }
    for (const auto& ref : state.oncall_refs) {
        if (responders.count(ref.name) == 0) {
            state.yaml.fail(ref.at, ref.path,
                            "unknown responder \"" + ref.name + "\"" + suggest(ref.name, names));
        }
    }
}

}  // namespace hotline::config
