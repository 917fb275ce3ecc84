// `route:` the root of the routing tree and `routes:` lists of children appended to it
// (docs/rules.md); matchers, keywords and targets are compiled by rules/.
#include "config/sections.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>

#include "core/text.hpp"
#include "domain/severity.hpp"

namespace hotline::config {

namespace {

constexpr int max_route_depth = 32;

void read_match(yaml_reader& y, const document& d, const YAML::Node& v, const std::string& key_path,
                rules::route_node& r) {
    if (!y.expect_list(d, v, key_path)) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(key_path, i++);
        auto spec = y.read_string(d, item, item_path);
        if (!spec) {
            continue;
        }
        mark where = y.at(d, item);
        if (item.Tag() == "!") {
            ++where.column;  // a quoted scalar: its text starts after the quote
        }
        auto m = rules::parse_matcher(*spec, where);
        if (!m) {
            y.add(core::make_error("config", item_path + ": " + m.err().message, m.err().context));
            continue;
        }
        r.match.push_back(std::move(*m));
    }
}

void read_keywords(yaml_reader& y, const document& d, const YAML::Node& v,
                   const std::string& key_path, rules::route_node& r) {
    if (!y.expect_list(d, v, key_path)) {
        return;
    }
    std::vector<std::string> words;
    std::size_t i = 0;
    for (const auto& item : v) {
        if (auto x = y.read_string(d, item, index(key_path, i))) {
            words.push_back(*x);
        }
        ++i;
    }
    if (words.size() != v.size()) {
        return;
    }
    auto k = rules::compile_keywords(words, y.at(d, v));
    if (!k) {
        y.add(core::make_error("config", key_path + ": " + k.err().message, k.err().context));
        return;
    }
    r.keywords = std::move(*k);
}

// The label-name rule is core::is_label_name, the same for posted reports and matchers.
void read_labels(yaml_reader& y, const document& d, const YAML::Node& v,
                 const std::string& key_path, rules::route_node& r) {
    y.visit();
    if (!v.IsMap()) {
        y.fail(y.at(d, v), key_path, "expected a map of label names to values, got " + describe(v));
        return;
    }
    for (const auto& label : v) {
        y.visit();
        if (!label.first.IsScalar() || !core::is_label_name(label.first.Scalar())) {
            y.fail(y.at(d, label.first), key_path,
                   "expected a label name of " + std::string(core::label_name_rule) + ", got " +
                       describe(label.first));
            continue;
        }
        const std::string label_path = join(key_path, label.first.Scalar());
        if (r.labels.count(label.first.Scalar()) != 0) {
            y.fail(y.at(d, label.first), label_path, "duplicate label");
            continue;
        }
        if (label.second.IsNull()) {
            y.fail(y.at(d, label.first), label_path,
                   "missing value (write \"\" for an empty label)");
            continue;
        }
        if (auto x = y.read_string(d, label.second, label_path, true)) {
            r.labels[label.first.Scalar()] = *x;
        }
    }
}

// Targets are checked against responders and partners once every file is read
// (references.cpp).
void read_notify(load_state& state, const document& d, const YAML::Node& v,
                 const std::string& key_path, rules::route_node& r) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, v, key_path)) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(key_path, i++);
        auto spec = y.read_string(d, item, item_path);
        if (!spec) {
            continue;
        }
        auto t = rules::parse_target(*spec, y.at(d, item));
        if (!t) {
            y.add(core::make_error("config", item_path + ": " + t.err().message, t.err().context));
            continue;
        }
        if (std::find(r.notify.begin(), r.notify.end(), *t) == r.notify.end()) {
            r.notify.push_back(*t);
        }
        state.notify_refs.push_back({std::move(*t), item_path});
    }
}

// group_by: [sender], [source, sender], ['...'] (alone). Fields are checked by rules/.
void read_group_by(yaml_reader& y, const document& d, const YAML::Node& v,
                   const std::string& key_path, rules::route_node& r) {
    if (!y.expect_list(d, v, key_path)) {
        return;
    }
    std::vector<std::string> fields;
    const std::size_t errors_before = y.error_count();
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(key_path, i++);
        auto spec = y.read_string(d, item, item_path);
        if (!spec) {
            continue;
        }
        auto field = rules::parse_group_by_field(*spec, y.at(d, item));
        if (!field) {
            y.add(core::make_error("config", item_path + ": " + field.err().message,
                                   field.err().context));
            continue;
        }
        if (std::find(fields.begin(), fields.end(), *field) != fields.end()) {
            y.fail(y.at(d, item), item_path, "\"" + *field + "\" is listed twice");
            continue;
        }
        fields.push_back(std::move(*field));
    }
    if (y.error_count() != errors_before) {
        return;
    }
    if (fields.size() > 1 && std::find(fields.begin(), fields.end(), "...") != fields.end()) {
        y.fail(y.at(d, v), key_path, "\"...\" (every field) must be the only entry");
        return;
    }
    r.group_by = std::move(fields);
}

// active_time_intervals / mute_time_intervals: names, resolved by finish_routes.
void read_interval_names(yaml_reader& y, const document& d, const YAML::Node& v,
                         const std::string& key_path,
                         std::optional<std::vector<rules::interval_ref>>& out) {
    if (!y.expect_list(d, v, key_path)) {
        return;
    }
    std::vector<rules::interval_ref> refs;
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(key_path, i++);
        auto name = y.read_identifier(d, item, item_path);
        if (!name) {
            continue;
        }
        const bool seen = std::any_of(refs.begin(), refs.end(), [&](const rules::interval_ref& x) {
            return x.name == *name;
        });
        if (seen) {
            y.fail(y.at(d, item), item_path, "\"" + *name + "\" is listed twice");
            continue;
        }
        refs.push_back({*name, nullptr, y.at(d, item), item_path});
    }
    out = std::move(refs);
}

std::optional<rules::route_node> read_node(load_state& state, const document& d,
                                           const YAML::Node& node, const std::string& path,
                                           int depth, bool is_root) {
    yaml_reader& y = state.yaml;
    if (depth > max_route_depth) {
        y.fail(y.at(d, node), path,
               "routes nested deeper than " + std::to_string(max_route_depth) + " levels");
        return std::nullopt;
    }
    const auto f = y.read_map(
        d, node, path,
        {"name", "match", "keywords", "severity", "labels", "notify", "continue", "routes",
         "policy", "group_by", "group_window", "active_time_intervals", "mute_time_intervals"});
    if (!f) {
        return std::nullopt;
    }
    rules::route_node r;
    r.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    for (const auto& [key, entry] : *f) {
        const auto& [key_node, v] = entry;
        const std::string key_path = join(path, key);
        if (is_root && (key == "match" || key == "keywords" || key == "continue")) {
            y.fail(y.at(d, key_node), key_path,
                   "the root route always matches; put \"" + key + "\" on a child route");
            continue;
        }
        if (key == "name") {
            assign_if(y.read_identifier(d, v, key_path), r.name);
        } else if (key == "match") {
            read_match(y, d, v, key_path, r);
        } else if (key == "keywords") {
            read_keywords(y, d, v, key_path, r);
        } else if (key == "severity") {
            if (auto x = y.read_enum(d, v, key_path, domain::severities)) {
                r.severity = *x;
            }
        } else if (key == "labels") {
            read_labels(y, d, v, key_path, r);
        } else if (key == "notify") {
            read_notify(state, d, v, key_path, r);
        } else if (key == "continue") {
            assign_if(y.read_bool(d, v, key_path), r.continue_matching);
        } else if (key == "policy") {
            if (auto x = y.read_identifier(d, v, key_path)) {
                r.policy = *x;
                state.policy_refs.push_back({*x, key_path, y.at(d, v)});
            }
        } else if (key == "group_by") {
            read_group_by(y, d, v, key_path, r);
        } else if (key == "group_window") {
            if (auto x = y.read_duration(d, v, key_path)) {
                if (*x > std::chrono::hours(24 * 30)) {
                    y.fail(y.at(d, v), key_path,
                           "expected a duration of at most 30d, got \"" + v.Scalar() + "\"");
                } else {
                    r.group_window_ms = x->count();
                }
            }
        } else if (key == "active_time_intervals") {
            read_interval_names(y, d, v, key_path, r.active_time_intervals);
        } else if (key == "mute_time_intervals") {
            read_interval_names(y, d, v, key_path, r.mute_time_intervals);
        } else if (key == "routes") {
            if (!y.expect_list(d, v, key_path)) {
                continue;
            }
            std::size_t i = 0;
            for (const auto& item : v) {
                if (auto child = read_node(state, d, item, index(key_path, i), depth + 1, false)) {
                    r.routes.push_back(std::move(*child));
                }
                ++i;
            }
        }
    }
    if (y.error_count() != errors_before) {
        return std::nullopt;
    }
    return r;
}

void name_routes(rules::route_node& node) {
    for (std::size_t i = 0; i < node.routes.size(); ++i) {
        auto& child = node.routes[i];
        if (child.name.empty()) {
            child.name = node.name + "/routes[" + std::to_string(i) + "]";
        }
        name_routes(child);
    }
}

}  // namespace

void read_route(load_state& state, const document& d, const YAML::Node& value) {
    state.root = read_node(state, d, value, "route", 0, true);
    if (!state.root) {
        state.root.emplace();  // errors are reported; do not also say "missing"
    }
}

void read_routes(load_state& state, const document& d, const YAML::Node& value) {
    if (state.yaml.expect_list(d, value, "routes")) {
        std::size_t i = 0;
        for (const auto& item : value) {
            if (auto r = read_node(state, d, item, index("routes", i), 1, false)) {
                state.extra_routes.push_back(std::move(*r));
            }
            ++i;
        }
    }
}

void finish_routes(load_state& state, const mark& main_at) {
    if (!state.root) {
        state.yaml.fail(main_at, "route",
                        "missing: exactly one `route:` (the root of the routing tree) is required");
        return;
    }
    for (auto& extra : state.extra_routes) {
        state.root->routes.push_back(std::move(extra));
    }
    state.root->name = "root";
    name_routes(*state.root);
    resolve_time_intervals(state, *state.root);
}

}  // namespace hotline::config
