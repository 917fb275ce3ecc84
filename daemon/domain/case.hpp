// A case: what responders act on; one or more reports.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace hotline::domain {

// Case attributes decided by routing.
struct case_info {
    std::string severity;  // critical | high | normal | low
    std::string route;     // matched path(s), e.g. "root/detention"
    nlohmann::json labels = nlohmann::json::object();
};

}  // namespace hotline::domain
