// A parsed mail to the report every mail source submits (the IMAP source, `hotlinectl
// ingest --dry-run`): what the rules see (sender, subject, text with the forwarded mails,
// language, attachment count) and what is kept sealed with it (the threading headers,
// warnings and the raw bytes in report::details / raw, the attachments).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "domain/report.hpp"
#include "ingest/mime.hpp"

namespace hotline::ingest {

struct mail_report_options {
    std::string source;            // the source's name
    std::string default_language;  // when the detector answers "und"; empty: keep "und"
    std::int64_t received_at{};    // unix ms
};

// Moves the attachments out of `mail`. `raw` is kept as report::raw (pass the header
// block of an oversized mail, or empty). external_id is left to the caller (the IMAP
// source: "imap:<uidvalidity>:<uid>"); dedup_key is dedup_key_for(mail, raw).
[[nodiscard]] domain::report mail_report(parsed_mail&& mail, std::string_view raw,
                                         const mail_report_options& opts);

// Unique per mail within a source: the SHA-256 (hex) of "message-id:" + the Message-ID,
// or, for a mail without one, of "raw:" + its bytes. Used to find a mail again when a
// mailbox was recreated (UIDVALIDITY changed) and its UIDs mean nothing any more.
[[nodiscard]] std::string dedup_key_for(const parsed_mail& mail, std::string_view raw);

// report::details of a mail: sender_name, date (unix ms or null), message_id,
// in_reply_to, references, forwards (sender, sender_name, subject), warnings (code,
// message), too_large.
[[nodiscard]] nlohmann::json mail_details(const parsed_mail& mail);

}  // namespace hotline::ingest
