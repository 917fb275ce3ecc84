// `storage:` the SQLite file, group commit size, the key that seals data at rest and how
// long report contents are kept.
#include "config/sections.hpp"

#include <filesystem>

namespace hotline::config {

namespace {

// Purging is irreversible: a period shorter than a day is far more likely a typo (180m for
// 180d) than a policy, so it is refused rather than obeyed.
constexpr duration min_retention = std::chrono::hours(24);

void read_retention(load_state& state, const document& d, const YAML::Node& node,
                    const std::string& path) {
    yaml_reader& y = state.yaml;
    if (node.IsScalar() && node.Scalar() == "off") {
        state.cfg.storage.retention = duration{0};
        return;
    }
    const auto period = y.read_duration(d, node, path);
    if (!period) {
        return;
    }
    if (*period < min_retention) {
        y.fail(y.at(d, node), path,
               "must be at least 1d (or off): purged contents cannot be brought back");
        return;
    }
    state.cfg.storage.retention = *period;
}

}  // namespace

void read_storage(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, "storage", {"path", "max_batch", "key_file", "retention"});
    if (!f) {
        return;
    }
    state.cfg.storage.at = y.at(d, node);
    for (const auto& [key, entry] : *f) {
        const std::string path = join("storage", key);
        if (key == "path") {
            if (auto x = y.read_string(d, entry.second, path)) {
                state.cfg.storage.path = yaml_reader::resolve(d, *x);
            }
        } else if (key == "max_batch") {
            assign_if(y.read_integer(d, entry.second, path, 1, 100'000),
                      state.cfg.storage.max_batch);
        } else if (key == "key_file") {
            assign_if(y.read_string(d, entry.second, path), state.cfg.storage.key_file);
        } else if (key == "retention") {
            read_retention(state, d, entry.second, path);
        }
    }
}

void finish_storage(load_state& state, const mark& /*main_at*/) {
    // After every file: secrets_dir may be set in any of them, and $CREDENTIALS_DIRECTORY
    // wins over it.
    if (const std::filesystem::path key(state.cfg.storage.key_file); !key.is_absolute()) {
        state.cfg.storage.key_file =
            (std::filesystem::path(state.cfg.secrets_dir) / key).lexically_normal().string();
    }
}

}  // namespace hotline::config
