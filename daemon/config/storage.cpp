// `storage:` the SQLite file, group commit size and the key that seals data at rest.
#include "config/sections.hpp"

#include <filesystem>

namespace hotline::config {

void read_storage(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, "storage", {"path", "max_batch", "key_file"});
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
