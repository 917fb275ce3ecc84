#include "ingest/mail_report.hpp"

#include "core/crypto.hpp"
#include "ingest/language.hpp"

namespace hotline::ingest {

std::string dedup_key_for(const parsed_mail& mail, std::string_view raw) {
    if (!mail.message_id.empty()) {
        return core::crypto::sha256_hex("message-id:", mail.message_id);
    }
    return core::crypto::sha256_hex("raw:", raw);
}

nlohmann::json mail_details(const parsed_mail& mail) {
    auto forwards = nlohmann::json::array();
    for (const auto& f : mail.forwards) {
        forwards.push_back(
            {{"sender", f.sender.address}, {"sender_name", f.sender.name}, {"subject", f.subject}});
    }
    auto warnings = nlohmann::json::array();
    for (const auto& w : mail.warnings) {
        warnings.push_back({{"code", w.code}, {"message", w.message}});
    }
    return {{"sender_name", mail.sender.name},
            {"date", mail.date_ms ? nlohmann::json(*mail.date_ms) : nlohmann::json()},
            {"message_id", mail.message_id},
            {"in_reply_to", mail.in_reply_to},
            {"references", mail.references},
            {"forwards", std::move(forwards)},
            {"warnings", std::move(warnings)},
            {"too_large", mail.has_warning("too_large")}};
}

domain::report mail_report(parsed_mail&& mail, std::string_view raw,
                           const mail_report_options& opts) {
    domain::report r;
    r.source = opts.source;
    r.source_kind = "email";
    r.sender = mail.sender.address;
    r.subject = mail.subject;
    r.text = report_text(mail);
    r.language = detect_language(r.text.empty() ? r.subject : r.text);
    if (r.language == "und" && !opts.default_language.empty()) {
        r.language = opts.default_language;
    }
    r.received_at = opts.received_at;
    r.dedup_key = dedup_key_for(mail, raw);
    r.details = mail_details(mail);
    r.raw.assign(raw);
    r.attachments.reserve(mail.attachments.size());
    for (auto& a : mail.attachments) {
        domain::attachment out;
        out.file_name = std::move(a.file_name);
        out.content_type = std::move(a.content_type);
        out.size = a.size;
        out.sha256 = std::move(a.sha256);
        out.bytes = std::move(a.bytes);
        out.kept = a.kept;
        r.attachments.push_back(std::move(out));
    }
    return r;
}

}  // namespace hotline::ingest
