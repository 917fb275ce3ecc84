// A report: one inbound message, as every source hands it to the ingest pipeline.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace hotline::domain {

// One inbound message, normalised (UTF-8 text, sender as given by the source).
struct report {
    std::string source;       // configured source name, e.g. "partner-webhook"
    std::string source_kind;  // "webhook" (later: "imap", "sms", "checkin")
    std::string external_id;  // unique per source; generated when the sender gave none
    std::string sender;       // phone or email; never logged at info level
    std::string subject;
    std::string text;
    std::map<std::string, std::string> labels;
    std::string language;        // "en", "ru" or "" (unknown)
    std::int64_t received_at{};  // unix ms
};

// Ids a committed report got.
struct report_ids {
    std::int64_t report_id{};
    std::int64_t case_id{};
    bool duplicate{false};
};

}  // namespace hotline::domain
