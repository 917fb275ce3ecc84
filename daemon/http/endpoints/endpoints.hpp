// The endpoints, one file each; each registers its routes in a route_table. A new one
// (SMS gateways at /v1/sms/{source}, acknowledgements at /v1/ack/{token}) is a new file
// here and a line in standard_routes(), with no change to server.cpp.
#pragma once
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "http/route_table.hpp"
#include "ingest/pipeline.hpp"

namespace hotline::http {

class application;

namespace endpoints {

// POST /v1/reports (webhook sources, bearer token): JSON report -> pipeline.
[[nodiscard]] core::status add_reports(route_table& routes, ingest::pipeline& pipeline);

// GET /healthz, /readyz (application::ready) and /metrics.
[[nodiscard]] core::status add_ops(route_table& routes, const application& app,
                                   core::metrics& metrics);

}  // namespace endpoints

// Every endpoint hotlined serves. The references must outlive the table.
[[nodiscard]] route_table standard_routes(const application& app, ingest::pipeline& pipeline,
                                          core::metrics& metrics);

}  // namespace hotline::http
