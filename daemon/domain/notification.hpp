// A notification: one outbox job, one message to one address through one channel.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace hotline::domain {

enum class notification_status { pending, delivered, failed, dead };
[[nodiscard]] const char* to_string(notification_status s);

// An outbox job: one message to one address through one channel instance.
struct notification {
    std::int64_t id{};
    std::int64_t report_id{};
    std::int64_t case_id{};
    std::string channel;  // channel instance name
    std::string address;
    std::string target;           // "responder:alice", "partner:ngo", "admin:ops"
    int contact_index{0};         // which of the target's contacts this is
    std::string language;         // template language for this recipient
    nlohmann::json payload;       // alert context, already redacted for this recipient
    std::string idempotency_key;  // stable across retries: "hl-" + 12 hex (id) + 32 random hex
    int attempts{0};
    std::int64_t next_attempt_at{};  // unix ms
    std::int64_t created_at{};       // unix ms
    std::string last_error;
    notification_status status{notification_status::pending};
    std::string provider_id;
};

// What the planner decides to send for a new report; ids are filled in by the store.
struct planned_notification {
    std::string channel;
    std::string address;
    std::string target;
    int contact_index{0};
    std::string language;
    nlohmann::json
        payload;  // the store sets payload["report_id"], ["case_id"], ["notification_id"]
};

}  // namespace hotline::domain
