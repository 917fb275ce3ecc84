// Loads conf/hotline.yaml and its includes into config::config (docs/configuration.md).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace hotline::config {

// Loads and validates the main file and its includes. Either a config, or every error
// found (each "file:line:column: key.path: message"), never both.
struct load_result {
    std::shared_ptr<const config> cfg;
    std::vector<error> errors;
};
[[nodiscard]] load_result load_config(const std::string& path);

}  // namespace hotline::config
