// `logging:` format and level.
#include "config/sections.hpp"

namespace hotline::config {

void read_logging(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, "logging", {"format", "level"});
    if (!f) {
        return;
    }
    state.cfg.logging.at = y.at(d, node);
    for (const auto& [key, entry] : *f) {
        const std::string path = join("logging", key);
        if (key == "format") {
            assign_if(y.read_enum(d, entry.second, path, {"text", "json"}),
                      state.cfg.logging.format);
        } else if (key == "level") {
            assign_if(
                y.read_enum(d, entry.second, path, {"trace", "debug", "info", "warn", "error"}),
                state.cfg.logging.level);
        }
    }
}

}  // namespace hotline::config
