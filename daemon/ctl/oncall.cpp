#include "ctl/oncall.hpp"

#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "rules/oncall.hpp"

namespace hotline::ctl {

namespace {

using nlohmann::json;

std::string name_of(const config::config& cfg, const std::string& id) {
    const config::person* p = cfg.find_responder(id);
    return p == nullptr ? id : p->name;
}

// "alice" or "boris (Борис)": the id, and the name when it says more.
std::string who(const config::config& cfg, const std::string& id) {
    const std::string name = name_of(cfg, id);
    return name == id ? id : id + " (" + name + ")";
}

std::string closest(const std::string& given, const std::vector<rules::schedule>& schedules) {
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& s : schedules) {
        const std::size_t d = core::edit_distance(given, s.id);
        if (d < best_distance) {
            best = s.id;
            best_distance = d;
        }
    }
    return best.empty() ? std::string() : "; did you mean \"" + best + "\"?";
}

}  // namespace

oncall_output oncall(const config::config& cfg, const oncall_options& options,
                     std::int64_t now_ms) {
    oncall_output result;
    if (options.days > max_oncall_days) {
        result.exit_code = 2;
        result.err = "hotlinectl oncall: --days must be 0 to " + std::to_string(max_oncall_days) +
                     ", got " + std::to_string(options.days) + "\n";
        return result;
    }
    if (options.at) {
        // Checked once for its shape; a local time is resolved per schedule below.
        const auto t = rules::parse_time(*options.at, "UTC");
        if (!t) {
            result.exit_code = 2;
            result.err = "hotlinectl oncall: --at: " + t.err().message + "\n";
            return result;
        }
    }
    std::vector<const rules::schedule*> chosen;
    for (const auto& s : cfg.schedules) {
        if (options.schedule.empty() || s.id == options.schedule) {
            chosen.push_back(&s);
        }
    }
    if (!options.schedule.empty() && chosen.empty()) {
        result.exit_code = 1;
        result.err = "hotlinectl oncall: unknown schedule \"" + options.schedule + "\"" +
                     closest(options.schedule, cfg.schedules) + "\n";
        return result;
    }
    json doc{{"days", options.days}, {"schedules", json::array()}};
    std::string text;
    if (chosen.empty()) {
        text = "no schedules in " + cfg.file + "\n";
    }
    for (const rules::schedule* s : chosen) {
        std::int64_t at = now_ms;
        if (options.at) {
            at = *rules::parse_time(*options.at, s->time_zone);
        }
        const std::int64_t until = at + static_cast<std::int64_t>(options.days) * rules::day_ms;
        const auto local = [&](std::int64_t t) { return rules::format_time(t, s->time_zone); };
        const auto now = rules::on_call(*s, at);
        json entry{{"id", s->id}, {"time_zone", s->time_zone}, {"at", local(at)},
                   {"at_ms", at}, {"on_call", json::array()},  {"shifts", json::array()}};
        text += (text.empty() ? "" : "\n") + ("schedule " + s->id + " (" + s->time_zone + ", " +
                                              rules::zone_abbreviation(at, s->time_zone) + ")\n");
        std::string people;
        for (const auto& id : now) {
            entry["on_call"].push_back({{"id", id}, {"name", name_of(cfg, id)}});
            people += (people.empty() ? "" : ", ") + who(cfg, id);
        }
        text += "  on call at " + local(at) + ": " + (people.empty() ? "nobody" : people) + "\n";
        if (options.days > 0) {
            const auto list = rules::shifts(*s, at, until);
            text += "  shifts until " + local(until) + ":" + (list.empty() ? " none" : "") + "\n";
            for (const auto& x : list) {
                entry["shifts"].push_back({{"who", x.who},
                                           {"name", name_of(cfg, x.who)},
                                           {"from", local(x.from_ms)},
                                           {"to", local(x.to_ms)},
                                           {"from_ms", x.from_ms},
                                           {"to_ms", x.to_ms},
                                           {"override", x.override_},
                                           {"layer", x.layer}});
                text += "    " + local(x.from_ms) + " .. " + local(x.to_ms) + "  " +
                        who(cfg, x.who) +
                        (x.override_ ? "  override " + std::to_string(x.layer + 1)
                                     : "  rotation " + std::to_string(x.layer + 1)) +
                        "\n";
            }
            if (list.size() == rules::max_shifts) {
                text += "    (only the first " + std::to_string(rules::max_shifts) + " shifts)\n";
                entry["truncated"] = true;
            }
        }
        doc["schedules"].push_back(std::move(entry));
    }
    result.out = options.json ? doc.dump(2) + "\n" : text;
    return result;
}

}  // namespace hotline::ctl
