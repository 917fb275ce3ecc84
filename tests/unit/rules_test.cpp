// rules: matcher parsing, RE2 Unicode case folding, whole-word keywords, targets and the
// evaluation of the routing tree with its trace.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "rules/route.hpp"

using hotline::core::mark;
using hotline::domain::report;
using namespace hotline::rules;

namespace {

const mark here{"rules.yaml", 7, 10};

matcher m(const std::string& spec) {
    auto parsed = parse_matcher(spec, here);
    INFO(spec << ": " << (parsed ? std::string() : parsed.err().describe()));
    REQUIRE(parsed.ok());
    return parsed.value();
}

std::string error_of(const std::string& spec) {
    auto parsed = parse_matcher(spec, here);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.err().code == "config");
    return parsed.err().describe();
}

report with_text(const std::string& text, const std::string& subject = {}) {
    report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.sender = "+79990001122";
    r.subject = subject;
    r.text = text;
    r.language = "ru";
    r.labels = {{"region", "Moscow"}, {"priority", ""}};
    return r;
}

keyword_set kw(const std::vector<std::string>& words) {
    auto k = compile_keywords(words, here);
    INFO((k ? std::string() : k.err().describe()));
    REQUIRE(k.ok());
    return k.value();
}

target t(const std::string& spec) {
    auto parsed = parse_target(spec, here);
    REQUIRE(parsed.ok());
    return parsed.value();
}

route_node node(const std::string& name, std::vector<std::string> matchers = {}) {
    route_node n;
    n.name = name;
    for (const auto& spec : matchers) {
        n.match.push_back(m(spec));
    }
    return n;
}

std::vector<std::string> target_names(const decision& d) {
    std::vector<std::string> out;
    for (const auto& x : d.targets) {
        out.push_back(x.str());
    }
    return out;
}

}  // namespace

TEST_CASE("parse_matcher: fields, operators, quoting") {
    const auto eq = m("source = \"partner-webhook\"");
    CHECK(eq.field == "source");
    CHECK(eq.kind == matcher::op::equal);
    CHECK(eq.value == "partner-webhook");
    CHECK(eq.regex == nullptr);
    CHECK(eq.text == "source = \"partner-webhook\"");
    CHECK(eq.at.line == 7);

    CHECK(m("language!=ru").kind == matcher::op::not_equal);
    CHECK(m("language!=ru").value == "ru");
    CHECK(m("text=~\"a\"").kind == matcher::op::regex);
    CHECK(m("text !~ a b ").kind == matcher::op::not_regex);
    CHECK(m("text !~ a b ").value == "a b");  // unquoted: the rest, trimmed
    CHECK(m("  subject =~ \"x\"  ").field == "subject");

    const auto label = m("labels.region = Moscow");
    CHECK(label.field == "labels.region");
    CHECK(label.label == "region");

    // Alertmanager escapes: \" and \\; any other backslash reaches RE2 untouched.
    CHECK(m(R"(text = "say \"hi\"")").value == "say \"hi\"");
    CHECK(m(R"(text = "a\\b")").value == R"(a\b)");
    CHECK(m(R"(text =~ "\d+ people")").value == R"(\d+ people)");
    CHECK(m(R"(sender = "")").value.empty());
    for (const auto* f : {"source", "source_kind", "sender", "subject", "text", "language"}) {
        CHECK(m(std::string(f) + " = x").field == f);
    }
    CHECK(m("attachments = 3").field == "attachments");
}

TEST_CASE("parse_matcher: errors name the position inside the matcher") {
    CHECK(error_of("body = x") ==
          "rules.yaml:7:10: unknown field \"body\" (expected source, source_kind, sender, country, "
          "subject, "
          "text, "
          "language, attachments, time_interval or labels.<name>)");
    CHECK(error_of("  txt = x") ==
          "rules.yaml:7:12: unknown field \"txt\" (expected source, source_kind, sender, country, "
          "subject, "
          "text, "
          "language, attachments, time_interval or labels.<name>); did you mean \"text\"?");
    CHECK(error_of("attachment = 1").find("did you mean \"attachments\"?") != std::string::npos);
    CHECK(error_of("labels. = x").find("unknown field \"labels.\"") != std::string::npos);
    CHECK(error_of("text == x") ==
          "rules.yaml:7:15: unknown operator \"==\" (use =, !=, =~ or !~)");
    CHECK(error_of("text ~ x") ==
          "rules.yaml:7:15: expected an operator =, !=, =~ or !~ after \"text\"");
    CHECK(error_of("text =") ==
          "rules.yaml:7:16: missing value after the operator (write \"\" for an empty value)");
    CHECK(error_of("text = \"open") == "rules.yaml:7:17: unterminated quoted value");
    CHECK(error_of("text = \"a\" b") ==
          "rules.yaml:7:21: unexpected text after the quoted value: \"b\"");
    CHECK(error_of("= x") ==
          "rules.yaml:7:10: expected a matcher like text =~ \"arrest\", got \"= x\"");
    // The regex's own position (after the quote) and RE2's message.
    CHECK(error_of("text =~ \"(арест\"") == "rules.yaml:7:19: invalid regex: missing ): (арест");
    CHECK(error_of("text =~ a**") == "rules.yaml:7:18: invalid regex: bad repetition operator: **");
    // Huge programs are refused at load, not discovered on the io thread.
    const auto big = error_of("text =~ \"((((\\pL{100}){10}){10}))\"");
    CHECK(big.rfind("rules.yaml:7:19: ", 0) == 0);
    CHECK((big.find("regex too large") != std::string::npos ||
           big.find("invalid regex") != std::string::npos));
}

TEST_CASE("matches: each operator, labels, missing label is empty") {
    const auto r = with_text("Задержали активиста у суда", "Срочно");
    CHECK(matches(m("source = partner-webhook"), r));
    CHECK_FALSE(matches(m("source = Partner-webhook"), r));  // = is exact
    CHECK(matches(m("source != email"), r));
    CHECK_FALSE(matches(m("source != partner-webhook"), r));
    CHECK(matches(m("source_kind = webhook"), r));
    CHECK(matches(m("sender =~ \"^\\+7\""), r));
    CHECK(matches(m("language = ru"), r));
    CHECK(matches(m("subject =~ срочно"), r));
    CHECK(matches(m("text =~ \"задерж\""), r));
    CHECK_FALSE(matches(m("text !~ \"задерж\""), r));
    CHECK(matches(m("text !~ \"обыск\""), r));
    CHECK(matches(m("labels.region = Moscow"), r));
    CHECK(matches(m("country = \"\""), r));  // not an SMS: unknown
    report sms = r;
    sms.source_kind = "sms";
    sms.country = "RU";
    CHECK(matches(m("country = RU"), sms));
    CHECK_FALSE(matches(m("country != RU"), sms));
    CHECK(matches(m("source_kind = sms"), sms));
    CHECK(matches(m("labels.region =~ mos"), r));
    CHECK(matches(m("labels.missing = \"\""), r));
    CHECK_FALSE(matches(m("labels.missing != \"\""), r));
    CHECK(matches(m("labels.missing =~ \".*\""), r));
    CHECK_FALSE(matches(m("labels.missing =~ \".\""), r));
    CHECK(matches(m("labels.missing !~ \".\""), r));
    CHECK(matches(m("labels.priority = \"\""), r));
}

TEST_CASE("matches: attachments is the report's attachment count, as a decimal string") {
    auto r = with_text("письмо");
    CHECK(matches(m("attachments = 0"), r));
    CHECK(matches(m("attachments = \"0\""), r));
    CHECK_FALSE(matches(m("attachments != 0"), r));
    CHECK_FALSE(matches(m("attachments = 1"), r));
    r.attachments.resize(2);
    CHECK(matches(m("attachments != 0"), r));
    CHECK(matches(m("attachments = 2"), r));
    CHECK_FALSE(matches(m("attachments = 0"), r));
    CHECK(matches(m("attachments =~ \"^[2-9]$|^[0-9]{2,}$\""), r));  // two or more
    r.attachments.resize(12);
    CHECK(matches(m("attachments =~ \"^[2-9]$|^[0-9]{2,}$\""), r));
    CHECK(matches(m("attachments = 12"), r));
    CHECK(matches(m("attachments !~ \"^0$\""), r));
    r.attachments.resize(1);
    CHECK_FALSE(matches(m("attachments =~ \"^[2-9]$|^[0-9]{2,}$\""), r));
    // A value = or != could never equal a count is a load error at the value.
    CHECK(error_of("attachments = two") ==
          "rules.yaml:7:24: attachments is a count: expected a number like \"0\" or \"2\", got "
          "\"two\"");
    CHECK(error_of("attachments != \"01\"") ==
          "rules.yaml:7:25: attachments is a count: expected a number like \"0\" or \"2\", got "
          "\"01\"");
    for (const char* bad : {"attachments = \"\"", "attachments = -1", "attachments = 1.0",
                            "attachments = \" 1\"", "attachments = 99999999999999999999"}) {
        CAPTURE(bad);
        CHECK(error_of(bad).find("attachments is a count") != std::string::npos);
    }
    CHECK(error_of("attachments =~ \"(\"").find("invalid regex") != std::string::npos);
}

TEST_CASE("regexes are case-insensitive for Cyrillic in both directions and not anchored") {
    CHECK(matches(m("text =~ \"арест\""), with_text("ЕГО АРЕСТОВАЛИ")));
    CHECK(matches(m("text =~ \"АРЕСТ\""), with_text("его арестовали вчера")));
    CHECK(matches(m("text =~ \"ёж\""), with_text("ЁЖ")));
    CHECK(matches(m("text =~ \"Обыск\""), with_text("идёт оБЫСК")));
    CHECK(matches(m("text =~ \"detain\""), with_text("They DETAINED him")));
    CHECK(matches(m("text =~ \"задерж|арест\""), with_text("Арестован")));
    CHECK_FALSE(matches(m("text =~ \"^арест$\""), with_text("арестован")));
    CHECK(matches(m("text =~ \"^арест$\""), with_text("АРЕСТ")));
    // Invalid UTF-8 in a report does not break matching of what is valid.
    CHECK(matches(m("text =~ \"арест\""), with_text("\xff арест")));
}

TEST_CASE("keywords: whole words, Unicode case-insensitive, subject or text") {
    const auto k = kw({"арест", "обыск", "raid"});
    CHECK(matches(k, with_text("АРЕСТ!")));
    CHECK(matches(k, with_text("был (арест) вчера")));
    CHECK(matches(k, with_text("Обыск")));
    CHECK(matches(k, with_text("police RAID at 5am")));
    CHECK(matches(k, with_text("", "обыск в офисе")));
    // Whole word: a keyword inside a longer word does not count, in any script.
    CHECK_FALSE(matches(k, with_text("арестант")));
    CHECK_FALSE(matches(k, with_text("арестован")));
    CHECK_FALSE(matches(k, with_text("предарест")));
    CHECK_FALSE(matches(k, with_text("raided")));
    CHECK_FALSE(matches(k, with_text("afraid")));
    CHECK_FALSE(matches(k, with_text("raid_team")));
    CHECK_FALSE(matches(k, with_text("raid2")));
    // Subject and text are not glued together.
    CHECK_FALSE(matches(k, with_text("ест", "ар")));
    // A trailing * makes a prefix: stems for Russian endings.
    const auto stems = kw({"арест*", "задерж*"});
    CHECK(matches(stems, with_text("Его АРЕСТОВАЛИ")));
    CHECK(matches(stems, with_text("задержан")));
    CHECK(matches(stems, with_text("арест")));
    CHECK_FALSE(matches(stems, with_text("предарестный")));
    // Phrases match across any whitespace; regex characters are literal.
    const auto phrase = kw({"being watched", "c++"});
    CHECK(matches(phrase, with_text("I am BEING\n  watched")));
    CHECK_FALSE(matches(phrase, with_text("beingwatched")));
    CHECK(matches(phrase, with_text("learning c++ today")));
    CHECK_FALSE(matches(phrase, with_text("learning c today")));
    CHECK(k.words.size() == 3);
}

TEST_CASE("keyword errors") {
    auto empty = compile_keywords({}, here);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.err().describe() == "rules.yaml:7:10: empty keyword list");
    auto blank = compile_keywords({"ok", " "}, here);
    REQUIRE_FALSE(blank.ok());
    CHECK(blank.err().describe() == "rules.yaml:7:10: empty keyword");
    std::vector<std::string> many(5000, "w");
    auto too_many = compile_keywords(many, here);
    REQUIRE_FALSE(too_many.ok());
    CHECK(too_many.err().message.find("too many keywords") != std::string::npos);
}

TEST_CASE("parse_target") {
    CHECK(t("responder:alice").type == target::kind::responder);
    CHECK(t("responder:alice").id == "alice");
    CHECK(t("partner:ngo").type == target::kind::partner);
    CHECK(t("partner:ngo").str() == "partner:ngo");
    CHECK(t("team:ops").type == target::kind::team);
    CHECK(t("schedule:local").str() == "schedule:local");
    for (const auto* bad : {"group:ops", "alice", "responder:", "team:", "Responder:alice", ""}) {
        auto parsed = parse_target(bad, here);
        CHECK_FALSE(parsed.ok());
    }
    CHECK(parse_target("group:ops", here).err().describe() ==
          "rules.yaml:7:10: expected responder:ID, partner:ID, team:ID or schedule:ID, got "
          "\"group:ops\"");
}

TEST_CASE("evaluate: the root alone") {
    route_node root = node("root");
    root.notify = {t("responder:alice")};
    const auto d = evaluate(root, with_text("hello"));
    REQUIRE(d.paths.size() == 1);
    CHECK(d.paths[0] == std::vector<std::string>{"root"});
    CHECK(d.severity == "normal");
    CHECK(target_names(d) == std::vector<std::string>{"responder:alice"});
    CHECK(d.trace == nlohmann::json::parse(
                         R"([{"node":"root","matched":true,"reason":"the root always matches"}])"));
}

TEST_CASE("evaluate: first match wins, siblings skipped, trace explains") {
    route_node root = node("root");
    root.severity = "low";
    root.labels = {{"team", "duty"}, {"kind", "other"}};
    root.notify = {t("responder:alice")};
    route_node detention = node("detention", {"text =~ \"арест\""});
    detention.severity = "critical";
    detention.labels = {{"kind", "detention"}};
    detention.notify = {t("responder:boris"), t("partner:ngo"), t("responder:alice")};
    route_node search = node("search");
    search.keywords = kw({"обыск"});
    search.severity = "high";
    route_node fallback = node("default");
    root.routes = {detention, search, fallback};

    SUBCASE("detention matches; later siblings are skipped") {
        const auto d = evaluate(root, with_text("Арестовали при обыске"));
        REQUIRE(d.paths.size() == 1);
        CHECK(d.paths[0] == std::vector<std::string>{"root", "detention"});
        CHECK(d.severity == "critical");
        CHECK(d.labels ==
              std::map<std::string, std::string>{{"team", "duty"}, {"kind", "detention"}});
        CHECK(target_names(d) ==
              std::vector<std::string>{"responder:alice", "responder:boris", "partner:ngo"});
        CHECK(d.trace == nlohmann::json::parse(R"([
            {"node":"root","matched":true,"reason":"the root always matches"},
            {"node":"detention","matched":true,"reason":"text =~ \"арест\" matched"},
            {"node":"search","matched":false,"reason":"skipped: an earlier sibling matched"},
            {"node":"default","matched":false,"reason":"skipped: an earlier sibling matched"}])"));
    }
    SUBCASE("no detention: the keyword route") {
        const auto d = evaluate(root, with_text("идёт ОБЫСК"));
        CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "search"}});
        CHECK(d.severity == "high");
        CHECK(d.labels.at("kind") == "other");  // inherited from the root
        CHECK(target_names(d) == std::vector<std::string>{"responder:alice"});
        CHECK(d.trace[1] == nlohmann::json::parse(R"({"node":"detention","matched":false,
                                                     "reason":"text =~ \"арест\" did not match"})"));
        CHECK(d.trace[2] ==
              nlohmann::json::parse(
                  R"({"node":"search","matched":true,"reason":"a keyword matched"})"));
        CHECK(d.trace[3]["reason"] == "skipped: an earlier sibling matched");
    }
    SUBCASE("nothing specific: the catch-all inherits the root's severity") {
        const auto d = evaluate(root, with_text("обыскать всё"));  // not the whole word
        CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "default"}});
        CHECK(d.severity == "low");
        CHECK(d.trace[2] ==
              nlohmann::json::parse(
                  R"({"node":"search","matched":false,"reason":"no keyword matched"})"));
        CHECK(d.trace[3] == nlohmann::json::parse(R"({"node":"default","matched":true,
                                                     "reason":"no matchers: always matches"})"));
    }
    SUBCASE("no child matches: the parent itself is the leaf") {
        root.routes.pop_back();
        const auto d = evaluate(root, with_text("hello"));
        CHECK(d.paths == std::vector<std::vector<std::string>>{{"root"}});
        CHECK(d.severity == "low");
        CHECK(d.trace.size() == 3);
    }
}

TEST_CASE("evaluate: continue, nesting, all matchers must hold, multiple leaves") {
    route_node root = node("root");
    root.notify = {t("responder:alice")};
    route_node watch = node("watch", {"text =~ follow", "source = partner-webhook"});
    watch.continue_matching = true;
    watch.severity = "high";
    watch.labels = {{"kind", "surveillance"}, {"seen_by", "watch"}};
    watch.notify = {t("responder:carol")};
    route_node night = node("night", {"labels.region = Moscow"});
    night.labels = {{"seen_by", "night"}};
    night.notify = {t("responder:alice"), t("partner:ngo")};
    watch.routes = {night};
    route_node arrest = node("arrest", {"text =~ arrest"});
    arrest.severity = "critical";
    arrest.labels = {{"kind", "detention"}};
    arrest.notify = {t("responder:boris"), t("responder:carol")};
    route_node never = node("never");
    root.routes = {watch, arrest, never};

    SUBCASE("both leaves match: the most urgent severity, paths for each, targets deduplicated") {
        const auto d = evaluate(root, with_text("they follow us and may arrest us"));
        CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "watch", "night"},
                                                               {"root", "arrest"}});
        CHECK(d.severity == "critical");
        // Deeper wins within a path; between leaves, the more urgent leaf wins.
        CHECK(d.labels ==
              std::map<std::string, std::string>{{"kind", "detention"}, {"seen_by", "night"}});
        CHECK(target_names(d) == std::vector<std::string>{"responder:alice", "responder:carol",
                                                          "partner:ngo", "responder:boris"});
        CHECK(d.trace.size() == 5);
        CHECK(d.trace[2]["node"] == "night");
        CHECK(d.trace[3]["node"] == "arrest");
        CHECK(d.trace[3]["matched"] == true);
        CHECK(d.trace[4] == nlohmann::json::parse(R"({"node":"never","matched":false,
                                                     "reason":"skipped: an earlier sibling matched"})"));
    }
    SUBCASE("continue without a later match falls through to the catch-all") {
        const auto d = evaluate(root, with_text("they follow us"));
        CHECK(d.paths ==
              std::vector<std::vector<std::string>>{{"root", "watch", "night"}, {"root", "never"}});
        CHECK(d.severity == "high");  // watch/night beats never's inherited normal
    }
    SUBCASE("one failing matcher is enough, and the trace names it") {
        report r = with_text("they follow us");
        r.source = "other";
        const auto d = evaluate(root, r);
        CHECK(d.trace[1]["reason"] == "source = partner-webhook did not match");
        CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "never"}});
        CHECK(d.severity == "normal");
    }
    SUBCASE("inside a matched node, a failing child leaves the node as the leaf") {
        report r = with_text("they follow us");
        r.labels.clear();
        const auto d = evaluate(root, r);
        CHECK(d.paths.front() == std::vector<std::string>{"root", "watch"});
        CHECK(d.labels.at("seen_by") == "watch");
        CHECK(d.trace[2]["reason"] == "labels.region = Moscow did not match");
    }
}

// --- time intervals, and the route fields the escalation engine reads (issue 10)

namespace {

constexpr std::int64_t minute_ms = 60'000;
constexpr std::int64_t hour_ms = 60 * minute_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;
constexpr std::int64_t mar_29_2026 = 1'774'742'400'000;  // Sunday 00:00 UTC; Kyiv springs forward
constexpr std::int64_t oct_25_2026 = 1'792'886'400'000;  // Sunday 00:00 UTC; Kyiv falls back
constexpr std::int64_t mar_2_2026 = 1'772'409'600'000;   // Monday 00:00 UTC

std::shared_ptr<const time_zone> zone(const std::string& name) {
    auto z = load_time_zone(name);
    INFO(name << ": " << (z ? std::string() : z.err().describe()));
    REQUIRE(z.ok());
    return z.value();
}

time_of_day_range hours(const std::string& from, const std::string& to) {
    auto r = parse_time_range(from, to);
    REQUIRE(r.ok());
    return r.value();
}

template <class Parse>
value_range range(Parse parse, const std::string& text) {
    auto r = parse(text);
    INFO(text << ": " << (r ? std::string() : r.err().describe()));
    REQUIRE(r.ok());
    return r.value();
}

std::shared_ptr<const time_interval> interval_of(time_interval_entry e) {
    auto ti = std::make_shared<time_interval>();
    ti->entries.push_back(std::move(e));
    return ti;
}

report at_time(std::int64_t unix_ms, const std::string& text = "help") {
    report r = with_text(text);
    r.received_at = unix_ms;
    return r;
}

}  // namespace

TEST_CASE("time intervals: times of day across the DST changes of Europe/Kyiv") {
    time_interval_entry e;
    e.times = {hours("02:00", "04:00")};
    e.location = "Europe/Kyiv";
    e.zone = zone("Europe/Kyiv");
    const auto ti = interval_of(e);
    // Spring: 03:00 local becomes 04:00 at 01:00 UTC. 02:00-03:00 local is 00:00-01:00 UTC
    // (UTC+2), then local time jumps to 04:00 (UTC+3): the end is exclusive.
    CHECK_FALSE(contains(*ti, mar_29_2026 - minute_ms));      // 01:59 local
    CHECK(contains(*ti, mar_29_2026));                        // 02:00 local
    CHECK(contains(*ti, mar_29_2026 + hour_ms - minute_ms));  // 02:59 local
    CHECK_FALSE(contains(*ti, mar_29_2026 + hour_ms));        // 04:00 local (UTC+3)
    // Autumn: 04:00 local becomes 03:00 at 01:00 UTC; 02:00-04:00 local lasts three hours:
    // 23:00 UTC (UTC+3) to 02:00 UTC (UTC+2).
    CHECK_FALSE(contains(*ti, oct_25_2026 - hour_ms - minute_ms));  // 01:59 local
    CHECK(contains(*ti, oct_25_2026 - hour_ms));                    // 02:00 local (UTC+3)
    CHECK(contains(*ti, oct_25_2026 + 30 * minute_ms));             // 03:30 the first time
    CHECK(contains(*ti, oct_25_2026 + 90 * minute_ms));             // 03:30 the second time
    CHECK_FALSE(contains(*ti, oct_25_2026 + 2 * hour_ms));          // 04:00 local (UTC+2)
    // Without a location the same hours are UTC.
    time_interval_entry utc;
    utc.times = {hours("02:00", "04:00")};
    const auto ti_utc = interval_of(utc);
    CHECK(contains(*ti_utc, mar_29_2026 + 2 * hour_ms));
    CHECK_FALSE(contains(*ti_utc, mar_29_2026 + hour_ms));
}

TEST_CASE("time intervals: office hours on weekdays, local dates, 24:00") {
    time_interval_entry e;
    e.times = {hours("09:00", "18:00")};
    e.weekdays = {range(parse_weekday_range, "monday:friday")};
    e.zone = zone("Europe/Kyiv");
    const auto office = interval_of(e);
    // Monday 2026-03-02, Kyiv is UTC+2 in winter.
    CHECK(contains(*office, mar_2_2026 + 7 * hour_ms));                    // 09:00 local
    CHECK_FALSE(contains(*office, mar_2_2026 + 7 * hour_ms - minute_ms));  // 08:59
    CHECK(contains(*office, mar_2_2026 + 16 * hour_ms - minute_ms));       // 17:59
    CHECK_FALSE(contains(*office, mar_2_2026 + 16 * hour_ms));             // 18:00: exclusive
    CHECK_FALSE(contains(*office, mar_29_2026 + 9 * hour_ms));             // a Sunday
    // Sunday 23:30 UTC is Monday 01:30 in Kyiv: the local weekday counts.
    time_interval_entry mondays;
    mondays.weekdays = {range(parse_weekday_range, "Monday")};
    mondays.zone = zone("Europe/Kyiv");
    CHECK(contains(*interval_of(mondays), mar_2_2026 - 30 * minute_ms));
    mondays.zone = nullptr;
    CHECK_FALSE(contains(*interval_of(mondays), mar_2_2026 - 30 * minute_ms));
    // "24:00" ends at midnight.
    time_interval_entry late;
    late.times = {hours("22:00", "24:00")};
    CHECK(contains(*interval_of(late), mar_2_2026 + 24 * hour_ms - minute_ms));
    CHECK_FALSE(contains(*interval_of(late), mar_2_2026 + 24 * hour_ms));
}

TEST_CASE("time intervals: days of the month from the end, months, years, several entries") {
    time_interval_entry last3;
    last3.days_of_month = {range(parse_day_of_month_range, "-3:-1")};
    const auto ti = interval_of(last3);
    const std::int64_t feb_28_2026 = 1'772'236'800'000;
    CHECK(contains(*ti, feb_28_2026));               // 28 February: the last day of 2026's
    CHECK(contains(*ti, feb_28_2026 - 2 * day_ms));  // 26 February
    CHECK_FALSE(contains(*ti, feb_28_2026 - 3 * day_ms));
    CHECK(contains(*ti, mar_29_2026));  // 29 March is 3rd from the end
    CHECK_FALSE(contains(*ti, mar_29_2026 - day_ms));
    const std::int64_t feb_29_2028 = 1'835'395'200'000;
    CHECK(contains(*ti, feb_29_2028));
    CHECK_FALSE(contains(*ti, feb_29_2028 - 3 * day_ms));  // 26 Feb 2028: 4th from the end
    // "1:-1" is the whole month; "31" does not hold in a 30-day month.
    time_interval_entry all;
    all.days_of_month = {range(parse_day_of_month_range, "1:-1")};
    CHECK(contains(*interval_of(all), feb_28_2026));
    time_interval_entry day31;
    day31.days_of_month = {range(parse_day_of_month_range, "31")};
    CHECK_FALSE(contains(*interval_of(day31), 1'777'507'200'000));  // 30 April 2026: no 31st
    CHECK(contains(*interval_of(day31), 1'780'185'600'000));        // 31 May 2026
    time_interval_entry months;
    months.months = {range(parse_month_range, "january:march"), range(parse_month_range, "12")};
    months.years = {range(parse_year_range, "2026")};
    CHECK(contains(*interval_of(months), mar_29_2026));
    CHECK_FALSE(contains(*interval_of(months), oct_25_2026));
    CHECK(contains(*interval_of(months), 1'798'675'200'000));                 // 2026-12-31
    CHECK_FALSE(contains(*interval_of(months), 1'798'675'200'000 + day_ms));  // 2027-01-01
    // Any entry holding is enough; none never holds.
    auto two = std::make_shared<time_interval>();
    two->entries = {last3, months};
    CHECK(contains(*two, oct_25_2026 + 6 * day_ms));  // 31 October: last3
    CHECK_FALSE(contains(time_interval{}, mar_29_2026));
    // Instants far outside any calendar are handled, not overflowed.
    time_interval_entry kyiv_years;
    kyiv_years.years = {range(parse_year_range, "1:9999")};
    kyiv_years.zone = zone("Europe/Kyiv");
    CHECK_FALSE(contains(*interval_of(kyiv_years), std::numeric_limits<std::int64_t>::max()));
    CHECK_FALSE(contains(*interval_of(kyiv_years), std::numeric_limits<std::int64_t>::min()));
    CHECK(contains(*interval_of(kyiv_years), 0));
    CHECK(contains(*interval_of(time_interval_entry{}), mar_29_2026));
}

TEST_CASE("time intervals: the parsers refuse what Alertmanager refuses") {
    CHECK_FALSE(parse_time_range("25:00", "26:00").ok());
    CHECK_FALSE(parse_time_range("09:00", "09:00").ok());
    CHECK_FALSE(parse_time_range("18:00", "09:00").ok());
    CHECK_FALSE(parse_time_range("24:00", "24:00").ok());
    CHECK_FALSE(parse_time_range("9:00", "18:00").ok());
    CHECK_FALSE(parse_time_range("09:60", "18:00").ok());
    CHECK_FALSE(parse_time_range("09:00", "").ok());
    CHECK(parse_time_range("00:00", "24:00").ok());
    CHECK_FALSE(parse_weekday_range("monday:").ok());
    CHECK_FALSE(parse_weekday_range(":friday").ok());
    CHECK_FALSE(parse_weekday_range("friday:monday").ok());
    CHECK_FALSE(parse_weekday_range("1").ok());  // weekdays are names only
    CHECK_FALSE(parse_weekday_range("monday:tuesday:friday").ok());
    CHECK(range(parse_weekday_range, "SUNDAY").begin == 0);
    CHECK(range(parse_weekday_range, "saturday").end == 6);
    CHECK_FALSE(parse_day_of_month_range("0").ok());
    CHECK_FALSE(parse_day_of_month_range("-32").ok());
    CHECK_FALSE(parse_day_of_month_range("-1:1").ok());
    CHECK(parse_day_of_month_range("1:-1").ok());
    CHECK_FALSE(parse_month_range("0").ok());
    CHECK_FALSE(parse_month_range("december:january").ok());
    CHECK(range(parse_month_range, "May").begin == 5);
    CHECK_FALSE(parse_year_range("-2026").ok());
    CHECK_FALSE(parse_year_range("2026.5").ok());
    CHECK_FALSE(parse_year_range(std::string(100, '9')).ok());
    CHECK(load_time_zone("UTC").ok());
    CHECK(load_time_zone("Europe/Minsk").ok());
    CHECK(load_time_zone("Asia/Almaty").ok());
    const auto bad = load_time_zone("Europe/Moskow");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.err().message ==
          "unknown time zone \"Europe/Moskow\"; did you mean \"Europe/Moscow\"?");
    CHECK_FALSE(load_time_zone("").ok());
    CHECK_FALSE(load_time_zone(std::string(1000, 'x')).ok());
    CHECK_FALSE(load_time_zone("Local").ok());
}

TEST_CASE("route: the time_interval matcher") {
    auto inside = m("time_interval = \"office\"");
    auto outside = m("time_interval != office");
    CHECK(inside.value == "office");
    CHECK(outside.kind == matcher::op::not_equal);
    CHECK(error_of("time_interval =~ \"office\"").find("time_interval takes = or !=") !=
          std::string::npos);
    CHECK(error_of("time_interval = \"\"").find("expected the name of a time interval") !=
          std::string::npos);
    // Unresolved (no config loader bound it): never inside.
    CHECK_FALSE(matches(inside, at_time(mar_2_2026)));
    CHECK(matches(outside, at_time(mar_2_2026)));
    time_interval_entry e;
    e.weekdays = {range(parse_weekday_range, "monday")};
    inside.interval = outside.interval = interval_of(e);
    CHECK(matches(inside, at_time(mar_2_2026 + hour_ms)));
    CHECK_FALSE(matches(outside, at_time(mar_2_2026 + hour_ms)));
    CHECK_FALSE(matches(inside, at_time(mar_29_2026)));
    CHECK(matches(outside, at_time(mar_29_2026)));
}

TEST_CASE("route: policy, group_by and group_window inherit; the first leaf that has one wins") {
    route_node root = node("root");
    root.policy = "default";
    root.group_by = std::vector<std::string>{"sender"};
    route_node a = node("a", {"text =~ \"arrest\""});
    a.policy = "urgent";
    a.group_window_ms = 30 * minute_ms;
    a.continue_matching = true;
    route_node b = node("b", {"text =~ \"raid\""});
    b.group_by = std::vector<std::string>{"source", "labels.region"};
    b.group_window_ms = 2 * hour_ms;
    route_node b1 = node("b1");
    b.routes.push_back(b1);
    root.routes = {a, b};

    auto d = evaluate(root, at_time(mar_2_2026, "nothing"));
    CHECK(d.policy == "default");
    CHECK(d.group_by == std::vector<std::string>{"sender"});
    CHECK(d.group_window_ms == 0);
    d = evaluate(root, at_time(mar_2_2026, "a raid"));
    CHECK(d.paths == std::vector<std::vector<std::string>>{{"root", "b", "b1"}});
    CHECK(d.policy == "default");  // inherited from the root through b
    CHECK(d.group_by == std::vector<std::string>{"source", "labels.region"});
    CHECK(d.group_window_ms == 2 * hour_ms);  // b1 inherits b's
    d = evaluate(root, at_time(mar_2_2026, "arrest during a raid"));
    CHECK(d.paths.size() == 2);
    CHECK(d.policy == "urgent");                              // the first leaf, a
    CHECK(d.group_by == std::vector<std::string>{"sender"});  // a's, inherited from the root
    CHECK(d.group_window_ms == 30 * minute_ms);
}

TEST_CASE("route: mute and active time intervals") {
    time_interval_entry night_entry;
    night_entry.times = {hours("00:00", "06:00")};
    const auto night = interval_of(night_entry);
    time_interval_entry office_entry;
    office_entry.times = {hours("09:00", "18:00")};
    const auto office = interval_of(office_entry);

    route_node root = node("root");
    root.mute_time_intervals = std::vector<interval_ref>{{"night", night, here, ""}};
    route_node duty = node("duty", {"labels.region = \"Moscow\""});
    duty.active_time_intervals = std::vector<interval_ref>{{"office", office, here, ""}};
    duty.continue_matching = true;
    route_node urgent = node("urgent", {"text =~ \"arrest\""});
    urgent.mute_time_intervals = std::vector<interval_ref>{};  // never muted
    root.routes = {duty, urgent};

    // 10:00 UTC: office hours, not night: nothing mutes.
    auto d = evaluate(root, at_time(mar_2_2026 + 10 * hour_ms));
    CHECK(d.muted_by.empty());
    // 20:00: duty is outside its only active interval.
    d = evaluate(root, at_time(mar_2_2026 + 20 * hour_ms));
    CHECK(d.muted_by == std::vector<std::string>{"office"});
    bool traced = false;
    for (const auto& entry : d.trace) {
        if (entry.contains("muted_by")) {
            traced = true;
            CHECK(entry["node"] == "duty");
            CHECK(entry["reason"] == "muted: outside every active_time_interval (office)");
        }
    }
    CHECK(traced);
    // 03:00: night mutes (inherited from the root) and duty is outside office hours too.
    d = evaluate(root, at_time(mar_2_2026 + 3 * hour_ms));
    CHECK(d.muted_by == std::vector<std::string>{"night", "office"});
    // A second leaf that is not muted means the report pages: urgent clears the mutes.
    d = evaluate(root, at_time(mar_2_2026 + 3 * hour_ms, "arrest"));
    CHECK(d.paths.size() == 2);
    CHECK(d.muted_by.empty());
    // A report on no muted leaf; the root alone at night.
    route_node lone = node("root");
    lone.mute_time_intervals = std::vector<interval_ref>{{"night", night, here, ""}};
    d = evaluate(lone, at_time(mar_2_2026 + 3 * hour_ms));
    CHECK(d.muted_by == std::vector<std::string>{"night"});
    // An unresolved reference is never in force: a mute does not hold, an active list that
    // is all unresolved mutes.
    lone.mute_time_intervals = std::vector<interval_ref>{{"ghost", nullptr, here, ""}};
    CHECK(evaluate(lone, at_time(mar_2_2026)).muted_by.empty());
}

TEST_CASE("route: group_key") {
    decision d;
    report r = with_text("help", "subject");
    r.source = "sms";
    r.country = "RU";
    CHECK(group_key(d, r).empty());
    d.group_by = {"sender"};
    CHECK(group_key(d, r) == R"([["sender","+79990001122"]])");
    d.group_by = {"source", "sender", "labels.region", "labels.none"};
    CHECK(
        group_key(d, r) ==
        R"([["source","sms"],["sender","+79990001122"],["labels.region","Moscow"],["labels.none",""]])");
    // Values cannot run into each other: a "," or "]" in a value is quoted.
    report tricky = r;
    tricky.sender = "a\",\"b";
    CHECK(group_key(d, tricky) != group_key(d, r));
    d.group_by = {"..."};
    const std::string all = group_key(d, r);
    CHECK(all.find("\"text\",\"help\"") != std::string::npos);
    CHECK(all.find("\"labels.priority\",\"\"") != std::string::npos);
    report other = r;
    other.text = "help!";
    CHECK(group_key(d, other) != all);
    d.group_by = {"sender"};
    CHECK(group_key(d, other) == group_key(d, r));
    // Evaluation fills group_by for group_key.
    route_node root = node("root");
    root.group_by = std::vector<std::string>{"sender", "subject"};
    CHECK(group_key(evaluate(root, r), r) ==
          R"([["sender","+79990001122"],["subject","subject"]])");
}

TEST_CASE("route: parse_group_by_field") {
    for (const char* ok :
         {"source", "sender", "subject", "country", "language", "labels.x", "..."}) {
        INFO(ok);
        CHECK(parse_group_by_field(ok, here).ok());
    }
    for (const char* bad : {"text", "labels.", "labels.9x", "", "sendr", "....", "Sender"}) {
        INFO(bad);
        CHECK_FALSE(parse_group_by_field(bad, here).ok());
    }
    CHECK(parse_group_by_field("sendr", here).err().describe().find("did you mean \"sender\"") !=
          std::string::npos);
}
