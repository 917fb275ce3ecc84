// A case: what responders act on; one or more reports.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hotline::domain {

// Case attributes decided by routing.
struct case_info {
    std::string severity;  // critical | high | normal | low
    std::string route;     // matched path(s), e.g. "root/detention"
    nlohmann::json labels = nlohmann::json::object();
    std::string policy;  // the escalation policy (policies:), "" for none
    // Grouping (a route's group_by + group_window): a keyed hash of the grouped fields'
    // values, never the values; a later report with the same key joins this case while it
    // is open and before group_until (unix ms). Empty: the case groups nothing.
    std::string group_key;
    std::int64_t group_until{0};
};

// open → acknowledged → resolved, open → resolved; acknowledged or resolved → open again
// (ack_timeout, a new report when the route says so, `reopen`).
enum class case_state { open, acknowledged, resolved };

[[nodiscard]] inline std::string_view to_string(case_state s) {
    switch (s) {
        case case_state::open: return "open";
        case case_state::acknowledged: return "acknowledged";
        case case_state::resolved: return "resolved";
    }
    return "open";
}

[[nodiscard]] inline std::optional<case_state> parse_case_state(std::string_view s) {
    if (s == "open") {
        return case_state::open;
    }
    if (s == "acknowledged") {
        return case_state::acknowledged;
    }
    if (s == "resolved") {
        return case_state::resolved;
    }
    return std::nullopt;
}

}  // namespace hotline::domain
