// Renders a notification's subject and body from its payload with the mustache template
// for the channel type and the recipient's language (config override, else shipped default).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "core/result.hpp"
#include "dispatch/sms_text.hpp"

namespace hotline::dispatch {

struct rendered {
    std::string subject;
    std::string body;
};

[[nodiscard]] rendered render(const config::config& cfg, const std::string& channel_type,
                              const std::string& language, const nlohmann::json& payload);

// An SMS channel's message (the channel's plugin is_sms()): the template of its type if
// configured, else templates.sms / the shipped "sms" default ("sms_dead_letter" for a dead
// letter); rendered, transliterated when the channel asks, and fitted to its max_segments by
// shortening the report text, then the subject; kind cut when even empty ones do not fit.
struct sms_rendered {
    std::string body;
    sms::analysis info;
    sms::fit_kind kind{sms::fit_kind::whole};
};

[[nodiscard]] sms_rendered render_sms(const config::config& cfg,
                                      const config::channel_config& channel,
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
