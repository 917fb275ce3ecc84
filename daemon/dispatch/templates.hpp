// Renders a notification's subject and body from its payload with the mustache template
// for the channel type and the recipient's language (config override, else shipped default).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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

// "[HOTLINE #42]": what every outbound notification for case 42 carries in its subject (the
// dispatcher puts it in the payload as "case_tag"; the smtp channel adds it to a subject
// whose template left it out). ingest/threading finds it again in replies.
[[nodiscard]] std::string case_tag(const std::string& prefix, std::int64_t case_id);

// "критический" for "critical", etc.
[[nodiscard]] std::string severity_ru(const std::string& severity);

}  // namespace hotline::dispatch
