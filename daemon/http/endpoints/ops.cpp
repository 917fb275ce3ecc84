// GET /healthz (the process answers), /readyz (config loaded, store writable, not
// draining) and /metrics (Prometheus text format 0.0.4), on the main listener or the
// metrics listener (server.metrics_listen).
#include <cstdlib>

#include "core/log.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/endpoints/silences.hpp"
#include "http/server.hpp"

namespace hotline::http {
namespace endpoints {
namespace {

constexpr std::string_view metrics_type = "text/plain; version=0.0.4";

core::status add_get(route_table& routes, std::string pattern, std::function<reply()> answer,
                     auth_kind auth = auth_kind::none) {
    endpoint e;
    e.pattern = std::move(pattern);
    e.methods = method::get;
    e.auth = auth;
    e.handle = [answer = std::move(answer)](exchange&) -> asio::awaitable<reply> {
        // Not a coroutine lambda (its captures would dangle): the answer is computed here
        // and the coroutine below only hands it over.
        return [](reply r) -> asio::awaitable<reply> { co_return r; }(answer());
    };
    return routes.add(std::move(e));
}

}  // namespace

// Fixed patterns: a failure here is a programming error, caught by the unit tests.
void abort_on(const core::status& s) {
    if (!s) {
        spdlog::critical("http routes: {}", s.err().describe());
        std::abort();
    }
}

core::status add_health(route_table& routes, const application& app) {
    if (auto s = add_get(routes, "/healthz", [] { return text_reply(200, "ok\n"); }); !s) {
        return s;
    }
    return add_get(routes, "/readyz", [&app] {
        const std::string detail = app.readiness_detail();
        return app.ready() ? text_reply(200, "ready\n" + detail)
                           : text_reply(503, "not ready\n" + detail);
    });
}

core::status add_metrics(route_table& routes, core::metrics& metrics) {
    // Traffic analysis: who reports when is sensitive, so the counts are not for anyone.
    return add_get(
        routes, "/metrics", [&metrics] { return text_reply(200, metrics.render(), metrics_type); },
        auth_kind::metrics_token);
}

core::status add_ops(route_table& routes, const application& app, core::metrics& metrics) {
    if (auto s = add_health(routes, app); !s) {
        return s;
    }
    return add_metrics(routes, metrics);
}

}  // namespace endpoints

route_table standard_routes(const application& app, ingest::pipeline& pipeline,
                            core::metrics& metrics, bool with_metrics, ingest::sms_intake* sms,
                            store::store* db) {
    route_table routes;
    endpoints::abort_on(endpoints::add_reports(routes, pipeline));
    if (sms != nullptr) {
        endpoints::abort_on(endpoints::add_sms(routes, app, *sms, pipeline));
    }
    if (db != nullptr) {
        endpoints::abort_on(endpoints::add_silences(routes, *db, pipeline));
    }
    endpoints::abort_on(with_metrics ? endpoints::add_ops(routes, app, metrics)
                                     : endpoints::add_health(routes, app));
    return routes;
}

route_table metrics_routes(const application& app, core::metrics& metrics) {
    route_table routes;
    endpoints::abort_on(endpoints::add_ops(routes, app, metrics));
    return routes;
}

}  // namespace hotline::http
