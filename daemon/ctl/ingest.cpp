#include "ctl/ingest.hpp"

#include "core/clock.hpp"
#include "ctl/commands.hpp"
#include "ingest/mail_report.hpp"

namespace hotline::ctl {

nlohmann::json ingest_dry_run(std::string_view raw, const app::loaded_config* loaded) {
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
    // The limits and language of the source the mail would come through.
    std::string default_language;
    ingest::mail_limits limits;
    if (loaded != nullptr && loaded->cfg) {
        if (const auto* src = loaded->cfg->find_source(source);
            src != nullptr && src->kind == "imap") {
            default_language = src->imap.default_language;
            limits.max_message_bytes = src->imap.max_message_size;
            limits.max_attachment_bytes = src->imap.max_attachment_size;
        }
    }
    auto mail = ingest::parse_mail(raw, limits);
    auto details = ingest::mail_details(mail);
    const auto report =
        ingest::mail_report(std::move(mail), raw, {source, default_language, clock.now_ms()});
    auto attachments = nlohmann::json::array();
    for (const auto& a : report.attachments) {
        attachments.push_back({{"name", a.file_name},
                               {"type", a.content_type},
                               {"size", a.size},
                               {"sha256", a.sha256}});
    }
    nlohmann::json out{{"source_kind", report.source_kind},
                       {"sender", report.sender},
                       {"sender_name", details["sender_name"]},
                       {"subject", report.subject},
                       {"date", details["date"]},
                       {"message_id", details["message_id"]},
                       {"in_reply_to", details["in_reply_to"]},
                       {"references", details["references"]},
                       {"text", report.text},
                       {"language", report.language},
                       {"attachments", std::move(attachments)},
                       {"forwards", details["forwards"]},
                       {"warnings", details["warnings"]}};
    if (loaded != nullptr && loaded->cfg) {
        out["route"] = explain_report(*loaded, report);
    }
    return out;
}

}  // namespace hotline::ctl
