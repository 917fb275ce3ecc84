// `hotlinectl oncall`: who is on call now (or at a given time) for every schedule of a
// configuration, and the shifts of the next days (rules/oncall), as text or JSON. Reads
// the configuration only; shows responder ids and names, never contact addresses.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "config/model.hpp"

namespace hotline::ctl {

struct oncall_options {
    std::string schedule;           // "": every schedule
    std::optional<std::string> at;  // ISO 8601; without an offset, local in each schedule's zone
    unsigned days{7};               // shifts from `at` for this many days (0: none), at most 366
    bool json{false};
};

struct oncall_output {
    int exit_code{0};  // 0, 1 (unknown schedule), 2 (bad --at or --days)
    std::string out;   // stdout
    std::string err;   // stderr, one line
};

inline constexpr unsigned max_oncall_days = 366;

[[nodiscard]] oncall_output oncall(const config::config& cfg, const oncall_options& options,
                                   std::int64_t now_ms);

}  // namespace hotline::ctl
