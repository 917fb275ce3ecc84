#include "ctl/silence.hpp"

#include <charconv>
#include <cstdlib>
#include <ostream>

namespace hotline::ctl {
namespace {

constexpr const char* usage_text =
    "usage: hotlinectl silence add MATCHER... (--duration D | --until TIME) --comment TEXT\n"
    "       hotlinectl silence list [--all]\n"
    "       hotlinectl silence expire ID\n";

std::string text_of(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

int fail(std::ostream& err, const core::error& e) {
    err << "hotlinectl silence: " << e.message << "\n";
    return e.code == "usage" ? 2 : 1;
}

}  // namespace

core::result<nlohmann::json> silence_add_body(const std::vector<std::string>& matchers,
                                              const silence_options& options) {
    if (matchers.empty()) {
        return core::make_error("usage",
                                "add needs at least one MATCHER, like "
                                "'sender = \"+79001234567\"'");
    }
    if (options.duration.empty() == options.until.empty()) {
        return core::make_error("usage", "add needs either --duration (like 2h) or --until TIME");
    }
    if (options.comment.empty()) {
        return core::make_error("usage", "add needs --comment TEXT (why, for the audit trail)");
    }
    nlohmann::json body{{"matchers", matchers}, {"comment", options.comment}};
    if (!options.duration.empty()) {
        body["duration"] = options.duration;
    } else {
        body["ends_at"] = options.until;
    }
    return body;
}

std::string format_silences(const nlohmann::json& silences) {
    if (!silences.is_array() || silences.empty()) {
        return "no silences\n";
    }
    std::string out;
    for (const auto& s : silences) {
        if (!s.is_object()) {
            continue;
        }
        const auto id = s.value("id", std::int64_t{0});
        out += "silence " + std::to_string(id) + " (" + text_of(s, "state") + ") " +
               text_of(s, "starts_at") + " .. " + text_of(s, "ends_at") + " by " +
               text_of(s, "author") + "\n";
        if (const auto m = s.find("matchers"); m != s.end() && m->is_array()) {
            for (const auto& one : *m) {
                if (one.is_string()) {
                    out += "  " + one.get<std::string>() + "\n";
                }
            }
        }
        out += "  comment: " + text_of(s, "comment") + "\n";
        if (!text_of(s, "expired_at").empty()) {
            out +=
                "  expired " + text_of(s, "expired_at") + " by " + text_of(s, "expired_by") + "\n";
        }
    }
    return out;
}

int run_silence(const std::vector<std::string>& args, const silence_options& options,
                std::ostream& out, std::ostream& err) {
    const std::string verb = args.empty() ? std::string{} : args.front();
    if (verb != "add" && verb != "list" && verb != "expire") {
        err << usage_text;
        return 2;
    }
    if ((verb == "list" && args.size() != 1) || (verb == "expire" && args.size() != 2)) {
        err << usage_text;
        return 2;
    }
    std::string path;
    std::string method = "POST";
    nlohmann::json body = nullptr;
    if (verb == "add") {
        auto made = silence_add_body({args.begin() + 1, args.end()}, options);
        if (!made) {
            err << "hotlinectl silence: " << made.err().message << "\n" << usage_text;
            return 2;
        }
        body = std::move(*made);
        path = "/v1/silences";
    } else if (verb == "list") {
        method = "GET";
        path = options.all ? "/v1/silences?all=true" : "/v1/silences";
    } else {
        const std::string& id = args[1];
        std::int64_t n = 0;
        const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
        if (ec != std::errc{} || end != id.data() + id.size() || n <= 0) {
            err << "hotlinectl silence: expire needs a silence number, got \"" << id << "\"\n";
            return 2;
        }
        path = "/v1/silences/" + std::to_string(n) + "/expire";
    }
    auto client = api_client::open(options.api);
    if (!client) {
        return fail(err, client.err());
    }
    auto answer = client->call(method, path, body);
    if (!answer) {
        return fail(err, answer.err());
    }
    if (options.json) {
        out << answer->body.dump(2) << "\n";
        return 0;
    }
    if (!answer->body.is_object()) {
        err << "hotlinectl silence: the daemon's answer is not a JSON object\n";
        return 1;
    }
    if (verb == "list") {
        out << format_silences(answer->body.value("silences", nlohmann::json::array()));
        return 0;
    }
    const auto id = answer->body.value("id", std::int64_t{0});
    if (verb == "add") {
        out << "silence " << id << " added\n";
    } else if (answer->body.value("changed", false)) {
        out << "silence " << id << " expired\n";
    } else {
        out << "silence " << id << " was over already; nothing changed\n";
    }
    out << format_silences(nlohmann::json::array({answer->body}));
    return 0;
}

}  // namespace hotline::ctl
