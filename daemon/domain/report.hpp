// A report: one inbound message, as every source hands it to the ingest pipeline.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hotline::domain {

// A file that came with a report (a mail attachment). Its name and bytes are sealed at rest.
struct attachment {
    std::string file_name;     // decoded; may be empty
    std::string content_type;  // lower case, e.g. "image/jpeg"
    std::size_t size{};        // decoded bytes
    std::string sha256;        // of the decoded bytes, lower-case hex
    std::string bytes;         // the decoded bytes when kept, else empty
    bool kept{false};          // bytes holds the whole file
};

// One inbound message, normalised (UTF-8 text, sender as given by the source).
struct report {
    std::string source;       // configured source name, e.g. "partner-webhook"
    std::string source_kind;  // "webhook", "email", "sms" (later: "checkin")
    std::string external_id;  // unique per source; generated when the sender gave none
    std::string sender;       // phone (E.164 when it parsed) or email; never logged at info level
    std::string country;      // ISO 3166-1 alpha-2 of a phone sender ("RU"), "" unknown
    std::string subject;
    std::string text;
    std::map<std::string, std::string> labels;
    std::string language;        // "en", "ru" or "" (unknown)
    std::int64_t received_at{};  // unix ms

    // A second key unique per source besides external_id (a mail's Message-ID hash, or the
    // raw message's hash): a report with a known one is a duplicate. Empty: none.
    std::string dedup_key;
    // The existing case this report joins (a reply to an alert, a subject tag); 0 opens a
    // new case. The store opens a new case when this one does not exist.
    std::int64_t case_id{0};
    // Source-specific facts kept with the report (sealed): a mail's sender_name, date,
    // message_id, in_reply_to, references, forwards, warnings. A JSON object.
    nlohmann::json details = nlohmann::json::object();
    // The message as received (a mail's RFC 5322 bytes), sealed; may be empty.
    std::string raw;
    std::vector<attachment> attachments;
};

// Ids a committed report got.
struct report_ids {
    std::int64_t report_id{};
    std::int64_t case_id{};
    bool duplicate{false};
    bool joined{false};  // the report joined the existing case report::case_id
};

}  // namespace hotline::domain
