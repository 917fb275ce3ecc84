// `hotlinectl cases list|show ID|ack ID|resolve ID|note ID TEXT`: the cases API
// (docs/api.md, "Cases") through ctl/api_client, as the person whose token is used. Text
// for people, or the API's JSON as it is with --json.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/api_client.hpp"

namespace hotline::ctl {

struct cases_options {
    api_options api;
    std::string state;  // list: open | acknowledged | resolved | "" (every state)
    std::optional<std::int64_t> limit;
    std::optional<std::int64_t> before;
    std::string note;  // ack/resolve: an optional remark
    bool json{false};
};

// Runs `hotlinectl cases ARGS...` (ARGS[0] is the subcommand). Exit status: 0 done, 1 the
// API refused or could not be reached (the reason on `err`), 2 bad usage.
int run_cases(const std::vector<std::string>& args, const cases_options& options, std::ostream& out,
              std::ostream& err);

// The text forms (pure, for tests): the list as a table, one case with its history, an
// action's outcome.
[[nodiscard]] std::string format_case_list(const nlohmann::json& answer);
[[nodiscard]] std::string format_case(const nlohmann::json& answer);
[[nodiscard]] std::string format_action(const nlohmann::json& answer, const std::string& action);

}  // namespace hotline::ctl
