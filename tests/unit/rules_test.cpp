// rules: matcher parsing, RE2 Unicode case folding, whole-word keywords, targets and the
// evaluation of the routing tree with its trace.
#include <doctest/doctest.h>

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
          "language, attachments or labels.<name>)");
    CHECK(error_of("  txt = x") ==
          "rules.yaml:7:12: unknown field \"txt\" (expected source, source_kind, sender, country, "
          "subject, "
          "text, "
          "language, attachments or labels.<name>); did you mean \"text\"?");
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
