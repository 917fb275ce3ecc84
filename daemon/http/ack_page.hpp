// The pages of the signed acknowledgement link (GET/POST /v1/ack/{token},
// http/endpoints/ack.cpp): plain HTML, no JavaScript, no external resources, inline CSS,
// a phone-sized viewport, English or Russian. Pure (data in, page out), so every page is
// tested without a server. Every value is HTML-escaped; the report's subject and text are
// shown only to whom they may be shown (responders and admins; a partner only what its
// `sees:` lists, as dispatch/planner redacts alerts).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "domain/report.hpp"

namespace hotline::http {

// A case as the page shows it (from store::get_case).
struct ack_case {
    std::int64_t id{};
    std::string state;  // open | acknowledged | resolved
    std::string severity;
    std::int64_t created_at{};  // unix ms
    std::string acked_by;       // "responder:alice", "" none
    std::string resolved_by;
    std::optional<domain::report> first_report;  // nullopt: purged or unreadable
};

// Who opened the link: the token's target, found in the config in force.
struct ack_viewer {
    std::string target;  // "responder:alice"
    const domain::person* person{nullptr};
    bool partner{false};
};

// The person a target names ("responder:", "partner:", "admin:"); person null when the
// config has no such person (any more).
[[nodiscard]] ack_viewer find_viewer(const config::config& cfg, const std::string& target);

enum class ack_page_kind {
    forged,      // 404: not a link we made (or made under an older key)
    expired,     // 410
    used,        // 410: this link was used before
    not_found,   // 404: no such case (any more), or nobody the link was for
    bad_action,  // 400: a POST without action=ack|resolve
    busy,        // 503: the store did not answer; try again
};

// The status of an error page.
[[nodiscard]] unsigned ack_page_status(ack_page_kind kind);

// An error page in `language` ("en", "ru"); "" (the viewer is unknown): both, English first.
[[nodiscard]] std::string render_ack_error(ack_page_kind kind, const std::string& language);

// The confirm page: case number, severity, when opened, state, the report when the viewer
// may see it, and a form (method post, no action: the same URL) with the buttons the state
// allows: Acknowledge (action=ack) while open, Resolve (action=resolve) until resolved.
[[nodiscard]] std::string render_ack_confirm(const ack_case& c, const ack_viewer& who);

// After a POST: what was done (changed) or what the case already was (not changed).
struct ack_done {
    std::string action;  // "ack" | "resolve"
    bool changed{false};
    std::string before;  // state names
    std::string after;
};
[[nodiscard]] std::string render_ack_result(std::int64_t case_id, const ack_done& done,
                                            const std::string& language);

// The security headers of every page (CSP, no referrer, no framing).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> ack_page_headers();

// &, <, >, " and ' escaped.
[[nodiscard]] std::string html_escape(std::string_view s);

}  // namespace hotline::http
