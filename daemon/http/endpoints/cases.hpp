// The cases API (docs/api.md, "Cases"): GET /v1/cases, GET /v1/cases/{id} and
// POST /v1/cases/{id}/ack|resolve|note, behind a person's API token. A responder sees and
// acts on the cases they were notified for (any other case is a 404, as if there were
// none); an admin on every case. Actions go through the case service (ingest/cases) with
// channel "api", so they cancel steps and send notices exactly as an SMS or a link does.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "http/route_table.hpp"
#include "store/store.hpp"

namespace hotline::ingest {
class case_service;
}

namespace hotline::http::endpoints {

// What the cases API needs from the daemon; completions may run on any thread.
struct cases_backend {
    std::function<void(store::case_query,
                       std::function<void(core::result<std::vector<store::case_record>>)>)>
        list;
    std::function<void(std::int64_t,
                       std::function<void(core::result<std::optional<store::case_view>>)>)>
        get;
    // Acts on a case as `target` (channel "api"); errors "not_found" or anything else.
    std::function<void(store::case_action::kind, std::int64_t case_id, std::string target,
                       std::string note,
                       std::function<void(core::result<store::case_action_result>)>)>
        act;
};

// The backend of a running daemon: the store's list_cases and get_case, the case service's
// act. The references must outlive the table.
[[nodiscard]] cases_backend cases_backend_of(store::store& db, ingest::case_service& cases);

// The query of GET /v1/cases (state, limit 1-1000, before): errors (code "bad_request")
// name the parameter. `target` restricts to the cases it was notified for ("" = all).
[[nodiscard]] core::result<store::case_query> parse_cases_query(std::string_view query,
                                                                std::string target);

// The JSON body of an action: {} or {"note": "..."} (required, non-empty for note);
// a note is UTF-8 of at most 4096 bytes. Errors (code "bad_request").
[[nodiscard]] core::result<std::string> parse_action_body(std::string_view body,
                                                          bool note_required);

// A case as the API shows it (times RFC 3339 UTC).
[[nodiscard]] nlohmann::ordered_json case_json(const store::case_record& c);
// GET /v1/cases/{id}'s answer: the case, who was notified, the first report (null when it
// is no longer kept), the history.
[[nodiscard]] nlohmann::ordered_json case_view_json(const store::case_view& v);

// The routes; `backend` is copied.
[[nodiscard]] core::status add_cases(route_table& routes, cases_backend backend);

}  // namespace hotline::http::endpoints
