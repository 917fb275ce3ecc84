// `policies:`: escalation policies (docs/escalation.md). A policy's steps page their
// targets one after the other, each waiting `ack_within` for an acknowledgement.
#include <algorithm>

#include "config/sections.hpp"
#include "rules/route.hpp"

namespace hotline::config {

namespace {

constexpr std::size_t max_steps = 20;
constexpr long long max_repeat = 100;

void read_step(load_state& state, const document& d, const YAML::Node& node,
               const std::string& path, escalation_policy& p) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"targets", "ack_within"});
    if (!f) {
        return;
    }
    policy_step step;
    step.at = y.at(d, node);
    if (const auto it = f->find("targets"); it == f->end()) {
        y.fail(step.at, join(path, "targets"), "missing (whom this step pages)");
    } else if (y.expect_list(d, it->second.second, join(path, "targets"))) {
        const auto& list = it->second.second;
        if (list.size() == 0) {
            y.fail(y.at(d, list), join(path, "targets"), "empty (whom this step pages)");
        }
        std::size_t i = 0;
        for (const auto& item : list) {
            const std::string item_path = index(join(path, "targets"), i++);
            auto spec = y.read_string(d, item, item_path);
            if (!spec) {
                continue;
            }
            auto t = rules::parse_target(*spec, y.at(d, item));
            if (!t) {
                y.add(core::make_error("config", item_path + ": " + t.err().message,
                                       t.err().context));
                continue;
            }
            if (std::find(step.targets.begin(), step.targets.end(), *t) == step.targets.end()) {
                step.targets.push_back(*t);
            }
            state.notify_refs.push_back({std::move(*t), item_path});
        }
    }
    if (const auto it = f->find("ack_within"); it != f->end()) {
        if (auto x = y.read_duration(d, it->second.second, join(path, "ack_within"))) {
            if (*x < std::chrono::seconds(1)) {
                y.fail(y.at(d, it->second.second), join(path, "ack_within"), "must be at least 1s");
            } else {
                step.ack_within = *x;
            }
        }
    }
    p.steps.push_back(std::move(step));
}

}  // namespace

void read_policies(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, value, "policies")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        const std::string path = index("policies", i++);
        const auto f =
            y.read_map(d, item, path, {"id", "steps", "repeat", "ack_timeout", "notify_on"});
        if (!f) {
            continue;
        }
        escalation_policy p;
        p.at = y.at(d, item);
        if (const auto it = f->find("id"); it != f->end()) {
            if (auto x = y.read_identifier(d, it->second.second, join(path, "id"))) {
                p.id = *x;
                const auto [first, fresh] = state.declared_ids["policies"].emplace(p.id, p.at);
                if (!fresh) {
                    y.fail(y.at(d, it->second.second), join(path, "id"),
                           "duplicate id \"" + p.id + "\" (first at " + first->second.str() + ")");
                }
            }
        } else {
            y.fail(p.at, join(path, "id"), "missing (routes name a policy by its id)");
        }
        if (const auto it = f->find("steps"); it == f->end()) {
            y.fail(p.at, join(path, "steps"), "missing (at least one step)");
        } else if (y.expect_list(d, it->second.second, join(path, "steps"))) {
            const auto& steps = it->second.second;
            if (steps.size() == 0) {
                y.fail(y.at(d, steps), join(path, "steps"), "empty (at least one step)");
            } else if (steps.size() > max_steps) {
                y.fail(y.at(d, steps), join(path, "steps"),
                       "too many steps (" + std::to_string(steps.size()) + ", at most " +
                           std::to_string(max_steps) + ")");
            } else {
                std::size_t s = 0;
                for (const auto& step : steps) {
                    read_step(state, d, step, index(join(path, "steps"), s++), p);
                }
            }
        }
        if (const auto it = f->find("repeat"); it != f->end()) {
            assign_if(y.read_integer(d, it->second.second, join(path, "repeat"), 0, max_repeat),
                      p.repeat);
        }
        if (const auto it = f->find("ack_timeout"); it != f->end()) {
            if (auto x = y.read_duration(d, it->second.second, join(path, "ack_timeout"))) {
                if (*x < std::chrono::seconds(1)) {
                    y.fail(y.at(d, it->second.second), join(path, "ack_timeout"),
                           "must be at least 1s (leave it out for never)");
                } else {
                    p.ack_timeout = *x;
                }
            }
        }
        if (const auto it = f->find("notify_on"); it != f->end()) {
            const auto& list = it->second.second;
            if (y.expect_list(d, list, join(path, "notify_on"))) {
                std::size_t n = 0;
                for (const auto& v : list) {
                    if (auto x = y.read_enum(d, v, index(join(path, "notify_on"), n++),
                                             {"ack", "resolve"})) {
                        (*x == "ack" ? p.notify_on_ack : p.notify_on_resolve) = true;
                    }
                }
            }
        }
        state.cfg.policies.push_back(std::move(p));
    }
}

void finish_policies(load_state& state, const mark& /*main_at*/) {
    const auto& ids = state.declared_ids["policies"];
    for (const auto& ref : state.policy_refs) {
        if (ids.count(ref.name) == 0) {
            std::vector<std::string> names;
            for (const auto& [id, where] : ids) {
                names.push_back(id);
            }
            state.yaml.fail(ref.at, ref.path,
                            "unknown policy \"" + ref.name + "\"" + suggest(ref.name, names));
        }
    }
}

}  // namespace hotline::config
