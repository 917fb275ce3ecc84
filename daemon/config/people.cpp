// `responders:`, `partners:` and `admins:` people with contacts; partners also say which
// report fields they may see.
#include "config/sections.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace hotline::config {

namespace {

// The shortest API token accepted: a person's token opens the cases and silences API, so a
// short one could be guessed.
constexpr std::size_t min_api_token_size = 16;

// `api_token_file:` of a responder or admin: the bearer token of the cases and silences API
// (http/auth.hpp person_checker). Messages never quote the token.
void read_api_token(load_state& state, const document& d, const YAML::Node& v,
                    const std::string& key_path, const std::string& section, person& p) {
    yaml_reader& y = state.yaml;
    auto sec = y.read_secret(d, v, key_path);
    if (!sec) {
        return;
    }
    const mark at = y.at(d, v);
    if (sec->value.size() < min_api_token_size) {
        y.fail(at, key_path,
               "the token in \"" + sec->file + "\" is shorter than " +
                   std::to_string(min_api_token_size) +
                   " characters (generate one with: head -c 32 /dev/urandom | base64)");
        return;
    }
    const std::string who = section + " " + (p.id.empty() ? "?" : p.id);
    const auto [first, fresh] = state.api_tokens.emplace(sec->value, std::make_pair(who, at));
    if (!fresh) {
        y.fail(at, key_path,
               "the same API token as " + first->second.first + " (at " +
                   first->second.second.str() + "); every person needs a token of their own");
        return;
    }
    p.api_token = std::move(sec->value);
}

void read_people(load_state& state, const document& d, const YAML::Node& node,
                 const std::string& section, std::vector<person>& out) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, node, section)) {
        return;
    }
    const bool is_partner = section == "partners";
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index(section, i++);
        // Partners are organisations told about cases; only responders and admins act on
        // them through the API, so only they take an api_token_file.
        const auto f =
            is_partner
                ? y.read_map(d, item, path,
                             {"id", "name", "language", "timezone", "contacts", "sees"})
                : y.read_map(d, item, path,
                             {"id", "name", "language", "timezone", "contacts", "api_token_file"});
        if (!f) {
            continue;
        }
        person p;
        p.at = y.at(d, item);
        const std::size_t errors_before = y.error_count();
        if (const auto it = f->find("id"); it != f->end()) {
            if (auto x = y.read_identifier(d, it->second.second, join(path, "id"))) {
                p.id = *x;
                const auto [first, fresh] = state.declared_ids[section].emplace(p.id, p.at);
                if (!fresh) {
                    y.fail(y.at(d, it->second.second), join(path, "id"),
                           "duplicate id \"" + p.id + "\" (first at " + first->second.str() + ")");
                }
            }
        } else {
            y.fail(p.at, join(path, "id"), "missing (every entry needs an id)");
        }
        for (const auto& [key, entry] : *f) {
            const YAML::Node& v = entry.second;
            const std::string key_path = join(path, key);
            if (key == "name") {
                assign_if(y.read_string(d, v, key_path), p.name);
            } else if (key == "language") {
                if (auto x = y.read_enum(d, v, key_path, {"en", "ru"})) {
                    p.language = *x;
                }
            } else if (key == "timezone") {
                if (auto x = y.read_string(d, v, key_path)) {
                    const bool plausible =
                        x->find("..") == std::string::npos && x->front() != '/' &&
                        std::all_of(x->begin(), x->end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' ||
                                   c == '_' || c == '-' || c == '+';
                        });
                    if (plausible) {
                        p.timezone = *x;
                    } else {
                        y.fail(y.at(d, v), key_path,
                               "expected a time zone like Europe/Berlin, got " + describe(v));
                    }
                }
            } else if (key == "api_token_file") {
                read_api_token(state, d, v, key_path, section, p);
            } else if (key == "sees") {
                if (y.expect_list(d, v, key_path)) {
                    std::size_t k = 0;
                    for (const auto& field : v) {
                        if (auto x = y.read_enum(d, field, index(key_path, k),
                                                 {"subject", "text", "sender", "labels"})) {
                            p.sees.insert(*x);
                        }
                        ++k;
                    }
                }
            } else if (key == "contacts") {
                if (y.expect_list(d, v, key_path)) {
                    std::size_t k = 0;
                    for (const auto& c : v) {
                        const std::string contact_path = index(key_path, k++);
                        const auto cf = y.read_map(d, c, contact_path, {"channel", "address"});
                        if (!cf) {
                            continue;
                        }
                        contact ct;
                        ct.at = y.at(d, c);
                        for (const char* required : {"channel", "address"}) {
                            const auto it = cf->find(required);
                            if (it == cf->end()) {
                                y.fail(ct.at, join(contact_path, required), "missing");
                                continue;
                            }
                            if (auto x = y.read_string(d, it->second.second,
                                                       join(contact_path, required))) {
                                (std::string_view(required) == "channel" ? ct.channel
                                                                         : ct.address) = *x;
                                if (std::string_view(required) == "channel") {
                                    state.contact_refs.push_back({*x, join(contact_path, required),
                                                                  y.at(d, it->second.second)});
                                }
                            }
                        }
                        p.contacts.push_back(std::move(ct));
                    }
                }
                if (v.IsSequence() && v.size() == 0) {
                    y.fail(y.at(d, v), key_path, "must list at least one contact");
                }
            }
        }
        if (f->find("contacts") == f->end()) {
            y.fail(p.at, join(path, "contacts"),
                   "missing (at least one {channel, address} is needed)");
        }
        if (p.name.empty()) {
            p.name = p.id;
        }
        if (y.error_count() == errors_before) {
            out.push_back(std::move(p));
        }
    }
}

}  // namespace

void read_responders(load_state& state, const document& d, const YAML::Node& value) {
    read_people(state, d, value, "responders", state.cfg.responders);
}

void read_partners(load_state& state, const document& d, const YAML::Node& value) {
    read_people(state, d, value, "partners", state.cfg.partners);
}

void read_admins(load_state& state, const document& d, const YAML::Node& value) {
    if (!state.admins_at) {
        state.admins_at = yaml_reader::at(d, value);
    }
    state.admins_written = state.admins_written || !value.IsSequence() || value.size() > 0;
    read_people(state, d, value, "admins", state.cfg.admins);
}

void finish_admins(load_state& state, const mark& main_at) {
    // Dead letters (a notification none of a target's contacts could deliver) go to the
    // admins: without one, such an alert would reach nobody (issue 7, fault 10). An entry
    // with errors of its own still counts, so one typo gives one message, not two.
    if (!state.admins_written) {
        state.yaml.fail(state.admins_at.value_or(main_at), "admins",
                        "at least one admin is required (dead letters, the notifications no "
                        "contact could deliver, are sent to the admins)");
    }
}

}  // namespace hotline::config
