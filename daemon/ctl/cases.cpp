#include "ctl/cases.hpp"

#include <charconv>
#include <ostream>
#include <sstream>

namespace hotline::ctl {
namespace {

std::string text_of(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return {};
    }
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return {};
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// "2026-12-03T13:22:05Z" as "2026-12-03 13:22:05"; "-" when none.
std::string when(const nlohmann::json& j, const char* key) {
    std::string t = text_of(j, key);
    if (t.empty()) {
        return "-";
    }
    if (t.size() == 20 && t[10] == 'T' && t.back() == 'Z') {
        t[10] = ' ';
        t.pop_back();
    }
    return t;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) {
        s.append(width - s.size(), ' ');
    }
    return s;
}

bool parse_id(const std::string& s, std::int64_t& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size() && out > 0;
}

// Case numbers are written "42" or "#42".
bool parse_case(std::string s, std::int64_t& out) {
    if (!s.empty() && s.front() == '#') {
        s.erase(0, 1);
    }
    return parse_id(s, out);
}

// A member of an object answer; null for anything else (a hostile or broken answer must
// print something, never throw).
nlohmann::json member(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return nullptr;
    }
    const auto it = j.find(key);
    return it == j.end() ? nlohmann::json{} : *it;
}

}  // namespace

std::string format_case_list(const nlohmann::json& answer) {
    auto cases = member(answer, "cases");
    if (!cases.is_array()) {
        cases = nlohmann::json::array();
    }
    if (cases.empty()) {
        return "no cases\n";
    }
    std::ostringstream out;
    out << pad("ID", 8) << pad("STATE", 14) << pad("SEVERITY", 10) << pad("OPENED", 21)
        << pad("REPORTS", 9) << "BY\n";
    for (const auto& c : cases) {
        const std::string state = text_of(c, "state");
        const std::string by = state == "resolved"       ? text_of(c, "resolved_by")
                               : state == "acknowledged" ? text_of(c, "acked_by")
                                                         : "";
        out << pad(text_of(c, "id"), 8) << pad(state, 14) << pad(text_of(c, "severity"), 10)
            << pad(when(c, "created_at"), 21) << pad(text_of(c, "reports"), 9)
            << (by.empty() ? "-" : by) << "\n";
    }
    if (const auto next = text_of(answer, "next_before"); !next.empty()) {
        out << "more: --before " << next << "\n";
    }
    return out.str();
}

std::string format_case(const nlohmann::json& answer) {
    const auto c = member(answer, "case");
    std::ostringstream out;
    out << "Case #" << text_of(c, "id") << "  " << text_of(c, "state") << "  "
        << text_of(c, "severity") << "\n";
    out << "Route:     " << text_of(c, "route") << "\n";
    if (const auto policy = text_of(c, "policy"); !policy.empty()) {
        out << "Policy:    " << policy << "\n";
    }
    if (const auto labels = c.find("labels");
        labels != c.end() && labels->is_object() && !labels->empty()) {
        std::string text;
        for (const auto& [k, v] : labels->items()) {
            text += (text.empty() ? "" : ", ") + k + "=" +
                    (v.is_string() ? v.get<std::string>() : v.dump());
        }
        out << "Labels:    " << text << "\n";
    }
    out << "Opened:    " << when(c, "created_at") << " UTC\n";
    if (!text_of(c, "acked_by").empty()) {
        out << "Acked:     " << when(c, "acked_at") << " UTC by " << text_of(c, "acked_by") << "\n";
    }
    if (!text_of(c, "resolved_by").empty()) {
        out << "Resolved:  " << when(c, "resolved_at") << " UTC by " << text_of(c, "resolved_by")
            << "\n";
    }
    out << "Reports:   " << text_of(c, "reports") << " (latest " << when(c, "last_report_at")
        << " UTC)\n";
    if (const auto targets = member(answer, "targets"); targets.is_array() && !targets.empty()) {
        std::string text;
        for (const auto& t : targets) {
            text += (text.empty() ? "" : ", ") + (t.is_string() ? t.get<std::string>() : t.dump());
        }
        out << "Notified:  " << text << "\n";
    }
    if (const auto report = member(answer, "report"); report.is_object()) {
        out << "\nFirst report (" << text_of(report, "source") << ", "
            << when(report, "received_at") << " UTC):\n";
        if (const auto subject = text_of(report, "subject"); !subject.empty()) {
            out << "Subject: " << subject << "\n";
        }
        std::istringstream lines(text_of(report, "text"));
        for (std::string line; std::getline(lines, line);) {
            out << "  " << line << "\n";
        }
    } else {
        out << "\nFirst report: no longer kept\n";
    }
    const auto events = member(answer, "events");
    if (events.is_array() && !events.empty()) {
        out << "\nHistory:\n";
        for (const auto& e : events) {
            out << "  " << pad(when(e, "at"), 20) << pad(text_of(e, "kind"), 22)
                << text_of(e, "actor");
            const auto detail = e.find("detail");
            if (detail != e.end() && detail->is_object()) {
                if (const auto note = detail->find("note"); note != detail->end() &&
                                                            note->is_string() &&
                                                            !note->get<std::string>().empty()) {
                    out << ": " << note->get<std::string>();
                }
                if (const auto channel = detail->find("channel");
                    channel != detail->end() && channel->is_string()) {
                    out << " (" << channel->get<std::string>() << ")";
                }
            }
            out << "\n";
        }
    }
    return out.str();
}

std::string format_action(const nlohmann::json& answer, const std::string& action) {
    const std::string id = text_of(answer, "case_id");
    const auto changed_value = member(answer, "changed");
    const bool changed = changed_value.is_boolean() && changed_value.get<bool>();
    if (action == "note") {
        return "case #" + id + ": note added\n";
    }
    if (!changed) {
        return "case #" + id + ": already " + text_of(answer, "after") + ", nothing changed\n";
    }
    return "case #" + id + ": " + text_of(answer, "before") + " -> " + text_of(answer, "after") +
           "\n";
}

int run_cases(const std::vector<std::string>& args, const cases_options& options, std::ostream& out,
              std::ostream& err) {
    const auto usage = [&err](const std::string& why) {
        err << "hotlinectl cases: " << why
            << "\nusage: hotlinectl cases list [--state S] [--limit N] [--before ID] [--json]\n"
               "       hotlinectl cases show|ack|resolve ID [--note TEXT] [--json]\n"
               "       hotlinectl cases note ID TEXT [--json]\n";
        return 2;
    };
    if (args.empty()) {
        return usage("a subcommand is required");
    }
    const std::string& sub = args[0];
    std::string method = "GET";
    std::string path;
    nlohmann::json body = nullptr;
    if (sub == "list") {
        if (args.size() != 1) {
            return usage("list takes no arguments");
        }
        path = "/v1/cases";
        std::string query;
        const auto add = [&query](const std::string& k, const std::string& v) {
            query += (query.empty() ? "?" : "&") + k + "=" + v;
        };
        if (!options.state.empty()) {
            if (options.state != "open" && options.state != "acknowledged" &&
                options.state != "resolved") {
                return usage("--state must be open, acknowledged or resolved");
            }
            add("state", options.state);
        }
        if (options.limit) {
            if (*options.limit < 1 || *options.limit > 1000) {
                return usage("--limit must be 1 to 1000");
            }
            add("limit", std::to_string(*options.limit));
        }
        if (options.before) {
            if (*options.before < 1) {
                return usage("--before must be a case number");
            }
            add("before", std::to_string(*options.before));
        }
        path += query;
    } else if (sub == "show" || sub == "ack" || sub == "resolve" || sub == "note") {
        const std::size_t want = sub == "note" ? 3 : 2;
        if (args.size() != want) {
            return usage(sub == "note" ? "note takes a case number and the text"
                                       : sub + " takes one case number");
        }
        std::int64_t id = 0;
        if (!parse_case(args[1], id)) {
            return usage("not a case number: \"" + args[1] + "\"");
        }
        path = "/v1/cases/" + std::to_string(id);
        if (sub != "show") {
            method = "POST";
            path += "/" + sub;
            body = nlohmann::json::object();
            const std::string note = sub == "note" ? args[2] : options.note;
            if (sub == "note" && note.empty()) {
                return usage("the note is empty");
            }
            if (!note.empty()) {
                body["note"] = note;
            }
        }
    } else {
        return usage("unknown subcommand \"" + sub + "\"");
    }
    auto client = api_client::open(options.api);
    if (!client) {
        err << "hotlinectl cases: " << client.err().message << "\n";
        return client.err().code == "usage" ? 2 : 1;
    }
    const auto answer = client->call(method, path, body);
    if (!answer) {
        err << "hotlinectl cases " << sub << ": " << answer.err().message << "\n";
        return 1;
    }
    if (options.json) {
        out << answer->body.dump(2) << "\n";
    } else if (sub == "list") {
        out << format_case_list(answer->body);
    } else if (sub == "show") {
        out << format_case(answer->body);
    } else {
        out << format_action(answer->body, sub);
    }
    return 0;
}

}  // namespace hotline::ctl
