// `hotlinectl ingest --dry-run FILE.eml`: a mail as the rules will see it, without a daemon.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/validate.hpp"
#include "domain/report.hpp"
#include "ingest/mime.hpp"

namespace hotline::ctl {

// The normalised report as JSON: source_kind, sender (+ sender_name), subject, date,
// text, language, attachments (name, type, size, sha256; never bytes), forwards, the
// threading headers and warnings. With a config, also "route": explain_report's decision.
[[nodiscard]] nlohmann::json ingest_dry_run(std::string_view raw, const app::loaded_config* loaded);

// `hotlinectl ingest --dry-run --gateway NAME FILE`: FILE is a raw HTTP request as a
// gateway sent it; the `kind: sms` source NAME's parser runs on it, signature check
// included, as if it came from `peer`. {"accepted":true,"message":{...},"report":{...},
// "route":{...}} or {"accepted":false,"status":403,"reason":"...","message":"..."}.
struct sms_dry_run_result {
    nlohmann::json out;
    bool accepted{false};
};
[[nodiscard]] core::result<sms_dry_run_result> sms_dry_run(std::string_view raw,
                                                           const app::loaded_config& loaded,
                                                           std::string_view source,
                                                           std::string_view peer);

}  // namespace hotline::ctl
