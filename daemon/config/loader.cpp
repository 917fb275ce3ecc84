// Loads conf/hotline.yaml and its includes: the yaml_reader reads the files, then each
// top-level key goes to its section reader (the table below), then the finishers and the
// cross-reference checks run over the whole configuration.
#include "config/loader.hpp"

#include <array>
#include <filesystem>
#include <string_view>

#include "config/paths.hpp"
#include "config/sections.hpp"

namespace hotline::config {

namespace {

namespace fs = std::filesystem;

struct section {
    std::string_view key;
    bool once;                // may be set in one file only
    section_reader read;      // nullptr: read before the sections (include, secrets_dir)
    section_finisher finish;  // nullptr: nothing to do once every file is read
};

// The top-level keys, in the order an "unknown key" message lists them.
//
// To add a section (say `schedules:`): add its plain types to model.hpp and a field to
// config::config; write config/schedules.cpp with
//     void read_schedules(load_state&, const document&, const YAML::Node&);
// over the yaml_reader (server.cpp is the smallest example; a finisher
//     void finish_schedules(load_state&, const mark& main_at);
// if it needs the whole configuration), declare them in sections.hpp, list the file in
// CMakeLists.txt and add one row here. Names it uses from other sections go through
// load_state to references.cpp. Within a file, keys are read in key order (not table
// order); finishers run in table order after every file is read. A new kind of source
// (imap, an SMS gateway) is not a top-level key: it is a file and a row in the kind table
// of sources.cpp.
constexpr auto sections = std::to_array<section>({
    {"include", false, nullptr, nullptr},     // yaml_reader::load
    {"secrets_dir", true, nullptr, nullptr},  // read_secrets_dir, before the rest
    {"plugin_dir", true, read_plugin_dir, nullptr},
    {"public_url", true, read_public_url, nullptr},
    {"case_tag_prefix", true, read_case_tag_prefix, nullptr},
    {"ack_links", true, read_ack_links, nullptr},
    {"server", true, read_server, nullptr},
    {"storage", true, read_storage, finish_storage},
    {"logging", true, read_logging, nullptr},
    {"sources", false, read_sources, finish_sources},
    {"channels", false, read_channels, nullptr},
    {"responders", false, read_responders, nullptr},
    {"partners", false, read_partners, nullptr},
    {"admins", false, read_admins, finish_admins},
    {"teams", false, read_teams, nullptr},
    {"schedules", false, read_schedules, finish_oncall},
    {"templates", false, read_templates, nullptr},
    {"time_intervals", false, read_time_intervals, nullptr},
    {"route", true, read_route, finish_routes},
    {"routes", false, read_routes, nullptr},
    {"policies", false, read_policies, finish_policies},
    {"tests", false, read_tests, finish_tests},
    {"checkins", false, read_checkins, nullptr},
});

constexpr auto top_level_keys = [] {
    std::array<std::string_view, sections.size()> keys{};
    for (std::size_t i = 0; i < sections.size(); ++i) {
        keys[i] = sections[i].key;
    }
    return keys;
}();

const section* find_section(std::string_view key) {
    for (const auto& s : sections) {
        if (s.key == key) {
            return &s;
        }
    }
    return nullptr;
}

void read_top(load_state& state, const document& d) {
    if (!d.root.IsDefined() || d.root.IsNull()) {
        return;  // an empty file is allowed
    }
    const auto top = state.yaml.read_map(d, d.root, "", top_level_keys);
    if (!top) {
        return;
    }
    for (const auto& [key, entry] : *top) {
        const auto& [key_node, value] = entry;
        const section* s = find_section(key);
        if (s == nullptr || s->read == nullptr) {
            continue;  // read_map reported unknown keys; the others were read before
        }
        if (s->once && !claim(state, d, key, key_node)) {
            continue;
        }
        s->read(state, d, value);
    }
}

}  // namespace

bool claim(load_state& state, const document& d, const std::string& key,
           const YAML::Node& key_node) {
    const auto [it, fresh] = state.claimed.emplace(key, yaml_reader::at(d, key_node));
    if (!fresh) {
        state.yaml.fail(yaml_reader::at(d, key_node), key,
                        "already set at " + it->second.str() + "; set it in one file only");
    }
    return fresh;
}

load_result load_config(const std::string& path) {
    load_result result;
    load_state state;
    config& cfg = state.cfg;
    yaml_reader& y = state.yaml;
    cfg.file = path;
    std::error_code ec;
    cfg.base_dir = fs::absolute(fs::path(path), ec).parent_path().lexically_normal().string();
    cfg.plugin_dir = default_plugin_dir();
    cfg.secrets_dir = cfg.base_dir;
    cfg.storage.path = (fs::path(cfg.base_dir) / cfg.storage.path).lexically_normal().string();
    y.set_secrets_dir(cfg.secrets_dir);
    try {
        y.load(path);
        if (y.documents().empty()) {
            result.errors = y.take_errors();
            return result;
        }
        read_secrets_dir(state);  // sources and channels read their secrets while being read
        for (const auto& d : y.documents()) {
            read_top(state, d);
        }
        const document& main_doc = y.documents().front();
        const mark main_at = yaml_reader::at(main_doc, main_doc.root);
        for (const auto& s : sections) {
            if (s.finish != nullptr) {
                s.finish(state, main_at);
            }
        }
        check_references(state);
    } catch (const budget_exceeded&) {
        y.add(core::make_error("config",
                               "too many YAML nodes (more than " + std::to_string(max_node_visits) +
                                   "; are aliases expanding?)",
                               path));
    }
    if (y.error_count() != 0) {
        result.errors = y.take_errors();
        return result;
    }
    cfg.route = std::move(*state.root);
    result.cfg = std::make_shared<const config>(std::move(cfg));
    return result;
}

}  // namespace hotline::config
