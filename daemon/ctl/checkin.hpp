// `hotlinectl checkin start|stop|list`: the daemon's check-ins API (docs/api.md, "Check-ins")
// through ctl/api_client, as the person whose token --token-file names.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/api_client.hpp"

namespace hotline::ctl {

struct checkin_options {
    api_options api;
    std::string interval;  // start: --interval 6h ("" the enrollment's)
    bool json{false};      // --json: the API's answer as it is
};

// Defenders (the API's objects) as text: one line each, "no defenders enrolled" when none.
[[nodiscard]] std::string format_checkins(const nlohmann::json& checkins);

// Runs `checkin` with its arguments (args[0]: start, stop or list). Returns the exit code:
// 0 done, 1 the daemon refused or could not be reached (the reason on `err`), 2 usage.
int run_checkin(const std::vector<std::string>& args, const checkin_options& options,
                std::ostream& out, std::ostream& err);

}  // namespace hotline::ctl
