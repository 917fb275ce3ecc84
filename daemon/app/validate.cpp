#include "app/validate.hpp"
#include "config/loader.hpp"

#include "dispatch/templates.hpp"

namespace hotline::app {
namespace {

std::size_t count_routes(const rules::route_node& n) {
    std::size_t total = 1;
    for (const auto& child : n.routes) {
        total += count_routes(child);
    }
    return total;
}

}  // namespace

loaded_config load_and_validate(const std::string& path) {
    loaded_config out;
    auto loaded = config::load_config(path);
    if (!loaded.errors.empty() || !loaded.cfg) {
        out.errors = std::move(loaded.errors);
        if (out.errors.empty()) {
            out.errors.push_back(core::make_error("config", "could not load", path));
        }
        return out;
    }
    std::vector<core::error> errors = dispatch::validate_templates(*loaded.cfg);
    dispatch::plugin_host host(loaded.cfg->plugin_dir);
    auto channels = host.instantiate(*loaded.cfg, &errors);
    // The key is checked here, not when the store opens, so that `hotlinectl check` and a
    // SIGHUP reload refuse a config whose key file is missing or too open, as startup does.
    auto key = core::crypto::load_key(loaded.cfg->storage.key_file);
    if (!key) {
        errors.push_back(key.err());
    }
    if (!errors.empty()) {
        out.errors = std::move(errors);
        return out;
    }
    if (!channels) {
        out.errors.push_back(channels.err());
        return out;
    }
    out.cfg = std::move(loaded.cfg);
    out.channels = std::move(*channels);
    out.keys = std::make_shared<const core::crypto::keyring>(std::move(*key));
    return out;
}

std::string summary(const config::config& cfg) {
    return "config OK: " + std::to_string(cfg.sources.size()) + " sources, " +
           std::to_string(cfg.channels.size()) + " channels, " +
           std::to_string(cfg.responders.size()) + " responders, " +
           std::to_string(cfg.partners.size()) + " partners, " + std::to_string(cfg.admins.size()) +
           " admins, " + std::to_string(count_routes(cfg.route)) + " routes";
}

std::string format_errors(const std::vector<core::error>& errors) {
    std::string out;
    for (const auto& e : errors) {
        out += e.describe() + "\n";
    }
    return out;
}

}  // namespace hotline::app
