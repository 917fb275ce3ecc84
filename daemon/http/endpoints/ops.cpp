// GET /healthz (the process answers), /readyz (config loaded, store writable, not
// draining) and /metrics (Prometheus text format 0.0.4).
#include <cstdlib>

#include "core/log.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/server.hpp"

namespace hotline::http {
namespace endpoints {
namespace {

constexpr std::string_view metrics_type = "text/plain; version=0.0.4";

core::status add_get(route_table& routes, std::string pattern, std::function<reply()> answer) {
    endpoint e;
    e.pattern = std::move(pattern);
    e.methods = method::get;
    e.handle = [answer = std::move(answer)](exchange&) -> asio::awaitable<reply> {
        // Not a coroutine lambda (its captures would dangle): the answer is computed here
        // and the coroutine below only hands it over.
        return [](reply r) -> asio::awaitable<reply> { co_return r; }(answer());
    };
    return routes.add(std::move(e));
}

}  // namespace

core::status add_ops(route_table& routes, const application& app, core::metrics& metrics) {
    if (auto s = add_get(routes, "/healthz", [] { return text_reply(200, "ok\n"); }); !s) {
        return s;
    }
    if (auto s = add_get(routes, "/readyz",
                         [&app] {
                             return app.ready() ? text_reply(200, "ready\n")
                                                : text_reply(503, "not ready\n");
                         });
        !s) {
        return s;
    }
    return add_get(routes, "/metrics",
                   [&metrics] { return text_reply(200, metrics.render(), metrics_type); });
}

}  // namespace endpoints

route_table standard_routes(const application& app, ingest::pipeline& pipeline,
                            core::metrics& metrics) {
    route_table routes;
    // Fixed patterns: a failure here is a programming error, caught by the unit tests.
    const auto reports = endpoints::add_reports(routes, pipeline);
    const auto ops = endpoints::add_ops(routes, app, metrics);
    if (!reports || !ops) {
        spdlog::critical("http routes: {}", (!reports ? reports : ops).err().describe());
        std::abort();
    }
    return routes;
}

}  // namespace hotline::http
