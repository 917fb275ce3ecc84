#include "dispatch/templates.hpp"

#include <kainjow/mustache.hpp>

#include <memory>
#include <unordered_map>

namespace hotline::dispatch {
namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

// Messages are plain text (email text/plain, SMS, JSON strings): no HTML escaping.
std::string no_escape(const std::string& s) {
    return s;
}

std::string scalar_text(const nlohmann::json& v) {
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_null()) {
        return {};
    }
    return v.dump();
}

data make_context(const nlohmann::json& payload, const std::string& public_url) {
    data ctx{data::type::object};
    for (const auto& [key, value] : payload.items()) {
        if (value.is_boolean()) {
            // A real boolean, so {{#update}} ... {{/update}} is skipped for false (the
            // text "false" would be non-empty and open the section).
            ctx.set(key, data{value.get<bool>()});
        } else if (!value.is_object() && !value.is_array()) {
            const auto text = scalar_text(value);
            if (!text.empty()) {
                ctx.set(key, text);
            }
        }
    }
    const auto severity = payload.value("severity", std::string{"normal"});
    ctx.set("severity", severity);
    ctx.set("severity_ru", severity_ru(severity));
    std::string labels_text;
    if (const auto it = payload.find("labels"); it != payload.end() && it->is_object()) {
        for (const auto& [k, v] : it->items()) {
            labels_text += (labels_text.empty() ? "" : ", ") + k + "=" + scalar_text(v);
        }
    }
    if (!labels_text.empty()) {
        ctx.set("labels_text", labels_text);
    }
    if (!public_url.empty()) {
        ctx.set("public_url", public_url);
    }
    return ctx;
}

const config::message_template& pick(const config::config& cfg, const std::string& kind,
                                     const std::string& language) {
    if (const auto t = cfg.templates.find(kind); t != cfg.templates.end()) {
        if (const auto l = t->second.find(language); l != t->second.end()) {
            return l->second;
        }
        if (const auto en = t->second.find("en"); en != t->second.end()) {
            return en->second;
        }
    }
    return config::default_template(kind, language);
}

sms_rendered fit_sms(const config::message_template& tmpl, const config::config& cfg,
                     const config::channel_config& channel, const nlohmann::json& payload);

// A template is parsed once per thread and text, not once per notification: parsing was
// two thirds of a webhook's render (issue 11's profile). The texts are the configured and
// shipped templates, so the cache stays small; it starts over if a long run of reloads
// with edited templates ever fills it.
mustache& compiled(const std::string& text) {
    constexpr std::size_t max_cached = 256;
    thread_local std::unordered_map<std::string, std::unique_ptr<mustache>> cache;
    if (const auto it = cache.find(text); it != cache.end()) {
        return *it->second;
    }
    if (cache.size() >= max_cached) {
        cache.clear();
    }
    auto tmpl = std::make_unique<mustache>(text);
    tmpl->set_custom_escape(no_escape);
    return *cache.emplace(text, std::move(tmpl)).first->second;
}

std::string render_one(const std::string& text, const data& ctx) {
    mustache& tmpl = compiled(text);
    if (!tmpl.is_valid()) {
        return text;  // validated at load; never reached with a checked config
    }
    return tmpl.render(ctx);
}

}  // namespace

std::string case_tag(const std::string& prefix, std::int64_t case_id) {
    return "[" + prefix + " #" + std::to_string(case_id) + "]";
}

std::string severity_ru(const std::string& severity) {
    if (severity == "critical") {
        return "критическая";
    }
    if (severity == "high") {
        return "высокая";
    }
    if (severity == "low") {
        return "низкая";
    }
    return "обычная";
}

rendered render(const config::config& cfg, const std::string& channel_type,
                const std::string& language, const nlohmann::json& payload) {
    const auto kind = payload.value("kind", std::string{});
    if (kind == "receipt") {
        // An SMS receipt to a reporter (ingest/sms_intake): the configured text, as it is.
        return rendered{"", payload.value("text", std::string{})};
    }
    const bool notice = kind == "dead_letter" || kind == "bad_address" || kind == "case_notice" ||
                        kind == "escalation_exhausted";
    const auto& tmpl = pick(cfg, notice ? kind : channel_type, language);
    const auto ctx = make_context(payload, cfg.public_url);
    rendered out{render_one(tmpl.subject, ctx), render_one(tmpl.body, ctx)};
    // A subject is one line: a report subject with a line break must not split it.
    for (char& c : out.subject) {
        if (c == '\r' || c == '\n') {
            c = ' ';
        }
    }
    return out;
}

sms_rendered render_sms(const config::config& cfg, const config::channel_config& channel,
                        const std::string& language, const nlohmann::json& payload) {
    const auto payload_kind = payload.value("kind", std::string{});
    if (payload_kind == "receipt") {
        // A receipt to a reporter (ingest/sms_intake): the source's configured text as it is,
        // no template around it (no case number on the reporter's phone).
        const auto fitted = sms::fit_rendered(
            [&](std::string_view t) {
                return channel.transliterate ? sms::transliterate(std::string{t}) : std::string{t};
            },
            payload.value("text", std::string{}), channel.max_segments);
        return sms_rendered{fitted.text, fitted.info, fitted.kind};
    }
    const bool dead_letter = payload_kind == "dead_letter";
    const std::string kind = payload_kind == "bad_address"            ? "sms_bad_address"
                             : dead_letter                            ? "sms_dead_letter"
                             : payload_kind == "case_notice"          ? "sms_case_notice"
                             : payload_kind == "escalation_exhausted" ? "sms_escalation_exhausted"
                             : cfg.templates.contains(channel.type)   ? channel.type
                                                                      : "sms";
    const auto& tmpl = pick(cfg, kind, language);
    const auto fit_payload = [&](const nlohmann::json& p) {
        return fit_sms(tmpl, cfg, channel, p);
    };
    if (!payload.contains("ack_url")) {
        return fit_payload(payload);
    }
    // The signed link costs ~100 characters: it rides only in room the message has anyway
    // (no extra segment, no report text shortened for it); else the SMS says "reply ACK".
    auto without = payload;
    without.erase("ack_url");
    auto plain = fit_payload(without);
    auto linked = fit_payload(payload);
    if (linked.kind == sms::fit_kind::whole && linked.info.segments <= plain.info.segments) {
        return linked;
    }
    return plain;
}

namespace {

sms_rendered fit_sms(const config::message_template& tmpl, const config::config& cfg,
                     const config::channel_config& channel, const nlohmann::json& payload) {
    const auto text_of = [&](const char* key) {
        const auto it = payload.find(key);
        return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    const std::string text = text_of("text");
    const std::string subject = text_of("subject");
    const auto render_with = [&](std::string_view new_text, std::string_view new_subject) {
        auto copy = payload;
        copy["text"] = std::string{new_text};
        copy["subject"] = std::string{new_subject};
        auto body = render_one(tmpl.body, make_context(copy, cfg.public_url));
        return channel.transliterate ? sms::transliterate(body) : body;
    };
    auto fitted = sms::fit_rendered([&](std::string_view t) { return render_with(t, subject); },
                                    text, channel.max_segments);
    if (fitted.kind == sms::fit_kind::cut && !subject.empty()) {
        auto without_text = sms::fit_rendered(
            [&](std::string_view s) { return render_with("", s); }, subject, channel.max_segments);
        if (without_text.kind != sms::fit_kind::cut) {
            fitted = std::move(without_text);
            fitted.kind = sms::fit_kind::shortened;
        }
    }
    return sms_rendered{std::move(fitted.text), std::move(fitted.info), fitted.kind};
}

}  // namespace

std::vector<core::error> validate_templates(const config::config& cfg) {
    std::vector<core::error> errors;
    for (const auto& [type, by_language] : cfg.templates) {
        for (const auto& [language, tmpl] : by_language) {
            for (const auto* part : {&tmpl.subject, &tmpl.body}) {
                mustache m{*part};
                if (!m.is_valid()) {
                    errors.push_back(core::make_error(
                        "config", "templates." + type + "." + language + ": " + m.error_message(),
                        tmpl.at.str()));
                }
            }
        }
    }
    return errors;
}

}  // namespace hotline::dispatch
