// The routing tree (docs/rules.md): compiled matchers, inheritance, evaluation.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mark.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "domain/severity.hpp"
#include "domain/target.hpp"

namespace re2 {
class RE2;
}

namespace hotline::rules {

// One Alertmanager-style matcher: `field op "value"`, op in = != =~ !~.
// Fields: source, source_kind, sender, country, subject, text, language, attachments (the count, as
// a decimal string: matchers compare text), labels.<name>.
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

struct route_node {
    std::string name;            // `name:` or a generated path like "root/0/1"
    std::vector<matcher> match;  // all must hold
    std::optional<keyword_set> keywords;
    bool continue_matching{false};  // `continue: true`
    std::optional<std::string> severity;
    std::map<std::string, std::string> labels;
    std::vector<target> notify;
    std::vector<route_node> routes;  // children, tried in order
    core::mark at;
};

struct decision {
    std::vector<std::vector<std::string>> paths;  // each matched leaf's node names from root
    std::string severity;                         // most urgent among matched leaves
    std::map<std::string, std::string> labels;    // merged root→leaf, deeper wins
    std::vector<target> targets;  // union along matched paths, in order, deduplicated
    nlohmann::json trace;         // nodes tried and why they did (not) match
};

// Evaluates the tree. The root always matches; children are tried in order; the first
// matching child is entered and its later siblings skipped unless it says `continue: true`.
// Unset severity inherits from the parent; labels merge; notify targets accumulate, so
// every report gets at least the root's targets.
[[nodiscard]] decision evaluate(const route_node& root, const domain::report& r);

}  // namespace hotline::rules
