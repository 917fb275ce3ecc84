// The routing tree (docs/rules.md): compiled matchers, inheritance, evaluation.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mark.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "domain/severity.hpp"
#include "domain/target.hpp"
#include "rules/time_interval.hpp"

namespace re2 {
class RE2;
}

namespace hotline::rules {

// One Alertmanager-style matcher: `field op "value"`, op in = != =~ !~.
// Fields: source, source_kind, sender, country, subject, text, language, attachments (the count, as
// a decimal string: matchers compare text), labels.<name>; and time_interval (= or != only):
// `time_interval = "office-hours"` holds when the report's received_at is inside that
// interval, which the config loader resolves by name into `interval`.
struct matcher {
    enum class op { equal, not_equal, regex, not_regex };
    std::string field;
    std::string label;  // for labels.<name>: the name, looked up per report
    op kind{op::equal};
    std::string value;  // literal, or the regex source
    std::shared_ptr<const re2::RE2>
        regex;         // compiled, case-insensitive, Unicode; null for = and !=
    std::string text;  // as written, for traces
    core::mark at;
    // time_interval only: the named interval (null until resolved: then never inside).
    std::shared_ptr<const time_interval> interval;
};

// Parses `text =~ "арест"` etc. Regexes are anchored to neither end (Alertmanager anchors;
// we do not, since report text is free prose): "арест" matches anywhere, case-insensitively.
[[nodiscard]] core::result<matcher> parse_matcher(const std::string& spec, const core::mark& at);

// Whether one matcher holds for a report (missing label = empty string, as in Alertmanager).
[[nodiscard]] bool matches(const matcher& m, const domain::report& r);

// Keyword list: holds when any keyword occurs as a whole word in subject or text, compared
// with Unicode case folding ("АРЕСТ" matches keyword "арест").
struct keyword_set {
    std::vector<std::string> words;  // as written
    std::shared_ptr<const re2::RE2> regex;
    core::mark at;
};
[[nodiscard]] core::result<keyword_set> compile_keywords(const std::vector<std::string>& words,
                                                         const core::mark& at);
[[nodiscard]] bool matches(const keyword_set& k, const domain::report& r);

using domain::target;
[[nodiscard]] core::result<target> parse_target(const std::string& spec, const core::mark& at);

// A route's reference to a named time interval, resolved by the config loader.
struct interval_ref {
    std::string name;
    std::shared_ptr<const time_interval> interval;  // null until resolved
    core::mark at;
    std::string path;  // key path, for the config loader's messages
};

// The fields group_by may name besides labels.<name>; "..." alone means all of them.
inline constexpr std::array<std::string_view, 5> group_by_fields{"source", "sender", "subject",
                                                                 "country", "language"};
// Checks one group_by entry: a field above, labels.<name>, or "...".
[[nodiscard]] core::result<std::string> parse_group_by_field(const std::string& spec,
                                                             const core::mark& at);

struct route_node {
    std::string name;            // `name:` or a generated path like "root/0/1"
    std::vector<matcher> match;  // all must hold
    std::optional<keyword_set> keywords;
    bool continue_matching{false};  // `continue: true`
    std::optional<std::string> severity;
    std::map<std::string, std::string> labels;
    std::vector<target> notify;
    std::vector<route_node> routes;  // children, tried in order
    // Unset: inherited from the parent (like severity).
    std::optional<std::string> policy;  // checked against `policies:` by the config loader
    std::optional<std::vector<std::string>> group_by;
    std::optional<std::int64_t> group_window_ms;
    std::optional<std::vector<interval_ref>> active_time_intervals;
    std::optional<std::vector<interval_ref>> mute_time_intervals;
    core::mark at;
};

struct decision {
    std::vector<std::vector<std::string>> paths;  // each matched leaf's node names from root
    std::string severity;                         // most urgent among matched leaves
    std::map<std::string, std::string> labels;    // merged root→leaf, deeper wins
    std::vector<target> targets;  // union along matched paths, in order, deduplicated
    nlohmann::json trace;         // nodes tried and why they did (not) match
    // Of the first matched leaf that has one (after inheritance); "", empty, 0 when none does.
    std::string policy;
    std::vector<std::string> group_by;
    std::int64_t group_window_ms{0};
    // The intervals that mute this report's notifications at its received_at, when every
    // matched leaf is muted (a mute_time_interval in force, or active_time_intervals none of
    // which is): the names, in order, deduplicated. Empty: it pages as usual.
    std::vector<std::string> muted_by;
};

// Evaluates the tree. The root always matches; children are tried in order; the first
// matching child is entered and its later siblings skipped unless it says `continue: true`.
// Unset severity inherits from the parent; labels merge; notify targets accumulate, so
// every report gets at least the root's targets.
// The time is r.received_at (time_interval matchers, active and mute intervals).
[[nodiscard]] decision evaluate(const route_node& root, const domain::report& r);

// The canonical text of the values of the decision's group_by fields for this report (a
// JSON array of [field, value] pairs, in group_by order; "..." expands to every field and
// label), "" when group_by is empty. Report contents: hash it with a key, never log it.
[[nodiscard]] std::string group_key(const decision& d, const domain::report& r);

}  // namespace hotline::rules
