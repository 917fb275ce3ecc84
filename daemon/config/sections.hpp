// What the section readers share while the files are read, and the readers themselves.
// Internal to config/: the rest of the daemon sees config::load_config (config/loader.hpp).
//
// Each top-level key of conf/hotline.yaml has one reader, in its own file over the
// yaml_reader, listed in the table in loader.cpp. A reader fills state.cfg and, for what
// can only be checked once every file is read (names used before they are declared),
// records the names and references below; references.cpp checks them.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "config/yaml_reader.hpp"
#include "rules/route.hpp"

namespace hotline::config {

struct load_state {
    struct reference {
        std::string name;
        std::string path;  // key path, for the message
        mark at;
    };
    struct notify_reference {
        domain::target target;
        std::string path;
    };

    yaml_reader yaml;
    config cfg;
    std::map<std::string, mark> claimed;  // top-level settings that may appear once
    // routes.cpp: the `route:` root and the `routes:` lists appended to it.
    std::optional<rules::route_node> root;
    std::vector<rules::route_node> extra_routes;
    // For references.cpp.
    std::vector<reference> contact_refs;  // contacts[].channel
    std::vector<notify_reference> notify_refs;
    // routes.cpp: every `policy:` of a route, for the `policies:` reader to check.
    std::vector<reference> policy_refs;
    std::map<std::string, mark> source_names, channel_names;
    std::map<std::string, mark> sms_paths;  // kind: sms paths, unique across sources
    // Ids as written, valid or not, so one bad responder does not also break every reference.
    std::map<std::string, std::map<std::string, mark>> declared_ids;
    std::map<std::pair<std::string, std::string>, mark> template_marks;
    // people.cpp, for finish_admins: where the first `admins:` was written, and whether any
    // was more than an empty list (a bad entry has its own error already).
    std::optional<mark> admins_at;
    bool admins_written{false};
    // people.cpp: api_token_file values seen so far -> ("responders alice", where), so two
    // people with one token is an error naming both places (never the token).
    std::map<std::string, std::pair<std::string, mark>> api_tokens;
    // oncall.cpp, for finish_oncall: responder ids named by teams' and rotations' members
    // and overrides' `who`.
    std::vector<reference> oncall_refs;
    // tests.cpp: test names seen so far (unique across the files).
    std::map<std::string, mark> test_names;
};

// Reads the value of one top-level key found in document `d`.
using section_reader = void (*)(load_state& state, const document& d, const YAML::Node& value);
// Runs once after every file is read, with the main file's root position, for checks and
// defaults that need the whole configuration ("at least one source").
using section_finisher = void (*)(load_state& state, const mark& main_at);

// Records that `key` (a setting that may appear once) is set in `d`; reports and returns
// false when another file set it already. load_config claims every `once` row of its table.
bool claim(load_state& state, const document& d, const std::string& key,
           const YAML::Node& key_node);

// settings.cpp: top-level scalars.
void read_secrets_dir(load_state& state);  // before everything else: secrets are read early
void read_plugin_dir(load_state& state, const document& d, const YAML::Node& value);
void read_public_url(load_state& state, const document& d, const YAML::Node& value);
void read_case_tag_prefix(load_state& state, const document& d, const YAML::Node& value);
// ack_links.cpp: `ack_links:` (the signed link's ttl).
void read_ack_links(load_state& state, const document& d, const YAML::Node& value);
// server.cpp, storage.cpp, logging.cpp
void read_server(load_state& state, const document& d, const YAML::Node& value);
void read_storage(load_state& state, const document& d, const YAML::Node& value);
void finish_storage(load_state& state, const mark& main_at);
void read_logging(load_state& state, const document& d, const YAML::Node& value);
// limits.cpp: a `rate_limits:` map ({source: {rate, burst}, sender: ...}) at `path`; sets
// what it gives.
void read_rate_limits(load_state& state, const document& d, const YAML::Node& node,
                      const std::string& path, std::optional<rate_limit>& source,
                      std::optional<rate_limit>& sender);
// sources.cpp, channels.cpp
void read_sources(load_state& state, const document& d, const YAML::Node& value);
void finish_sources(load_state& state, const mark& main_at);
// source_imap.cpp: the keys of a kind: imap entry (after name, kind, rate_limits).
bool read_imap(load_state& state, const document& d, const yaml_reader::fields& f,
               const std::string& path, source_config& s);
// source_sms.cpp: the keys of a kind: sms entry (after name, kind, rate_limits).
bool read_sms(load_state& state, const document& d, const yaml_reader::fields& f,
              const std::string& path, source_config& s);
void read_channels(load_state& state, const document& d, const YAML::Node& value);
// people.cpp
void read_responders(load_state& state, const document& d, const YAML::Node& value);
void read_partners(load_state& state, const document& d, const YAML::Node& value);
void read_admins(load_state& state, const document& d, const YAML::Node& value);
void finish_admins(load_state& state, const mark& main_at);
// templates.cpp
void read_templates(load_state& state, const document& d, const YAML::Node& value);
// routes.cpp
void read_route(load_state& state, const document& d, const YAML::Node& value);
void read_routes(load_state& state, const document& d, const YAML::Node& value);
void finish_routes(load_state& state, const mark& main_at);
// references.cpp: names used in one section and declared in another.
void check_references(load_state& state);
// time_intervals.cpp: the `time_intervals:` list; resolve_time_intervals binds the names a
// routing tree uses (active/mute_time_intervals, time_interval matchers), from finish_routes.
void read_time_intervals(load_state& state, const document& d, const YAML::Node& value);
void resolve_time_intervals(load_state& state, rules::route_node& root);
// oncall.cpp
void read_teams(load_state& state, const document& d, const YAML::Node& value);
void read_schedules(load_state& state, const document& d, const YAML::Node& value);
void finish_oncall(load_state& state, const mark& main_at);
// policies.cpp: escalation policies; the finisher checks routes' `policy:` names.
void read_policies(load_state& state, const document& d, const YAML::Node& value);
void finish_policies(load_state& state, const mark& main_at);
// tests.cpp: `tests:` of rule files (run by hotlinectl test-rules); the finisher checks
// their report sources.
void read_tests(load_state& state, const document& d, const YAML::Node& value);
void finish_tests(load_state& state, const mark& main_at);
// checkins.cpp: enrolled defenders (their policy and duress_policy go to policy_refs).
void read_checkins(load_state& state, const document& d, const YAML::Node& value);

}  // namespace hotline::config
