#include "ctl/checkin.hpp"

#include <algorithm>
#include <cctype>
#include <ostream>

namespace hotline::ctl {
namespace {

constexpr const char* usage_text =
    "usage: hotlinectl checkin start ID [--interval D]\n"
    "       hotlinectl checkin stop ID\n"
    "       hotlinectl checkin list\n";

std::string text_of(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// An enrolled id as the config allows it (letters, digits, '_', '-', '.'), so it can go
// into the path as it is.
bool plain_id(const std::string& id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
    });
}

}  // namespace

std::string format_checkins(const nlohmann::json& checkins) {
    if (!checkins.is_array() || checkins.empty()) {
        return "no defenders enrolled\n";
    }
    std::string out;
    for (const auto& c : checkins) {
        if (!c.is_object()) {
            continue;
        }
        out += text_of(c, "id");
        if (const auto name = text_of(c, "name"); !name.empty()) {
            out += " (" + name + ")";
        }
        out += ": " + text_of(c, "state") + ", every " + text_of(c, "interval") + " + " +
               text_of(c, "grace") + " grace";
        const auto last = text_of(c, "last_checkin");
        out += ", last check-in " + (last.empty() ? std::string("never") : last);
        if (const auto due = text_of(c, "due_at"); !due.empty()) {
            out += ", due " + due;
        }
        if (const auto by = text_of(c, "updated_by"); !by.empty()) {
            out += ", changed by " + by;
        }
        out += "\n";
    }
    return out;
}

int run_checkin(const std::vector<std::string>& args, const checkin_options& options,
                std::ostream& out, std::ostream& err) {
    const std::string verb = args.empty() ? std::string{} : args.front();
    const bool change = verb == "start" || verb == "stop";
    if ((!change && verb != "list") || (verb == "list" && args.size() != 1) ||
        (change && args.size() != 2)) {
        err << usage_text;
        return 2;
    }
    if (!options.interval.empty() && verb != "start") {
        err << "hotlinectl checkin: --interval goes with start only\n" << usage_text;
        return 2;
    }
    std::string method = "GET";
    std::string path = "/v1/checkins";
    nlohmann::json body = nullptr;
    if (change) {
        if (!plain_id(args[1])) {
            err << "hotlinectl checkin: an enrolled id has letters, digits, '_', '-' and '.' "
                   "only\n";
            return 2;
        }
        method = "POST";
        path += "/" + args[1] + "/" + verb;
        body = nlohmann::json::object();
        if (!options.interval.empty()) {
            body["interval"] = options.interval;
        }
    }
    auto client = api_client::open(options.api);
    if (!client) {
        err << "hotlinectl checkin: " << client.err().message << "\n";
        return client.err().code == "usage" ? 2 : 1;
    }
    auto answer = client->call(method, path, body);
    if (!answer) {
        err << "hotlinectl checkin: " << answer.err().message << "\n";
        return 1;
    }
    if (options.json) {
        out << answer->body.dump(2) << "\n";
        return 0;
    }
    if (!answer->body.is_object()) {
        err << "hotlinectl checkin: the daemon's answer is not a JSON object\n";
        return 1;
    }
    if (verb == "list") {
        out << format_checkins(answer->body.value("checkins", nlohmann::json::array()));
        return 0;
    }
    out << "check-ins of " << text_of(answer->body, "id")
        << (verb == "start" ? " started\n" : " stopped\n");
    out << format_checkins(nlohmann::json::array({answer->body}));
    return 0;
}

}  // namespace hotline::ctl
