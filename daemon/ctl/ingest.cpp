#include "ctl/ingest.hpp"

#include "core/clock.hpp"
#include "ctl/commands.hpp"
#include "http/raw_request.hpp"
#include "ingest/mail_report.hpp"
#include "ingest/sms_gateway.hpp"

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

core::result<sms_dry_run_result> sms_dry_run(std::string_view raw, const app::loaded_config& loaded,
                                             std::string_view source, std::string_view peer) {
    const auto* src = loaded.cfg ? loaded.cfg->find_source(std::string(source)) : nullptr;
    if (src == nullptr || src->kind != "sms") {
        return core::make_error("unknown_source", "no source \"" + std::string(source) +
                                                      "\" of kind sms in the config");
    }
    auto req = http::parse_raw_request(raw);
    if (!req) {
        return req.err();
    }
    core::system_clock clock;
    ingest::gateway_request g;
    g.method = req->method;
    g.target = req->target;
    g.headers = std::move(req->headers);
    g.body = std::move(req->body);
    g.peer = std::string(peer);
    g.now_ms = clock.now_ms();
    const auto parsed = ingest::parse_gateway_request(*src, g);
    sms_dry_run_result r;
    r.out["source"] = src->name;
    r.out["gateway"] = src->sms.gateway;
    if (parsed.what == ingest::gateway_result::kind::rejected) {
        r.out["accepted"] = false;
        r.out["status"] = parsed.rejection.status;
        r.out["reason"] = parsed.rejection.reason;
        r.out["message"] = parsed.rejection.message;
        return r;
    }
    r.accepted = true;
    r.out["accepted"] = true;
    if (parsed.what == ingest::gateway_result::kind::poll) {
        r.out["poll"] = true;
        return r;
    }
    const auto& m = parsed.sms;
    nlohmann::json part = nullptr;
    if (m.is_part()) {
        part = {{"ref", m.part.ref}, {"total", m.part.total}, {"number", m.part.number}};
    }
    r.out["message"] = {{"message_id", m.message_id},
                        {"sender", m.sender},
                        {"sender_valid", m.sender_valid},
                        {"recipient", m.recipient},
                        {"country", m.country},
                        {"text", m.text},
                        {"part", part},
                        {"details", m.details}};
    const auto report = ingest::sms_report(m, src->sms);
    r.out["report"] = {{"source_kind", report.source_kind},
                       {"external_id", report.external_id},
                       {"sender", report.sender},
                       {"country", report.country},
                       {"text", report.text},
                       {"language", report.language},
                       {"details", report.details}};
    r.out["route"] = explain_report(loaded, report);
    return r;
}

}  // namespace hotline::ctl
