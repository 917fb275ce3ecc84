// `checkins:` defenders on risky trips who must check in every `interval` (docs/escalation.md,
// "Check-ins and duress"). Each entry: id, name, phone (E.164), language, interval, grace,
// policy (a missed check-in), duress_policy, pin_file, duress_pin_file. PINs are secrets read
// from files (never inline, never quoted in a message): 4 to 12 digits, and the two differ.
#include <algorithm>
#include <cctype>
#include <string_view>

#include "config/sections.hpp"

namespace hotline::config {

namespace {

constexpr std::size_t min_pin_digits = 4;
constexpr std::size_t max_pin_digits = 12;

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "+" and 8 to 15 digits, the first not 0 (ITU-T E.164): what the SMS intake compares the
// sender of a check-in with.
bool is_e164(std::string_view s) {
    return s.size() >= 9 && s.size() <= 16 && s.front() == '+' && s[1] != '0' &&
           all_digits(s.substr(1));
}

void read_pin(load_state& state, const document& d, const YAML::Node& v,
              const std::string& key_path, std::string& out) {
    yaml_reader& y = state.yaml;
    auto sec = y.read_secret(d, v, key_path);
    if (!sec) {
        return;
    }
    if (!all_digits(sec->value) || sec->value.size() < min_pin_digits ||
        sec->value.size() > max_pin_digits) {
        y.fail(y.at(d, v), key_path,
               "the PIN in \"" + sec->file + "\" must be " + std::to_string(min_pin_digits) +
                   " to " + std::to_string(max_pin_digits) + " digits");
        return;
    }
    out = std::move(sec->value);
}

void read_policy_ref(load_state& state, const document& d, const YAML::Node& v,
                     const std::string& key_path, std::string& out) {
    yaml_reader& y = state.yaml;
    if (auto x = y.read_identifier(d, v, key_path)) {
        out = *x;
        state.policy_refs.push_back({*x, key_path, y.at(d, v)});
    }
}

void read_entry(load_state& state, const document& d, const YAML::Node& item,
                const std::string& path) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, item, path,
                              {"id", "name", "phone", "language", "interval", "grace", "policy",
                               "duress_policy", "pin_file", "duress_pin_file"});
    if (!f) {
        return;
    }
    checkin_enrollment c;
    c.at = y.at(d, item);
    for (const char* required : {"id", "phone", "policy"}) {
        if (f->find(required) == f->end()) {
            y.fail(c.at, join(path, required), "missing");
        }
    }
    mark duress_pin_at = c.at;
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "id") {
            if (auto x = y.read_identifier(d, v, key_path)) {
                c.id = *x;
                const auto [first, fresh] = state.declared_ids["checkins"].emplace(c.id, c.at);
                if (!fresh) {
                    y.fail(y.at(d, v), key_path,
                           "duplicate id \"" + c.id + "\" (first at " + first->second.str() + ")");
                }
            }
        } else if (key == "name") {
            assign_if(y.read_string(d, v, key_path), c.name);
        } else if (key == "phone") {
            if (auto x = y.read_string(d, v, key_path)) {
                if (is_e164(*x)) {
                    c.phone = *x;
                } else {
                    // Never echo the value: it may be a real number written slightly wrong.
                    y.fail(y.at(d, v), key_path,
                           "expected an E.164 number: + and 8 to 15 digits, no spaces");
                }
            }
        } else if (key == "language") {
            assign_if(y.read_enum(d, v, key_path, {"en", "ru"}), c.language);
        } else if (key == "interval" || key == "grace") {
            // read_duration refuses zero and negative ones.
            assign_if(y.read_duration(d, v, key_path), key == "interval" ? c.interval : c.grace);
        } else if (key == "policy") {
            read_policy_ref(state, d, v, key_path, c.policy);
        } else if (key == "duress_policy") {
            read_policy_ref(state, d, v, key_path, c.duress_policy);
        } else if (key == "pin_file") {
            read_pin(state, d, v, key_path, c.pin);
        } else if (key == "duress_pin_file") {
            duress_pin_at = y.at(d, v);
            read_pin(state, d, v, key_path, c.duress_pin);
        }
    }
    if (!c.duress_pin.empty() && c.duress_policy.empty()) {
        y.fail(duress_pin_at, join(path, "duress_policy"),
               "missing (a duress PIN needs the policy it opens a case through)");
    }
    if (!c.duress_pin.empty() && c.duress_pin == c.pin) {
        y.fail(duress_pin_at, join(path, "duress_pin_file"),
               "the duress PIN must differ from the PIN");
    }
    if (!c.phone.empty()) {
        for (const auto& other : state.cfg.checkins) {
            if (other.phone == c.phone) {
                y.fail(c.at, join(path, "phone"),
                       "the same phone as checkins entry \"" + other.id + "\" (at " +
                           other.at.str() + "); a number checks in for one defender");
            }
        }
    }
    state.cfg.checkins.push_back(std::move(c));
}

}  // namespace

void read_checkins(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, value, "checkins")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : value) {
        read_entry(state, d, item, index("checkins", i++));
    }
}

}  // namespace hotline::config
