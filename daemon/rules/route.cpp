#include "rules/route.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <utility>

#include <re2/re2.h>

namespace hotline::rules {

namespace {

// RE2 compiles to a program whose size grows with the pattern and with case folding;
// a pasted dictionary of thousands of words is a mistake, not a rule.
constexpr int max_program_size = 64 * 1024;
constexpr std::int64_t max_regex_memory = 32 << 20;
constexpr std::size_t max_keyword_count = 4096;

const std::array<std::string_view, 9> plain_fields{"source",   "source_kind", "sender",
                                                   "country",  "subject",     "text",
                                                   "language", "attachments", "time_interval"};

core::error rule_error(const core::mark& at, std::string message) {
    return core::make_error("config", std::move(message), at.str());
}

core::mark shifted(core::mark at, std::size_t columns) {
    at.column += static_cast<int>(columns);
    return at;
}

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

bool is_label_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

RE2::Options regex_options() {
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingUTF8);
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    options.set_never_capture(true);
    options.set_max_mem(max_regex_memory);
    return options;
}

core::result<std::shared_ptr<const re2::RE2>> compile(const std::string& pattern,
                                                      const core::mark& at) {
    auto re = std::make_shared<const re2::RE2>(pattern, regex_options());
    if (!re->ok()) {
        return rule_error(at, "invalid regex: " + re->error());
    }
    if (re->ProgramSize() > max_program_size) {
        return rule_error(at, "regex too large (program size " + std::to_string(re->ProgramSize()) +
                                  ", limit " + std::to_string(max_program_size) + ")");
    }
    return std::shared_ptr<const re2::RE2>(std::move(re));
}

// `scratch` holds a value that is computed rather than stored (the attachment count).
const std::string& field_value(const matcher& m, const domain::report& r, std::string& scratch) {
    static const std::string empty;
    const std::string& field = m.field;
    if (!m.label.empty()) {
        const auto it = r.labels.find(m.label);
        return it == r.labels.end() ? empty : it->second;
    }
    if (field == "text") {
        return r.text;
    }
    if (field == "subject") {
        return r.subject;
    }
    if (field == "sender") {
        return r.sender;
    }
    if (field == "country") {  // ISO 3166-1 alpha-2 of an SMS sender's number, "" unknown
        return r.country;
    }
    if (field == "source") {
        return r.source;
    }
    if (field == "source_kind") {
        return r.source_kind;
    }
    if (field == "language") {
        return r.language;
    }
    if (field == "attachments") {
        scratch = std::to_string(r.attachments.size());
        return scratch;
    }
    return empty;
}

std::string field_hint(std::string_view field) {
    for (const auto candidate : plain_fields) {
        if (core::edit_distance(field, candidate) <= 2) {
            return "; did you mean \"" + std::string(candidate) + "\"?";
        }
    }
    if (core::edit_distance(field.substr(0, std::min<std::size_t>(field.size(), 7)), "labels.") <=
        2) {
        return "; did you mean \"labels.<name>\"?";
    }
    return {};
}

}  // namespace

core::result<matcher> parse_matcher(const std::string& spec, const core::mark& at) {
    matcher m;
    m.text = spec;
    m.at = at;
    std::size_t i = 0;
    while (i < spec.size() && is_space(spec[i])) {
        ++i;
    }
    const std::size_t field_start = i;
    while (i < spec.size() && is_label_char(spec[i])) {
        ++i;
    }
    m.field = spec.substr(field_start, i - field_start);
    if (m.field.empty()) {
        return rule_error(shifted(at, field_start),
                          "expected a matcher like text =~ \"arrest\", got \"" + spec + "\"");
    }
    const bool is_label = m.field.size() > 7 && m.field.compare(0, 7, "labels.") == 0;
    if (is_label) {
        m.label = m.field.substr(7);
        if (!core::is_label_name(m.label)) {
            return rule_error(shifted(at, field_start + 7), "expected a label name of " +
                                                                std::string(core::label_name_rule) +
                                                                ", got \"" + m.label + "\"");
        }
    }
    if (!is_label &&
        std::find(plain_fields.begin(), plain_fields.end(), m.field) == plain_fields.end()) {
        return rule_error(
            shifted(at, field_start),
            "unknown field \"" + m.field +
                "\" (expected source, source_kind, sender, country, subject, text, language, "
                "attachments, time_interval or labels.<name>)" +
                field_hint(m.field));
    }
    while (i < spec.size() && is_space(spec[i])) {
        ++i;
    }
    const std::string_view rest = std::string_view(spec).substr(i);
    const std::size_t op_start = i;
    if (rest.substr(0, 2) == "=~") {
        m.kind = matcher::op::regex;
        i += 2;
    } else if (rest.substr(0, 2) == "!~") {
        m.kind = matcher::op::not_regex;
        i += 2;
    } else if (rest.substr(0, 2) == "!=") {
        m.kind = matcher::op::not_equal;
        i += 2;
    } else if (rest.substr(0, 2) == "==") {
        return rule_error(shifted(at, op_start), "unknown operator \"==\" (use =, !=, =~ or !~)");
    } else if (rest.substr(0, 1) == "=") {
        m.kind = matcher::op::equal;
        i += 1;
    } else {
        return rule_error(shifted(at, op_start),
                          "expected an operator =, !=, =~ or !~ after \"" + m.field + "\"");
    }
    while (i < spec.size() && is_space(spec[i])) {
        ++i;
    }
    const std::size_t value_start = i;
    if (i < spec.size() && spec[i] == '"') {
        ++i;
        bool closed = false;
        while (i < spec.size()) {
            const char c = spec[i];
            if (c == '\\' && i + 1 < spec.size() && (spec[i + 1] == '"' || spec[i + 1] == '\\')) {
                m.value += spec[i + 1];
                i += 2;
                continue;
            }
            if (c == '"') {
                closed = true;
                ++i;
                break;
            }
            // Any other backslash stays, so "\d+" reaches RE2 as written.
            m.value += c;
            ++i;
        }
        if (!closed) {
            return rule_error(shifted(at, value_start), "unterminated quoted value");
        }
        while (i < spec.size() && is_space(spec[i])) {
            ++i;
        }
        if (i != spec.size()) {
            return rule_error(shifted(at, i),
                              "unexpected text after the quoted value: \"" + spec.substr(i) + "\"");
        }
    } else {
        std::size_t end = spec.size();
        while (end > i && is_space(spec[end - 1])) {
            --end;
        }
        m.value = spec.substr(i, end - i);
        if (m.value.empty()) {
            return rule_error(shifted(at, value_start),
                              "missing value after the operator (write \"\" for an empty value)");
        }
    }
    if (m.field == "attachments" &&
        (m.kind == matcher::op::equal || m.kind == matcher::op::not_equal) &&
        (m.value.empty() || m.value.size() > 19 ||
         m.value.find_first_not_of("0123456789") != std::string::npos ||
         (m.value.size() > 1 && m.value.front() == '0'))) {
        // The count is compared as text: "01" or "two" would never equal it.
        return rule_error(shifted(at, value_start),
                          "attachments is a count: expected a number like \"0\" or \"2\", got \"" +
                              m.value + "\"");
    }
    if (m.field == "time_interval") {
        if (m.kind != matcher::op::equal && m.kind != matcher::op::not_equal) {
            return rule_error(shifted(at, op_start),
                              "time_interval takes = or != and the name of a time interval, "
                              "like time_interval = \"office-hours\"");
        }
        if (m.value.empty()) {
            return rule_error(shifted(at, value_start), "expected the name of a time interval");
        }
        return m;  // the config loader resolves the name
    }
    if (m.kind == matcher::op::regex || m.kind == matcher::op::not_regex) {
        // Point at the pattern itself: an RE2 message is about its contents.
        const bool quoted = spec[value_start] == '"';
        auto re = compile(m.value, shifted(at, value_start + (quoted ? 1 : 0)));
        if (!re) {
            return re.err();
        }
        m.regex = std::move(re.value());
    }
    return m;
}

bool matches(const matcher& m, const domain::report& r) {
    if (m.field == "time_interval") {
        const bool inside = m.interval != nullptr && contains(*m.interval, r.received_at);
        return m.kind == matcher::op::equal ? inside : !inside;
    }
    std::string scratch;
    const std::string& value = field_value(m, r, scratch);
    switch (m.kind) {
        case matcher::op::equal: return value == m.value;
        case matcher::op::not_equal: return value != m.value;
        case matcher::op::regex: return re2::RE2::PartialMatch(value, *m.regex);
        case matcher::op::not_regex: return !re2::RE2::PartialMatch(value, *m.regex);
    }
    return false;
}

core::result<keyword_set> compile_keywords(const std::vector<std::string>& words,
                                           const core::mark& at) {
    if (words.empty()) {
        return rule_error(at, "empty keyword list");
    }
    if (words.size() > max_keyword_count) {
        return rule_error(at, "too many keywords (" + std::to_string(words.size()) + ", limit " +
                                  std::to_string(max_keyword_count) + ")");
    }
    // RE2's \b only knows ASCII word characters, so Cyrillic needs an explicit boundary:
    // a keyword must be preceded and followed by start/end of text or a non-word character.
    static const std::string word_char = R"([\pL\pN\pM_])";
    static const std::string non_word = R"([^\pL\pN\pM_])";
    std::string alternation;
    for (const auto& word : words) {
        std::string_view w = word;
        while (!w.empty() && is_space(w.front())) {
            w.remove_prefix(1);
        }
        while (!w.empty() && is_space(w.back())) {
            w.remove_suffix(1);
        }
        bool prefix = false;
        if (!w.empty() && w.back() == '*') {
            prefix = true;
            w.remove_suffix(1);
        }
        if (w.empty()) {
            return rule_error(at, "empty keyword");
        }
        // A phrase matches with any run of whitespace between its words.
        std::string piece;
        std::size_t pos = 0;
        while (pos < w.size()) {
            std::size_t end = pos;
            while (end < w.size() && !is_space(w[end])) {
                ++end;
            }
            if (!piece.empty()) {
                piece += R"(\s+)";
            }
            piece += re2::RE2::QuoteMeta(re2::StringPiece(w.data() + pos, end - pos));
            pos = end;
            while (pos < w.size() && is_space(w[pos])) {
                ++pos;
            }
        }
        if (prefix) {
            piece += word_char + "*";
        }
        if (!alternation.empty()) {
            alternation += '|';
        }
        alternation += piece;
    }
    const std::string pattern =
        "(?:^|" + non_word + ")(?:" + alternation + ")(?:$|" + non_word + ")";
    auto re = compile(pattern, at);
    if (!re) {
        return re.err();
    }
    keyword_set k;
    k.words = words;
    k.regex = std::move(re.value());
    k.at = at;
    return k;
}

bool matches(const keyword_set& k, const domain::report& r) {
    // Subject and text separately: a keyword must not be glued together across the two.
    return re2::RE2::PartialMatch(r.subject, *k.regex) || re2::RE2::PartialMatch(r.text, *k.regex);
}

core::result<target> parse_target(const std::string& spec, const core::mark& at) {
    target t;
    t.at = at;
    std::string_view id;
    bool known = false;
    for (const auto k : {target::kind::responder, target::kind::partner, target::kind::team,
                         target::kind::schedule}) {
        const std::string_view prefix = target::prefix(k);
        if (spec.rfind(prefix, 0) == 0) {
            t.type = k;
            id = std::string_view(spec).substr(prefix.size());
            known = true;
            break;
        }
    }
    if (!known) {
        return rule_error(
            at, "expected responder:ID, partner:ID, team:ID or schedule:ID, got \"" + spec + "\"");
    }
    if (id.empty()) {
        return rule_error(at, "missing id after \"" + spec + "\"");
    }
    t.id = std::string(id);
    return t;
}

namespace {

// What a node passes down to its children: its own value, or the one it inherited.
struct inherited {
    std::string severity;
    const std::string* policy{nullptr};
    const std::vector<std::string>* group_by{nullptr};
    std::optional<std::int64_t> group_window_ms;
    const std::vector<interval_ref>* active{nullptr};
    const std::vector<interval_ref>* mute{nullptr};
};

struct walk_state {
    const domain::report& report;
    decision& out;
    std::vector<std::string> path;
    std::map<std::string, std::string> labels;
    int best_severity{-1};
    bool policy_set{false};
    bool group_by_set{false};
    bool group_window_set{false};
    bool every_leaf_muted{true};
    std::vector<std::string> muted_by;
};

int severity_rank(const std::string& severity) {
    return static_cast<int>(domain::severity_rank(severity));
}

void add_targets(const route_node& node, decision& out) {
    for (const auto& t : node.notify) {
        if (std::find(out.targets.begin(), out.targets.end(), t) == out.targets.end()) {
            out.targets.push_back(t);
        }
    }
}

void trace(decision& out, const route_node& node, bool matched, std::string reason) {
    out.trace.push_back(
        nlohmann::json{{"node", node.name}, {"matched", matched}, {"reason", std::move(reason)}});
}

bool in_force(const interval_ref& ref, std::int64_t at) {
    return ref.interval != nullptr && contains(*ref.interval, at);
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

// The intervals that mute a leaf's notifications now, with the trace's words for why.
std::vector<std::string> leaf_mutes(const inherited& in, std::int64_t at, std::string& why) {
    std::vector<std::string> names;
    if (in.mute != nullptr) {
        for (const auto& ref : *in.mute) {
            if (in_force(ref, at)) {
                names.push_back(ref.name);
            }
        }
        if (!names.empty()) {
            why = "muted: mute_time_intervals " + joined(names) + " in force";
        }
    }
    if (in.active != nullptr && !in.active->empty() &&
        std::none_of(in.active->begin(), in.active->end(),
                     [&](const interval_ref& ref) { return in_force(ref, at); })) {
        std::vector<std::string> inactive;
        for (const auto& ref : *in.active) {
            inactive.push_back(ref.name);
        }
        why += (why.empty() ? "muted: " : "; ") +
               std::string("outside every active_time_interval (") + joined(inactive) + ")";
        names.insert(names.end(), inactive.begin(), inactive.end());
    }
    return names;
}

void decide_leaf(const route_node& node, const inherited& in, walk_state& state) {
    decision& out = state.out;
    out.paths.push_back(state.path);
    const int rank = severity_rank(in.severity);
    const bool more_urgent = state.best_severity < 0 || rank < state.best_severity;
    if (more_urgent) {
        state.best_severity = rank;
        out.severity = in.severity;
    }
    // Between leaves, the more urgent one's labels win; among equals the earlier.
    for (const auto& [key, value] : state.labels) {
        if (more_urgent) {
            out.labels.insert_or_assign(key, value);
        } else {
            out.labels.emplace(key, value);
        }
    }
    if (!state.policy_set && in.policy != nullptr) {
        state.policy_set = true;
        out.policy = *in.policy;
    }
    if (!state.group_by_set && in.group_by != nullptr) {
        state.group_by_set = true;
        out.group_by = *in.group_by;
    }
    if (!state.group_window_set && in.group_window_ms) {
        state.group_window_set = true;
        out.group_window_ms = *in.group_window_ms;
    }
    std::string why;
    const auto mutes = leaf_mutes(in, state.report.received_at, why);
    if (mutes.empty()) {
        state.every_leaf_muted = false;
        return;
    }
    out.trace.push_back(nlohmann::json{
        {"node", node.name}, {"matched", true}, {"muted_by", mutes}, {"reason", why}});
    for (const auto& name : mutes) {
        if (std::find(state.muted_by.begin(), state.muted_by.end(), name) == state.muted_by.end()) {
            state.muted_by.push_back(name);
        }
    }
}

// Returns the reason text; `matched` tells whether every matcher held.
std::string test_node(const route_node& node, const domain::report& r, bool& matched) {
    for (const auto& m : node.match) {
        if (!matches(m, r)) {
            matched = false;
            return m.text + " did not match";
        }
    }
    if (node.keywords && !matches(*node.keywords, r)) {
        matched = false;
        return "no keyword matched";
    }
    matched = true;
    if (node.match.empty() && !node.keywords) {
        return "no matchers: always matches";
    }
    std::string reason;
    for (const auto& m : node.match) {
        reason += reason.empty() ? "" : ", ";
        reason += m.text;
    }
    if (node.keywords) {
        reason += reason.empty() ? "" : ", ";
        reason += "a keyword";
    }
    return reason + " matched";
}

void enter(const route_node& node, const inherited& from_parent, walk_state& state) {
    state.path.push_back(node.name);
    inherited here = from_parent;
    if (node.severity) {
        here.severity = *node.severity;
    }
    if (node.policy) {
        here.policy = &*node.policy;
    }
    if (node.group_by) {
        here.group_by = &*node.group_by;
    }
    if (node.group_window_ms) {
        here.group_window_ms = node.group_window_ms;
    }
    if (node.active_time_intervals) {
        here.active = &*node.active_time_intervals;
    }
    if (node.mute_time_intervals) {
        here.mute = &*node.mute_time_intervals;
    }
    // Most nodes set no labels: copy the inherited ones only when this node changes them.
    std::optional<std::map<std::string, std::string>> saved_labels;
    if (!node.labels.empty()) {
        saved_labels = state.labels;
        for (const auto& [key, value] : node.labels) {
            state.labels.insert_or_assign(key, value);
        }
    }
    add_targets(node, state.out);

    bool any_child = false;
    bool skipping = false;
    for (const auto& child : node.routes) {
        if (skipping) {
            trace(state.out, child, false, "skipped: an earlier sibling matched");
            continue;
        }
        bool matched = false;
        std::string reason = test_node(child, state.report, matched);
        trace(state.out, child, matched, std::move(reason));
        if (!matched) {
            continue;
        }
        any_child = true;
        enter(child, here, state);
        if (!child.continue_matching) {
            skipping = true;
        }
    }
    if (!any_child) {
        decide_leaf(node, here, state);  // the deepest matched node decides
    }
    if (saved_labels) {
        state.labels = std::move(*saved_labels);
    }
    state.path.pop_back();
}

// The value of one group_by field, as group_key writes it.
void add_group_value(nlohmann::json& out, const std::string& field, const domain::report& r) {
    if (field.rfind("labels.", 0) == 0) {
        const auto it = r.labels.find(field.substr(7));
        out.push_back({field, it == r.labels.end() ? std::string() : it->second});
    } else if (field == "source") {
        out.push_back({field, r.source});
    } else if (field == "sender") {
        out.push_back({field, r.sender});
    } else if (field == "subject") {
        out.push_back({field, r.subject});
    } else if (field == "country") {
        out.push_back({field, r.country});
    } else if (field == "language") {
        out.push_back({field, r.language});
    } else if (field == "text") {
        out.push_back({field, r.text});
    }
}

}  // namespace

decision evaluate(const route_node& root, const domain::report& r) {
    decision out;
    out.trace = nlohmann::json::array();
    walk_state state{r, out, {}, {}, -1, false, false, false, true, {}};
    trace(out, root, true, "the root always matches");
    inherited top;
    top.severity = std::string(domain::default_severity);
    enter(root, top, state);
    if (state.every_leaf_muted) {
        out.muted_by = std::move(state.muted_by);
    }
    return out;
}

core::result<std::string> parse_group_by_field(const std::string& spec, const core::mark& at) {
    if (spec == "...") {
        return spec;
    }
    if (spec.size() > 7 && spec.compare(0, 7, "labels.") == 0) {
        if (!core::is_label_name(std::string_view(spec).substr(7))) {
            return rule_error(at, "expected a label name of " + std::string(core::label_name_rule) +
                                      " after labels., got \"" + spec.substr(7) + "\"");
        }
        return spec;
    }
    if (std::find(group_by_fields.begin(), group_by_fields.end(), spec) != group_by_fields.end()) {
        return spec;
    }
    std::string hint;
    for (const auto candidate : group_by_fields) {
        if (core::edit_distance(std::string_view(spec).substr(0, 16), candidate) <= 2) {
            hint = "; did you mean \"" + std::string(candidate) + "\"?";
            break;
        }
    }
    return rule_error(at, "unknown group_by field \"" + spec.substr(0, 40) +
                              "\" (expected source, sender, subject, country, language, "
                              "labels.<name> or \"...\" for all of them)" +
                              hint);
}

std::string group_key(const decision& d, const domain::report& r) {
    if (d.group_by.empty()) {
        return {};
    }
    auto values = nlohmann::json::array();
    if (d.group_by.size() == 1 && d.group_by.front() == "...") {
        // Every field and label: reports group only when they say the same thing.
        for (const auto* field : {"source", "sender", "subject", "country", "language", "text"}) {
            add_group_value(values, field, r);
        }
        for (const auto& [name, value] : r.labels) {
            values.push_back({"labels." + name, value});
        }
    } else {
        for (const auto& field : d.group_by) {
            add_group_value(values, field, r);
        }
    }
    // Invalid UTF-8 cannot reach a report, but the key must never throw.
    return values.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hotline::rules
