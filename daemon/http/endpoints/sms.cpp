// GET/POST <path> of every `kind: sms` source (default /v1/sms/<name>; a Vonage source
// with a token also <path>/<token>): the gateway's inbound webhook. One "/v1/*" route
// finds the source in the config in force, so sources added or removed by a reload are
// served at once. The gateway's own check replaces the bearer token (auth none); the
// order is source -> body -> gateway check and mapping (ingest/sms_gateway) -> sms_intake
// -> the gateway's answer, only after the commit.
#include <map>
#include <memory>

#include "core/async_event.hpp"
#include "core/log.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/server.hpp"
#include "ingest/sms_gateway.hpp"
#include "ingest/sms_intake.hpp"

namespace hotline::http::endpoints {
namespace {

using outcome = core::result<ingest::sms_accepted>;

// A failed check is logged once per source and minute: a gateway misconfigured (or
// someone probing) must not flood the journal.
constexpr std::int64_t rejection_log_interval_ms = 60'000;

struct sms_state {
    const application& app;
    ingest::sms_intake& intake;
    ingest::pipeline& pipeline;
    struct log_window {
        std::int64_t last_ms{0};
        std::size_t suppressed{0};
    };
    std::map<std::string, log_window, std::less<>> logged;  // io thread only
};

std::string_view verb_name(method m) {
    switch (m) {
        case method::get: return "GET";
        case method::post: return "POST";
        case method::head: return "HEAD";
        default: return "OTHER";
    }
}

// reply::content_type is a view: the answer's types as static strings.
std::string_view static_type(std::string_view t) {
    static constexpr std::string_view known[] = {"text/xml", "application/json", "text/plain",
                                                 "text/plain; charset=utf-8"};
    for (const auto k : known) {
        if (k == t) {
            return k;
        }
    }
    return text_type;
}

reply to_reply(const ingest::gateway_answer& a, std::string code = {}) {
    reply rep;
    rep.status = a.status;
    rep.body = a.body;
    rep.content_type = static_type(a.content_type);
    rep.retry_after = a.retry_after;
    rep.code = std::move(code);
    return rep;
}

void log_rejection(sms_state& st, const std::string& source, const ingest::gateway_rejection& r,
                   std::int64_t now_ms) {
    auto& w = st.logged[source];
    if (w.last_ms != 0 && now_ms - w.last_ms < rejection_log_interval_ms) {
        ++w.suppressed;
        return;
    }
    spdlog::warn("sms request rejected source={} status={} reason={} suppressed_before={}", source,
                 r.status, r.reason, w.suppressed);
    w.last_ms = now_ms;
    w.suppressed = 0;
}

asio::awaitable<reply> handle_sms(sms_state& st, exchange& ex) {
    const auto cfg = st.app.current_config();
    const config::source_config* src =
        cfg != nullptr ? ingest::find_sms_source(*cfg, ex.path()) : nullptr;
    if (src == nullptr) {
        co_return error_reply(404, "not_found", "no such resource");
    }
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    ingest::gateway_request req;
    req.method = std::string(verb_name(ex.verb()));
    req.target = std::string(ex.target());
    req.headers = ex.headers();
    req.body = ex.body();
    req.peer = ex.peer_address();
    req.now_ms = ex.clock().now_ms();
    auto parsed = ingest::parse_gateway_request(*src, req);
    if (parsed.what == ingest::gateway_result::kind::rejected) {
        log_rejection(st, src->name, parsed.rejection, req.now_ms);
        st.pipeline.rejected(src->name, parsed.rejection.reason);
        co_return to_reply(ingest::rejected_answer(src->sms, parsed.rejection),
                           parsed.rejection.reason);
    }
    if (parsed.what == ingest::gateway_result::kind::poll) {
        co_return to_reply(ingest::poll_answer(src->sms));
    }
    // The config may be swapped while the commit is awaited: keep this one's source.
    const config::sms_source gateway = src->sms;
    const std::string name = src->name;
    const auto result = std::make_shared<core::async_result<outcome>>(ex.executor());
    if (const auto refused = st.intake.accept(std::move(parsed.sms),
                                              core::async_result<outcome>::completion(result))) {
        st.pipeline.rejected(name, refused->status == 429 ? "rate_limited" : "busy");
        co_return to_reply(ingest::retry_answer(gateway, refused->status,
                                                static_cast<unsigned>(std::max<std::int64_t>(
                                                    1, refused->retry_after_s))),
                           refused->status == 429 ? "rate_limited" : "busy");
    }
    if (!co_await ex.wait(result->event())) {  // force-closed before the commit answered
        co_return no_reply();
    }
    const outcome& done = *result->value();
    if (!done.ok()) {
        spdlog::warn("sms submit failed source={} code={}", name, done.err().code);
        co_return to_reply(ingest::retry_answer(gateway, 503, 1));
    }
    co_return to_reply(ingest::accepted_answer(gateway));
}

}  // namespace

core::status add_sms(route_table& routes, const application& app, ingest::sms_intake& intake,
                     ingest::pipeline& pipeline) {
    auto st = std::make_shared<sms_state>(sms_state{app, intake, pipeline, {}});
    endpoint e;
    e.pattern = "/v1/*";
    e.methods = method::get | method::post;
    e.auth = auth_kind::none;
    e.handle = [st](exchange& ex) { return handle_sms(*st, ex); };
    return routes.add(std::move(e));
}

}  // namespace hotline::http::endpoints
