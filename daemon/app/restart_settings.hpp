// The settings a SIGHUP cannot change (issue 7, fault 9): every server.* (the listener and
// its limits are set up once) and storage.* but retention (the store is opened once; the
// key as storage.key_id).
// The daemon records the ones it started with in "<storage.path>.running.json" (no secrets:
// paths, numbers and the storage key's id), logs the names that a reload could not apply,
// and `hotlinectl check --diff` compares a config file against that record.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/crypto.hpp"
#include "core/result.hpp"

namespace hotline::app {

// name ("server.port") -> value as text ("8080"), in name order.
using settings_map = std::map<std::string, std::string>;

[[nodiscard]] settings_map restart_settings(const config::config& cfg,
                                            const core::crypto::keyring& keys);

struct changed_setting {
    std::string name;
    std::string running;  // empty when the running daemon did not record it
    std::string file;
};

// The names whose values differ, in name order.
[[nodiscard]] std::vector<changed_setting> restart_changes(const settings_map& running,
                                                           const settings_map& file);

// "server.address, server.port"
[[nodiscard]] std::string join_names(const std::vector<changed_setting>& changes);

// Where the daemon records what it runs with.
[[nodiscard]] std::string running_record_path(const config::config& cfg);

struct running_record {
    std::int64_t pid{};
    std::int64_t started_at{};  // unix ms
    std::string config;         // the config file it was started with
    settings_map settings;
};

// Written 0600 through a temporary file and a rename, so a reader never sees half of it.
[[nodiscard]] core::status write_running_record(const std::string& path, const running_record& r);
// Error codes: "not_found" (no record: the daemon is not running, or never started with this
// storage.path), "config" (not a record this hotline can read).
[[nodiscard]] core::result<running_record> read_running_record(const std::string& path);

}  // namespace hotline::app
