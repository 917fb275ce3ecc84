// libFuzzer target for message templates (mustache, kainjow): the input is a subject
// template, a body template and a JSON payload separated by "--8<--" lines. The templates
// are checked as the config loader checks them (validate_templates); a valid pair is
// rendered with the payload as the dispatcher renders an alert (also with the payload as
// a dead letter, and for a language with no template of its own). Checks: no crash, no
// escaping exception, the subject is one line, and valid UTF-8 in (templates and payload)
// gives valid UTF-8 out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "core/utf8.hpp"
#include "dispatch/templates.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parts = fuzz::split_parts(input, 3);
    config::config cfg;
    config::message_template t;
    t.subject = std::string(parts[0]);
    t.body = parts.size() > 1 ? std::string(parts[1]) : std::string{};
    cfg.templates["webhook"]["en"] = t;
    cfg.templates["dead_letter"]["en"] = t;
    if (!dispatch::validate_templates(cfg).empty()) {
        return 0;
    }
    auto payload = nlohmann::json::object();
    if (parts.size() > 2) {
        auto parsed = nlohmann::json::parse(parts[2], nullptr, /*allow_exceptions=*/false);
        if (parsed.is_object()) {
            payload = std::move(parsed);
        }
    }
    const bool utf8_in = core::is_valid_utf8(t.subject) && core::is_valid_utf8(t.body) &&
                         core::is_valid_utf8(parts.size() > 2 ? parts[2] : std::string_view{});
    for (const char* language : {"en", "ru", "xx"}) {
        for (const char* kind : {"alert", "dead_letter"}) {
            payload["kind"] = kind;
            const auto out = dispatch::render(cfg, "webhook", language, payload);
            require(out.subject.find_first_of("\r\n") == std::string::npos);
            if (utf8_in) {
                require(core::is_valid_utf8(out.subject) && core::is_valid_utf8(out.body));
            }
        }
    }
    return 0;
}
