// One inbound SMS as a gateway parser (ingest/sms_gateway) reads it, and the report it
// becomes. Shared by the HTTP endpoint (http/endpoints/sms), the intake that holds
// concatenated parts and keywords (ingest/sms_intake) and `hotlinectl ingest --dry-run
// --gateway`.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "config/model.hpp"
#include "domain/report.hpp"

namespace hotline::ingest {

struct sms_message {
    std::string source;        // the configured source's name
    std::string gateway;       // twilio | vonage | kannel | smssync
    std::string message_id;    // the gateway's id of this SMS (or part); "" when it gave none
    std::string sender;        // E.164 ("+79001234567") when it parsed, else as given
    bool sender_valid{false};  // libphonenumber read sender as a possible number
    std::string recipient;     // our number: E.164 when it parsed, else as given
    std::string country;       // ISO 3166-1 alpha-2 of the sender's number; "" unknown
    std::string text;          // UTF-8: the whole SMS, or this part's text
    // A part of a concatenated SMS (Vonage concat-*, Kannel UDH): the parts with the same
    // (source, sender, ref, total) make one report.
    struct part_info {
        std::string ref;     // the concatenation reference as the gateway gave it
        unsigned total{1};   // > 1 for a part
        unsigned number{1};  // 1-based, <= total
        bool operator==(const part_info&) const = default;
    } part;
    std::int64_t received_at{};  // unix ms
    // Gateway facts kept sealed with the report (smsc id, coding, the gateway's own
    // timestamps); never the signature or a secret.
    nlohmann::json details = nlohmann::json::object();

    [[nodiscard]] bool is_part() const noexcept { return part.total > 1; }
};

// The report of a whole (non-part) SMS: source_kind "sms", external_id "sms:<message_id>"
// (or a hash of sender+text+received_at when the gateway gave no id), sender, country,
// text, language (ingest::detect_language, else the source's default_language), details
// {gateway, recipient, message_id, ...m.details}. The subject is empty.
[[nodiscard]] domain::report sms_report(const sms_message& m, const config::sms_source& cfg);

}  // namespace hotline::ingest
