// The endpoints, one file each; each registers its routes in a route_table. A new one
// (SMS gateways at /v1/sms/{source}, acknowledgements at /v1/ack/{token}) is a new file
// here and a line in standard_routes(), with no change to server.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "http/ack_page.hpp"
#include "http/route_table.hpp"
#include "ingest/cases.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/sms_intake.hpp"

namespace hotline::http {

class application;

namespace endpoints {

// POST /v1/reports (webhook sources, bearer token): JSON report -> pipeline.
[[nodiscard]] core::status add_reports(route_table& routes, ingest::pipeline& pipeline);

// GET/POST of every `kind: sms` source's path (one "/v1/*" route; the source is looked up in
// the config in force): gateway check -> sms_intake -> the gateway's answer.
[[nodiscard]] core::status add_sms(route_table& routes, const application& app,
                                   ingest::sms_intake& intake, ingest::pipeline& pipeline);

// What the signed link's pages need from the daemon (app/ wires the store's get_case and
// the case service's act): completions may run on any thread.
struct ack_backend {
    // The ack-link key (dispatch::ack_key of the storage key); null: every link is refused.
    std::shared_ptr<const core::crypto::key> key;
    // The case, nullopt when there is none.
    std::function<void(std::int64_t case_id,
                       std::function<void(core::result<std::optional<ack_case>>)> done)>
        get_case;
    // Acknowledges (resolve false) or resolves case `case_id` as `target` through the link,
    // single use by `once_key`; errors "used", "not_found", or anything else (busy).
    std::function<void(bool resolve, std::int64_t case_id, std::string target, std::string once_key,
                       std::function<void(core::result<ack_done>)> done)>
        act;
};

// The backend of a running daemon: the store's get_case and the case service's act (as the
// link's target, channel "link"). The references must outlive the table.
[[nodiscard]] ack_backend ack_backend_of(store::store& db, ingest::case_service& cases,
                                         std::shared_ptr<const core::crypto::key> key);

// GET /v1/ack/{token}: the confirm page; POST (action=ack|resolve): acts once, then the
// result page. No auth: the token is the authentication (dispatch/ack_link). `backend`
// is copied; what it references must outlive the table.
[[nodiscard]] core::status add_ack(route_table& routes, const application& app,
                                   ack_backend backend);

// GET /healthz and /readyz (application::ready).
[[nodiscard]] core::status add_health(route_table& routes, const application& app);

// GET /metrics, behind server.metrics_token_file's token when one is set.
[[nodiscard]] core::status add_metrics(route_table& routes, core::metrics& metrics);

// Aborts on a route table error (the tables are fixed: a programming error).
void abort_on(const core::status& s);

// add_health and add_metrics.
[[nodiscard]] core::status add_ops(route_table& routes, const application& app,
                                   core::metrics& metrics);

}  // namespace endpoints

// Every endpoint hotlined serves on its main listener; /metrics only with `with_metrics`
// (when there is no metrics listener), else it is a 404 there; the SMS gateways' paths
// only with `sms`; the silences API (endpoints/silences.hpp) only with `db`. The
// references must outlive the table.
[[nodiscard]] route_table standard_routes(const application& app, ingest::pipeline& pipeline,
                                          core::metrics& metrics, bool with_metrics = true,
                                          ingest::sms_intake* sms = nullptr,
                                          store::store* db = nullptr);

// What the metrics listener (server.metrics_listen) serves: /metrics, /healthz, /readyz.
[[nodiscard]] route_table metrics_routes(const application& app, core::metrics& metrics);

}  // namespace hotline::http
