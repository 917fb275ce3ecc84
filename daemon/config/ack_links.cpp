// `ack_links:` the signed acknowledgement link (dispatch/ack_link): `ttl`, how long a link
// in an alert stays valid (default 7d; 1s to 90d).
#include "config/sections.hpp"

namespace hotline::config {

void read_ack_links(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, "ack_links", {"ttl"});
    if (!f) {
        return;
    }
    state.cfg.ack_links.at = y.at(d, node);
    for (const auto& [key, entry] : *f) {
        const std::string path = join("ack_links", key);
        if (key == "ttl") {
            const auto v = y.read_duration(d, entry.second, path);
            if (!v) {
                continue;
            }
            // Past 90 days a forwarded or leaked alert acts on a case long after anyone
            // remembers it; below a second nobody can click it.
            if (*v < std::chrono::seconds(1) || *v > std::chrono::hours(24 * 90)) {
                y.fail(y.at(d, entry.second), path,
                       "expected a duration from 1s to 90d, got \"" + entry.second.Scalar() + "\"");
                continue;
            }
            state.cfg.ack_links.ttl = *v;
        }
    }
}

}  // namespace hotline::config
