#include "ctl/ingest.hpp"

#include "core/clock.hpp"
#include "ctl/commands.hpp"
#include "ingest/language.hpp"

namespace hotline::ctl {

domain::report mail_report(const ingest::parsed_mail& mail, std::string source,
                           std::int64_t received_at) {
    domain::report r;
    r.source = std::move(source);
    r.source_kind = "email";
    r.external_id = mail.message_id;
    r.sender = mail.sender.address;
    r.subject = mail.subject;
    r.text = ingest::report_text(mail);
    r.language = ingest::detect_language(r.text.empty() ? r.subject : r.text);
    r.received_at = received_at;
    return r;
}

nlohmann::json ingest_dry_run(std::string_view raw, const app::loaded_config* loaded) {
    const auto mail = ingest::parse_mail(raw);
    core::system_clock clock;
    std::string source;
    if (loaded != nullptr && loaded->cfg && !loaded->cfg->sources.empty()) {
        source = loaded->cfg->sources.front().name;
        for (const auto& s : loaded->cfg->sources) {
            if (s.kind == "imap") {
                source = s.name;
                break;
            }
        }
    }
    const auto report = mail_report(mail, source, clock.now_ms());
    auto attachments = nlohmann::json::array();
    for (const auto& a : mail.attachments) {
        attachments.push_back({{"name", a.file_name},
                               {"type", a.content_type},
                               {"size", a.size},
                               {"sha256", a.sha256}});
    }
    auto forwards = nlohmann::json::array();
    for (const auto& f : mail.forwards) {
        forwards.push_back(
            {{"sender", f.sender.address}, {"sender_name", f.sender.name}, {"subject", f.subject}});
    }
    auto warnings = nlohmann::json::array();
    for (const auto& w : mail.warnings) {
        warnings.push_back({{"code", w.code}, {"message", w.message}});
    }
    nlohmann::json out{{"source_kind", report.source_kind},
                       {"sender", report.sender},
                       {"sender_name", mail.sender.name},
                       {"subject", report.subject},
                       {"date", mail.date_ms ? nlohmann::json(*mail.date_ms) : nlohmann::json()},
                       {"message_id", mail.message_id},
                       {"in_reply_to", mail.in_reply_to},
                       {"references", mail.references},
                       {"text", report.text},
                       {"language", report.language},
                       {"attachments", std::move(attachments)},
                       {"forwards", std::move(forwards)},
                       {"warnings", std::move(warnings)}};
    if (loaded != nullptr && loaded->cfg) {
        out["route"] = explain_report(*loaded, report);
    }
    return out;
}

}  // namespace hotline::ctl
