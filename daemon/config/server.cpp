// `server:` the HTTP listener (address, port, body and time limits, the submit deadline).
#include "config/sections.hpp"

namespace hotline::config {

void read_server(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, "server",
                              {"address", "port", "body_limit", "read_timeout", "idle_timeout",
                               "max_connections", "submit_timeout"});
    if (!f) {
        return;
    }
    auto& s = state.cfg.server;
    s.at = y.at(d, node);
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string path = join("server", key);
        if (key == "address") {
            assign_if(y.read_string(d, v, path), s.listen_address);
        } else if (key == "port") {
            assign_if(y.read_integer(d, v, path, 0, 65535), s.port);
        } else if (key == "body_limit") {
            assign_if(y.read_size(d, v, path), s.body_limit);
        } else if (key == "read_timeout") {
            assign_if(y.read_duration(d, v, path), s.read_timeout);
        } else if (key == "idle_timeout") {
            assign_if(y.read_duration(d, v, path), s.idle_timeout);
        } else if (key == "submit_timeout") {
            assign_if(y.read_duration(d, v, path), s.submit_timeout);
        } else if (key == "max_connections") {
            assign_if(y.read_integer(d, v, path, 1, 1'000'000), s.max_connections);
        }
    }
}

}  // namespace hotline::config
