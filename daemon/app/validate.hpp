// Loading a config the way hotlined and hotlinectl both need it: parse and validate the
// YAML, then instantiate every channel plugin and check every contact address and template.
// Used at startup, on SIGHUP and by `hotlinectl check`, so all three give the same verdict.
// It also reads storage.key_file: a config whose key cannot be read is not usable.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/crypto.hpp"
#include "dispatch/dispatcher.hpp"

namespace hotline::app {

struct loaded_config {
    std::shared_ptr<const config::config> cfg;
    dispatch::channel_map channels;
    // The storage key (current key only): what store::open needs to seal and open rows.
    std::shared_ptr<const core::crypto::keyring> keys;
    std::vector<core::error> errors;  // empty when cfg is usable
};

[[nodiscard]] loaded_config load_and_validate(const std::string& path);

// "config OK: 1 sources, 2 channels, 2 responders, 1 partners, 1 admins, 5 routes"
[[nodiscard]] std::string summary(const config::config& cfg);

// One error per line, "file:line:column: message".
[[nodiscard]] std::string format_errors(const std::vector<core::error>& errors);

}  // namespace hotline::app
