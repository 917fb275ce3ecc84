#include "ctl/test_rules.hpp"

#include <algorithm>
#include <set>

#include "core/duration.hpp"
#include "dispatch/escalation.hpp"
#include "dispatch/planner.hpp"
#include "ingest/cases.hpp"
#include "ingest/language.hpp"
#include "rules/oncall.hpp"
#include "rules/route.hpp"

namespace hotline::ctl {

namespace {

using nlohmann::json;

// The report as its source would hand it to the pipeline.
domain::report report_of(const config::config& cfg, const config::rule_test& t,
                         std::int64_t at_ms) {
    domain::report r;
    const config::source_config* source =
        t.report.source.empty() ? (cfg.sources.empty() ? nullptr : &cfg.sources.front())
                                : cfg.find_source(t.report.source);
    r.source = source != nullptr ? source->name : t.report.source;
    r.source_kind = t.report.source_kind;
    if (r.source_kind.empty()) {
        const std::string kind = source != nullptr ? source->kind : "webhook";
        r.source_kind = kind == "imap" ? "email" : kind;
    }
    r.external_id = "test-rules:" + t.name;
    r.sender = t.report.sender;
    r.country = t.report.country;
    r.subject = t.report.subject;
    r.text = t.report.text;
    r.labels = t.report.labels;
    r.received_at = at_ms;
    if (t.report.language) {
        r.language = *t.report.language;
    } else if (r.source_kind == "webhook") {
        r.language = ingest::guess_language(r.text);  // as ingest/json_report does
    } else {
        // As the SMS and mail intakes do: the detector, then the source's default.
        r.language = ingest::detect_language(r.text);
        if ((r.language.empty() || r.language == "und") && source != nullptr) {
            const auto& fallback = source->kind == "imap" ? source->imap.default_language
                                                          : source->sms.default_language;
            if (!fallback.empty()) {
                r.language = fallback;
            }
        }
    }
    return r;
}

void add_unique(json& list, const std::string& target) {
    if (std::find(list.begin(), list.end(), target) == list.end()) {
        list.push_back(target);
    }
}

std::string show(const json& v) {
    if (v.is_string()) {
        return "\"" + v.get<std::string>() + "\"";
    }
    if (v.is_array()) {
        std::string out = "[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            out += (i == 0 ? "" : ", ") + (v[i].is_string() ? v[i].get<std::string>() : show(v[i]));
        }
        return out + "]";
    }
    return v.dump();
}

json sorted(json list) {
    std::sort(list.begin(), list.end());
    return list;
}

// "missing a, b; unexpected c" for two sets of people.
std::string set_note(const json& expected, const json& got) {
    std::string missing;
    std::string unexpected;
    for (const auto& e : expected) {
        if (std::find(got.begin(), got.end(), e) == got.end()) {
            missing += (missing.empty() ? "" : ", ") + e.get<std::string>();
        }
    }
    for (const auto& g : got) {
        if (std::find(expected.begin(), expected.end(), g) == expected.end()) {
            unexpected += (unexpected.empty() ? "" : ", ") + g.get<std::string>();
        }
    }
    std::string note;
    if (!missing.empty()) {
        note = "missing " + missing;
    }
    if (!unexpected.empty()) {
        note += (note.empty() ? "" : "; ") + std::string("unexpected ") + unexpected;
    }
    return note;
}

void compare(std::vector<test_mismatch>& out, const std::string& field, const json& expected,
             const json& got) {
    if (expected != got) {
        out.push_back({field, show(expected), show(got), ""});
    }
}

void compare_people(std::vector<test_mismatch>& out, const std::string& field, const json& expected,
                    const json& got) {
    if (sorted(expected) != sorted(got)) {
        out.push_back({field, show(expected), show(got), set_note(expected, got)});
    }
}

json people_json(const std::vector<std::string>& people) {
    json out = json::array();
    for (const auto& p : people) {
        out.push_back(p);
    }
    return out;
}

}  // namespace

json decide(const config::config& cfg, const config::rule_test& t, std::int64_t now_ms) {
    const std::int64_t at = t.at_ms.value_or(now_ms);
    const domain::report r = report_of(cfg, t, at);
    const rules::decision d = rules::evaluate(cfg.route, r);
    const bool muted = !d.muted_by.empty();
    // As ingest/pipeline's route_and_queue: the route's targets, then (a new case with a
    // policy) step 1's, each person once; a muted report pages nobody.
    json targets = json::array();
    json steps = json::array();
    if (!muted) {
        for (const auto& job : dispatch::plan_report(cfg, r, d)) {
            add_unique(targets, job.target);
        }
        if (!d.policy.empty()) {
            const auto start = ingest::case_service::start_escalation(cfg, d.policy, r, d, at);
            for (const auto& job : start.planned) {
                add_unique(targets, job.target);
            }
        }
    }
    const config::escalation_policy* policy = muted ? nullptr : cfg.find_policy(d.policy);
    if (policy != nullptr) {
        // Nobody acknowledges: step i fires after the ack_within of every step before it
        // (the first round; dispatch::step_timer's due times).
        const auto on_call = dispatch::on_call_of(cfg);
        std::int64_t fires = at;
        for (std::size_t i = 0; i < policy->steps.size(); ++i) {
            json step = json::array();
            const dispatch::escalation_position pos{policy->id, i, 0};
            for (const auto& job : dispatch::plan_step(cfg, *policy, pos, r, d, fires, on_call)) {
                add_unique(step, job.target);
            }
            steps.push_back(std::move(step));
            fires += policy->steps[i].ack_within.count();
        }
    }
    return json{{"at", dispatch::iso8601_utc(at)},
                {"language", r.language},
                {"paths", d.paths},
                {"severity", d.severity},
                {"policy", d.policy},
                {"labels", d.labels},
                {"targets", std::move(targets)},
                {"steps", std::move(steps)},
                {"muted", muted},
                {"muted_by", d.muted_by},
                {"group_by", d.group_by},
                {"group_window", core::format_duration(core::duration(d.group_window_ms))}};
}

test_outcome run_test(const config::config& cfg, const config::rule_test& t, std::int64_t now_ms) {
    test_outcome out;
    out.test = &t;
    const json got = decide(cfg, t, now_ms);
    const auto& e = t.expect;
    auto& m = out.mismatches;
    if (e.paths) {
        compare(m, e.paths->size() == 1 ? "path" : "paths",
                e.paths->size() == 1 ? json((*e.paths)[0]) : json(*e.paths),
                e.paths->size() == 1 && got["paths"].size() == 1 ? got["paths"][0] : got["paths"]);
    }
    if (e.severity) {
        compare(m, "severity", *e.severity, got["severity"]);
    }
    if (e.policy) {
        compare(m, "policy", *e.policy, got["policy"]);
    }
    if (e.labels) {
        for (const auto& [name, value] : *e.labels) {
            const auto it = got["labels"].find(name);
            compare(m, "labels." + name, value, it != got["labels"].end() ? *it : json(nullptr));
        }
    }
    if (e.targets) {
        compare_people(m, "targets", people_json(*e.targets), got["targets"]);
    }
    if (e.steps) {
        const auto& got_steps = got["steps"];
        if (e.steps->size() != got_steps.size()) {
            m.push_back({"steps", std::to_string(e.steps->size()) + " steps",
                         std::to_string(got_steps.size()) + " steps" +
                             (got["policy"] == "" ? " (no policy)" : ""),
                         ""});
        }
        for (std::size_t i = 0; i < std::min(e.steps->size(), got_steps.size()); ++i) {
            compare_people(m, "steps[" + std::to_string(i + 1) + "]", people_json((*e.steps)[i]),
                           got_steps[i]);
        }
    }
    if (e.muted) {
        compare(m, "muted", *e.muted, got["muted"]);
    }
    if (e.muted_by) {
        compare(m, "muted_by", *e.muted_by, got["muted_by"]);
    }
    if (e.group_by) {
        compare(m, "group_by", *e.group_by, got["group_by"]);
    }
    if (e.group_window_ms) {
        compare(m, "group_window", core::format_duration(core::duration(*e.group_window_ms)),
                got["group_window"]);
    }
    return out;
}

test_rules_output test_rules(const config::config& cfg, bool as_json, std::int64_t now_ms) {
    test_rules_output out;
    std::size_t failed = 0;
    json results = json::array();
    std::string text;
    for (const auto& t : cfg.tests) {
        const auto o = run_test(cfg, t, now_ms);
        const std::string where = t.at.file + ":" + std::to_string(t.at.line);
        if (!o.passed()) {
            ++failed;
        }
        text += std::string(o.passed() ? "PASS " : "FAIL ") + t.name + "  " + where + "\n";
        json mismatches = json::array();
        for (const auto& mm : o.mismatches) {
            text += "    " + mm.field + ":\n";
            text += "      expected: " + mm.expected + "\n";
            text += "      got:      " + mm.got + "\n";
            if (!mm.note.empty()) {
                text += "      (" + mm.note + ")\n";
            }
            mismatches.push_back({{"field", mm.field},
                                  {"expected", mm.expected},
                                  {"got", mm.got},
                                  {"note", mm.note}});
        }
        results.push_back({{"name", t.name},
                           {"file", t.at.file},
                           {"line", t.at.line},
                           {"passed", o.passed()},
                           {"mismatches", std::move(mismatches)}});
    }
    const std::size_t total = cfg.tests.size();
    if (total == 0) {
        text += "no tests (a rule file's top-level `tests:` list holds them)\n";
    } else {
        text += std::to_string(total) + (total == 1 ? " test: " : " tests: ") +
                std::to_string(total - failed) + " passed, " + std::to_string(failed) + " failed\n";
    }
    out.exit_code = failed == 0 ? 0 : 1;
    out.out =
        as_json
            ? json{{"tests", std::move(results)}, {"passed", total - failed}, {"failed", failed}}
                      .dump(2) +
                  "\n"
            : std::move(text);
    return out;
}

}  // namespace hotline::ctl
