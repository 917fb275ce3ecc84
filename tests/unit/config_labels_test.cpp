// One label-name rule (core::is_label_name) in the three places a label is named: the
// `labels` of a posted report (ingest/json_report), a matcher's `labels.<name>`
// (rules/route) and a route's `labels:` (config/routes). A name one of them takes, all
// take; a name one refuses, all refuse, each with its own error style.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.hpp"
#include "domain/severity.hpp"
#include "ingest/json_report.hpp"
#include "rules/route.hpp"

namespace fs = std::filesystem;
using hotline::config::load_config;
using hotline::config::load_result;

namespace {

constexpr std::int64_t now = 1'764'061'200'000;

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "hotline-labels-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
        write("secrets/token", "s3cret-token\n");
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string write(const std::string& name, const std::string& content) const {
        const fs::path file = path / name;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << content;
        return file.string();
    }
};

// Every config needs an admin (dead letters go there); last, so positions above stay put.
const std::string admins_part =
    "admins: [{id: ops, contacts: [{channel: mail, address: ops@example.org}]}]\n";
const std::string channel_and_admins_part =
    "channels: [{name: mail, type: smtp, options: {url: \"smtp://127.0.0.1:2525\"}}]\n" +
    admins_part;

// A configuration whose one child route matches `matcher` and sets `label_key: set`.
std::string config_text(const std::string& matcher, const std::string& label_key) {
    return "secrets_dir: secrets\n"
           "sources: [{name: hook, token_file: token}]\n"
           "channels: [{name: mail, type: smtp, options: {url: \"smtp://127.0.0.1:2525\"}}]\n"
           "responders: [{id: alice, contacts: [{channel: mail, address: a@example.org}]}]\n"
           "route:\n"                       // 5
           "  notify: [responder:alice]\n"  // 6
           "  routes:\n"                    // 7
           "    - name: tagged\n"           // 8
           "      match: ['" +
           matcher +
           "']\n"  // 9: the matcher starts at column 16
           "      labels: {" +
           label_key + ": set}\n" +  // 10: the label name starts at column 16
           admins_part;
}

std::string describe_all(const load_result& r) {
    std::string out;
    for (const auto& e : r.errors) {
        out += e.describe() + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("case.ref: posted, matched and set by a route") {
    auto report = hotline::ingest::parse_report_json(
        R"({"sender":"s","text":"t","labels":{"case.ref":"HL-7","sub-type_1":"x"}})", "hook", {},
        now);
    REQUIRE(report.ok());
    CHECK(report->labels.at("case.ref") == "HL-7");

    const temp_dir dir;
    const auto r =
        load_config(dir.write("main.yaml", config_text("labels.case.ref = HL-7", "case.ref")));
    INFO(describe_all(r));
    REQUIRE(r.cfg != nullptr);
    const auto& tagged = r.cfg->route.routes.at(0);
    REQUIRE(tagged.match.size() == 1);
    CHECK(tagged.match[0].label == "case.ref");
    CHECK(tagged.labels.at("case.ref") == "set");

    const auto d = hotline::rules::evaluate(r.cfg->route, *report);
    REQUIRE(d.paths.size() == 1);
    CHECK(d.paths[0].back() == "tagged");
    CHECK(d.labels.at("case.ref") == "set");  // the route's value wins over the posted one

    report->labels["case.ref"] = "HL-8";
    CHECK(hotline::rules::evaluate(r.cfg->route, *report).paths.at(0).back() == "root");
}

TEST_CASE("the longest name (64 bytes) works everywhere; one byte more is refused everywhere") {
    const std::string longest = "_" + std::string(63, 'k');
    const std::string too_long = longest + "k";
    const auto post = [](const std::string& key) {
        return hotline::ingest::parse_report_json(
            R"({"sender":"s","text":"t","labels":{")" + key + R"(":"v"}})", "hook", {}, now);
    };
    CHECK(post(longest).ok());
    CHECK_FALSE(post(too_long).ok());
    const hotline::core::mark at{"r.yaml", 1, 1};
    CHECK(hotline::rules::parse_matcher("labels." + longest + " = v", at).ok());
    CHECK_FALSE(hotline::rules::parse_matcher("labels." + too_long + " = v", at).ok());
    const temp_dir dir;
    CHECK(
        load_config(dir.write("a.yaml", config_text("labels." + longest + " = v", longest))).cfg !=
        nullptr);
    const auto bad = load_config(dir.write("b.yaml", config_text("text = v", too_long)));
    CHECK(bad.cfg == nullptr);
    CHECK(bad.errors.size() == 1);
}

TEST_CASE("an invalid name is refused in all three places, each in its own error style") {
    for (const std::string bad : {"9lives", ".hidden", "-x", "a:b"}) {
        INFO(bad);
        const auto posted = hotline::ingest::parse_report_json(
            R"({"sender":"s","text":"t","labels":{")" + bad + R"(":"v"}})", "hook", {}, now);
        REQUIRE_FALSE(posted.ok());
        CHECK(posted.err().code == "bad_field");
        CHECK(posted.err().message ==
              "field \"labels\" keys must match [A-Za-z_][A-Za-z0-9_.-]{0,63}");
    }

    // The matcher names the label where it starts (after "labels.").
    const hotline::core::mark at{"rules.yaml", 7, 10};
    const auto matcher = hotline::rules::parse_matcher("labels.9lives = x", at);
    REQUIRE_FALSE(matcher.ok());
    CHECK(matcher.err().describe() ==
          "rules.yaml:7:17: expected a label name of letters, digits, '_', '-' or '.' "
          "(starting with a letter or '_', at most 64 bytes), got \"9lives\"");
    CHECK(hotline::rules::parse_matcher("labels.-x = x", at).err().describe().find("got \"-x\"") !=
          std::string::npos);

    const temp_dir dir;
    const auto file = dir.write("main.yaml", config_text("labels.ok = x", "9lives"));
    const auto r = load_config(file);
    REQUIRE(r.cfg == nullptr);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].describe() ==
          file +
              ":10:16: route.routes[0].labels: expected a label name of letters, digits, '_', "
              "'-' or '.' (starting with a letter or '_', at most 64 bytes), got \"9lives\"");
}

TEST_CASE("a route's severity is one of domain::severities, most urgent first") {
    CHECK(hotline::domain::severities.front() == "critical");
    CHECK(hotline::domain::severity_rank("critical") < hotline::domain::severity_rank("low"));
    CHECK(hotline::domain::is_severity(hotline::domain::default_severity));
    CHECK_FALSE(hotline::domain::is_severity("urgent"));
    const temp_dir dir;
    for (const auto severity : hotline::domain::severities) {
        const auto r = load_config(
            dir.write("main.yaml",
                      "secrets_dir: secrets\nsources: [{name: hook, token_file: token}]\n"
                      "route: {severity: " +
                          std::string(severity) + "}\n" + channel_and_admins_part));
        INFO(describe_all(r));
        REQUIRE(r.cfg != nullptr);
        CHECK(r.cfg->route.severity == std::string(severity));
    }
    const auto file = dir.write(
        "main.yaml",
        "secrets_dir: secrets\nsources: [{name: hook, token_file: token}]\nroute: {severity: "
        "urgent}\n" +
            channel_and_admins_part);
    const auto r = load_config(file);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].describe() == file +
                                        ":3:19: route.severity: expected one of critical, high, "
                                        "normal, low; got \"urgent\"");
}
