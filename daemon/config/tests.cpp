// `tests:` in rule files (docs/escalation.md, "Testing rules"): each test is a report in
// (the fields the matchers see) and the decision expected out. Read and checked here so
// `hotlinectl check` and the daemon refuse a malformed test; only `hotlinectl test-rules`
// (ctl/test_rules) runs them.
#include <algorithm>
#include <array>
#include <string_view>

#include "config/sections.hpp"
#include "core/text.hpp"
#include "domain/severity.hpp"

namespace hotline::config {

namespace {

constexpr std::size_t max_tests = 1000;  // per `tests:` list
constexpr std::size_t max_text = 64 * 1024;
constexpr std::size_t max_field = 1024;
constexpr std::size_t max_list = 256;

constexpr std::array<std::string_view, 8> report_keys{
    "source", "source_kind", "sender", "country", "subject", "text", "language", "labels"};
constexpr std::array<std::string_view, 11> expect_keys{
    "path",  "paths", "severity", "policy",   "labels",      "targets",
    "steps", "muted", "muted_by", "group_by", "group_window"};

std::optional<std::string> read_limited(yaml_reader& y, const document& d, const YAML::Node& v,
                                        const std::string& path, std::size_t limit,
                                        bool allow_empty) {
    auto x = y.read_string(d, v, path, allow_empty);
    if (x && x->size() > limit) {
        y.fail(y.at(d, v), path, "too long (at most " + std::to_string(limit) + " bytes)");
        return std::nullopt;
    }
    return x;
}

std::optional<std::vector<std::string>> read_strings(yaml_reader& y, const document& d,
                                                     const YAML::Node& v, const std::string& path) {
    if (!y.expect_list(d, v, path)) {
        return std::nullopt;
    }
    if (v.size() > max_list) {
        y.fail(y.at(d, v), path, "too many entries (at most " + std::to_string(max_list) + ")");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    std::size_t i = 0;
    for (const auto& item : v) {
        if (auto x = read_limited(y, d, item, index(path, i), max_field, false)) {
            out.push_back(std::move(*x));
        } else {
            ok = false;
        }
        ++i;
    }
    return ok ? std::optional(std::move(out)) : std::nullopt;
}

// People, as the daemon pages them: team: and schedule: are expanded before comparing, so
// an expectation names responders and partners only.
std::optional<std::vector<std::string>> read_people(yaml_reader& y, const document& d,
                                                    const YAML::Node& v, const std::string& path) {
    if (!y.expect_list(d, v, path)) {
        return std::nullopt;
    }
    if (v.size() > max_list) {
        y.fail(y.at(d, v), path, "too many entries (at most " + std::to_string(max_list) + ")");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    std::size_t i = 0;
    for (const auto& item : v) {
        const std::string item_path = index(path, i++);
        auto spec = y.read_string(d, item, item_path);
        if (!spec) {
            ok = false;
            continue;
        }
        auto t = rules::parse_target(*spec, y.at(d, item));
        if (!t) {
            y.add(core::make_error("config", item_path + ": " + t.err().message, t.err().context));
            ok = false;
            continue;
        }
        if (t->type == domain::target::kind::team || t->type == domain::target::kind::schedule) {
            y.fail(y.at(d, item), item_path,
                   "expected a person (responder:ID or partner:ID), got \"" + *spec +
                       "\": teams and schedules are expanded to the people paged");
            ok = false;
            continue;
        }
        if (std::find(out.begin(), out.end(), t->str()) != out.end()) {
            y.fail(y.at(d, item), item_path, "\"" + t->str() + "\" is listed twice");
            ok = false;
            continue;
        }
        out.push_back(t->str());
    }
    return ok ? std::optional(std::move(out)) : std::nullopt;
}

void read_label_map(yaml_reader& y, const document& d, const YAML::Node& v, const std::string& path,
                    std::map<std::string, std::string>& out) {
    y.visit();
    if (!v.IsMap()) {
        y.fail(y.at(d, v), path, "expected a map of label names to values, got " + describe(v));
        return;
    }
    for (const auto& label : v) {
        y.visit();
        if (!label.first.IsScalar() || !core::is_label_name(label.first.Scalar())) {
            y.fail(y.at(d, label.first), path,
                   "expected a label name of " + std::string(core::label_name_rule) + ", got " +
                       describe(label.first));
            continue;
        }
        const std::string label_path = join(path, label.first.Scalar());
        if (out.count(label.first.Scalar()) != 0) {
            y.fail(y.at(d, label.first), label_path, "duplicate label");
            continue;
        }
        if (auto x = read_limited(y, d, label.second, label_path, max_field, true)) {
            out[label.first.Scalar()] = *x;
        }
    }
}

void read_report(load_state& state, const document& d, const YAML::Node& node,
                 const std::string& path, rule_test_report& r) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, report_keys);
    if (!f) {
        return;
    }
    if (f->find("text") == f->end()) {
        y.fail(y.at(d, node), join(path, "text"), "missing (the report's text)");
    }
    for (const auto& [key, entry] : *f) {
        const auto& [key_node, v] = entry;
        const std::string key_path = join(path, key);
        if (key == "source") {
            assign_if(y.read_identifier(d, v, key_path), r.source);
            r.source_at = y.at(d, v);
        } else if (key == "source_kind") {
            if (auto x = y.read_enum(d, v, key_path, {"webhook", "email", "sms"})) {
                r.source_kind = *x;
            }
        } else if (key == "sender") {
            assign_if(read_limited(y, d, v, key_path, 320, true), r.sender);
        } else if (key == "country") {
            if (auto x = read_limited(y, d, v, key_path, max_field, true)) {
                const bool alpha2 =
                    x->empty() || (x->size() == 2 && std::all_of(x->begin(), x->end(), [](char c) {
                                       return c >= 'A' && c <= 'Z';
                                   }));
                if (!alpha2) {
                    y.fail(y.at(d, v), key_path,
                           "expected an ISO 3166-1 alpha-2 code in capitals (RU, UA), got " +
                               describe(v));
                } else {
                    r.country = *x;
                }
            }
        } else if (key == "subject") {
            assign_if(read_limited(y, d, v, key_path, 998, true), r.subject);
        } else if (key == "text") {
            assign_if(read_limited(y, d, v, key_path, max_text, false), r.text);
        } else if (key == "language") {
            if (auto x = read_limited(y, d, v, key_path, 16, true)) {
                r.language = *x;
            }
        } else if (key == "labels") {
            read_label_map(y, d, v, key_path, r.labels);
        }
    }
}

using list_reader = std::optional<std::vector<std::string>> (*)(yaml_reader&, const document&,
                                                                const YAML::Node&,
                                                                const std::string&);

// A list of lists, each item read by `read` (every error reported); nothing when any failed.
std::optional<std::vector<std::vector<std::string>>> read_lists(yaml_reader& y, const document& d,
                                                                const YAML::Node& v,
                                                                const std::string& path,
                                                                list_reader read) {
    if (!y.expect_list(d, v, path)) {
        return std::nullopt;
    }
    std::vector<std::vector<std::string>> all;
    bool ok = true;
    std::size_t i = 0;
    for (const auto& item : v) {
        if (auto one = read(y, d, item, index(path, i))) {
            all.push_back(std::move(*one));
        } else {
            ok = false;
        }
        ++i;
    }
    if (!ok) {
        return std::nullopt;
    }
    return all;
}

void read_paths(yaml_reader& y, const document& d, const YAML::Node& v, const std::string& path,
                bool several, rule_test_expect& e) {
    if (!several) {
        if (auto one = read_strings(y, d, v, path)) {
            e.paths = std::vector<std::vector<std::string>>{std::move(*one)};
        }
        return;
    }
    e.paths = read_lists(y, d, v, path, read_strings);
}

void read_expect(load_state& state, const document& d, const YAML::Node& node,
                 const std::string& path, rule_test_expect& e) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, expect_keys);
    if (!f) {
        return;
    }
    if (node.size() == 0) {
        y.fail(y.at(d, node), path, "empty (say what the decision must be: path, severity, ...)");
        return;
    }
    if (f->count("path") != 0 && f->count("paths") != 0) {
        y.fail(y.at(d, f->at("paths").first), join(path, "paths"),
               "give either path (one matched route) or paths (several), not both");
        return;
    }
    for (const auto& [key, entry] : *f) {
        const auto& [key_node, v] = entry;
        const std::string key_path = join(path, key);
        if (key == "path" || key == "paths") {
            read_paths(y, d, v, key_path, key == "paths", e);
        } else if (key == "severity") {
            if (auto x = y.read_enum(d, v, key_path, domain::severities)) {
                e.severity = *x;
            }
        } else if (key == "policy") {
            if (auto x = y.read_string(d, v, key_path, true)) {
                e.policy = *x;
            }
        } else if (key == "labels") {
            std::map<std::string, std::string> labels;
            const std::size_t before = y.error_count();
            read_label_map(y, d, v, key_path, labels);
            if (y.error_count() == before) {
                e.labels = std::move(labels);
            }
        } else if (key == "targets") {
            e.targets = read_people(y, d, v, key_path);
        } else if (key == "steps") {
            e.steps = read_lists(y, d, v, key_path, read_people);
        } else if (key == "muted") {
            if (auto x = y.read_bool(d, v, key_path)) {
                e.muted = *x;
            }
        } else if (key == "muted_by") {
            e.muted_by = read_strings(y, d, v, key_path);
        } else if (key == "group_by") {
            e.group_by = read_strings(y, d, v, key_path);
        } else if (key == "group_window") {
            if (v.IsScalar() && (v.Scalar() == "0" || v.Scalar() == "0s")) {
                e.group_window_ms = 0;
            } else if (auto x = y.read_duration(d, v, key_path)) {
                e.group_window_ms = x->count();
            }
        }
    }
}

// RFC 3339: a date, a time and an offset (Z or ±HH:MM); never a local time, so a test
// means the same instant wherever it runs.
std::optional<std::int64_t> read_instant(yaml_reader& y, const document& d, const YAML::Node& v,
                                         const std::string& path) {
    auto text = read_limited(y, d, v, path, 64, false);
    if (!text) {
        return std::nullopt;
    }
    const auto t = text->find_first_of("Tt ");
    const bool offset =
        t != std::string::npos && (text->back() == 'Z' || text->back() == 'z' ||
                                   text->find_first_of("+-", t) != std::string::npos);
    auto ms = rules::parse_time(*text, "UTC");
    if (!offset || !ms) {
        y.fail(y.at(d, v), path,
               "expected an RFC 3339 time with its offset (2026-12-07T10:00:00+02:00 or "
               "2026-12-07T08:00:00Z), got " +
                   describe(v));
        return std::nullopt;
    }
    return *ms;
}

}  // namespace

void read_tests(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, value, "tests")) {
        return;
    }
    if (value.size() > max_tests) {
        y.fail(y.at(d, value), "tests",
               "too many tests in one list (at most " + std::to_string(max_tests) + ")");
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        const std::string path = index("tests", i++);
        const auto f = y.read_map(d, item, path, {"name", "report", "at", "expect"});
        if (!f) {
            continue;
        }
        rule_test t;
        t.at = y.at(d, item);
        t.path = path;
        const std::size_t errors_before = y.error_count();
        for (const char* required : {"name", "report", "expect"}) {
            if (f->find(required) == f->end()) {
                y.fail(t.at, join(path, required),
                       std::string("missing (") +
                           (std::string(required) == "name"     ? "what the test is called"
                            : std::string(required) == "report" ? "the report it routes"
                                                                : "the decision expected") +
                           ")");
            }
        }
        for (const auto& [key, entry] : *f) {
            const auto& [key_node, v] = entry;
            const std::string key_path = join(path, key);
            if (key == "name") {
                if (auto x = read_limited(y, d, v, key_path, 200, false)) {
                    const auto [it, fresh] = state.test_names.emplace(*x, y.at(d, v));
                    if (!fresh) {
                        y.fail(y.at(d, v), key_path,
                               "a test named \"" + *x + "\" exists already at " + it->second.str());
                    }
                    t.name = *x;
                }
            } else if (key == "report") {
                read_report(state, d, v, key_path, t.report);
            } else if (key == "at") {
                t.at_ms = read_instant(y, d, v, key_path);
            } else if (key == "expect") {
                read_expect(state, d, v, key_path, t.expect);
            }
        }
        if (y.error_count() == errors_before) {
            state.cfg.tests.push_back(std::move(t));
        }
    }
}

void finish_tests(load_state& state, const mark& /*main_at*/) {
    std::vector<std::string> names;
    for (const auto& s : state.cfg.sources) {
        names.push_back(s.name);
    }
    for (const auto& t : state.cfg.tests) {
        const auto& source = t.report.source;
        if (!source.empty() && state.cfg.find_source(source) == nullptr) {
            state.yaml.fail(t.report.source_at, t.path + ".report.source",
                            "no source named \"" + source + "\"" + suggest(source, names));
        }
    }
}

}  // namespace hotline::config
