// The work behind hotlinectl's subcommands, kept out of main so tests can call it.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "app/validate.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"

namespace hotline::ctl {

// Reads a report as posted to /v1/reports (plus optional "source" and "source_kind",
// default: the first configured source) and explains the routing decision as JSON.
[[nodiscard]] core::result<nlohmann::json> explain_route(const app::loaded_config& loaded,
                                                         const std::string& report_json);

// The routing decision for a report already normalised (explain_route's JSON without
// parsing; `hotlinectl ingest --dry-run --config` uses it for mail).
[[nodiscard]] nlohmann::json explain_report(const app::loaded_config& loaded,
                                            const domain::report& report);

struct send_test_outcome {
    bool delivered{false};
    std::string text;  // "delivered (provider id …)", "retry later: …", "permanent failure: …"
};

// Sends one test message through one channel instance, synchronously, and classifies it.
[[nodiscard]] core::result<send_test_outcome> send_test(const app::loaded_config& loaded,
                                                        const std::string& channel,
                                                        const std::string& address,
                                                        const std::string& language);

}  // namespace hotline::ctl
