// POST /v1/reports: a webhook source's JSON report. The checks run in the order auth
// (by the server) -> media type -> body -> JSON -> commit, each answering its own error.
#include <memory>

#include "core/async_event.hpp"
#include "core/log.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/router.hpp"
#include "ingest/json_report.hpp"

namespace hotline::http::endpoints {
namespace {

using outcome = core::result<domain::report_ids>;

asio::awaitable<reply> handle_report(ingest::pipeline& pipeline, exchange& ex) {
    if (!is_json_media_type(ex.header("Content-Type"))) {
        co_return error_reply(415, "unsupported_media_type",
                              "Content-Type must be application/json");
    }
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    auto report = ingest::parse_report_json(ex.body(), ex.source(), ex.header("Idempotency-Key"),
                                            ex.clock().now_ms());
    if (!report) {
        co_return error_reply(400, report.err().code, report.err().message);
    }
    const auto result = std::make_shared<core::async_result<outcome>>(ex.executor());
    if (const auto refused = pipeline.submit(std::move(report).value(),
                                             core::async_result<outcome>::completion(result))) {
        auto rep = refused->status == 429
                       ? error_reply(429, "rate_limited", "too many reports; retry later")
                       : error_reply(503, "busy", "too many reports waiting; retry later");
        rep.retry_after = static_cast<unsigned>(refused->retry_after_s);
        co_return rep;
    }
    if (!co_await ex.wait(result->event())) {  // force-closed before the commit answered
        co_return no_reply();
    }
    const outcome& done = *result->value();
    if (!done.ok()) {
        spdlog::warn("http report submit failed source={} code={}", ex.source(), done.err().code);
        auto rep = error_reply(503, "unavailable", "the report could not be stored; retry");
        rep.retry_after = 1;
        co_return rep;
    }
    reply rep;
    rep.status = done->duplicate ? 200 : 202;
    rep.body = ids_body(*done);
    co_return rep;
}

}  // namespace

core::status add_reports(route_table& routes, ingest::pipeline& pipeline) {
    endpoint e;
    e.pattern = "/v1/reports";
    e.methods = method::post;
    e.auth = auth_kind::source_token;
    e.handle = [&pipeline](exchange& ex) { return handle_report(pipeline, ex); };
    // Every refusal on this route counts, the server's own (405, 401, 413...) included.
    e.observe = [&pipeline](const std::string& source, const reply& rep) {
        if (rep.status >= 400 && rep.status < 500) {
            pipeline.rejected(source, rep.code);
        }
    };
    return routes.add(std::move(e));
}

}  // namespace hotline::http::endpoints
