// `hotlinectl silence add|list|expire`: the daemon's silences API (docs/api.md, "Silences")
// through ctl/api_client, as the person whose token --token-file names.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "ctl/api_client.hpp"

namespace hotline::ctl {

struct silence_options {
    api_options api;
    std::string duration;  // add: --duration 2h
    std::string until;     // add: --until 2026-12-04T09:00:00Z
    std::string comment;   // add: --comment TEXT
    bool all{false};       // list: --all
    bool json{false};      // --json: the API's answer as it is
};

// The POST /v1/silences body for `add`. Errors (code "usage"): no matchers, neither or
// both of duration and until, no comment.
[[nodiscard]] core::result<nlohmann::json> silence_add_body(
    const std::vector<std::string>& matchers, const silence_options& options);

// Silences (the API's objects) as text: one block each, "no silences" when none.
[[nodiscard]] std::string format_silences(const nlohmann::json& silences);

// Runs `silence` with its arguments (args[0]: add, list or expire). Returns the exit code:
// 0 done, 1 the daemon refused or could not be reached (the reason on `err`), 2 usage.
int run_silence(const std::vector<std::string>& args, const silence_options& options,
                std::ostream& out, std::ostream& err);

}  // namespace hotline::ctl
