// Renders a notification's subject and body from its payload with the mustache template
// for the channel type and the recipient's language (config override, else shipped default).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "core/result.hpp"

namespace hotline::dispatch {

struct rendered {
    std::string subject;
    std::string body;
};

[[nodiscard]] rendered render(const config::config& cfg, const std::string& channel_type,
                              const std::string& language, const nlohmann::json& payload);

// Checks that every configured template parses; errors carry the template's mark.
[[nodiscard]] std::vector<core::error> validate_templates(const config::config& cfg);

// "критический" for "critical", etc.
[[nodiscard]] std::string severity_ru(const std::string& severity);

}  // namespace hotline::dispatch
