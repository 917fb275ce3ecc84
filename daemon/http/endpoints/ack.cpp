// GET/POST /v1/ack/{token}: the signed acknowledgement link's pages (docs/escalation.md,
// "Acknowledging"). The checks run token -> person -> expiry -> (POST) action -> store,
// each answering its own page. GET never changes anything: messengers fetch links for
// previews. The token is the authentication, so the route has none; a used, an expired
// and a forged token each get a clear page (410, 410, 404).
#include <memory>

#include "core/async_event.hpp"
#include "core/form.hpp"
#include "core/log.hpp"
#include "dispatch/ack_link.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/server.hpp"

namespace hotline::http::endpoints {
namespace {

static_assert(dispatch::ack_max_token <= max_param_size,
              "the longest ack token must fit one path segment");

reply html_reply(unsigned status, std::string body) {
    reply rep;
    rep.status = status;
    rep.body = std::move(body);
    rep.content_type = "text/html; charset=utf-8";
    rep.headers = ack_page_headers();
    return rep;
}

reply error_page(ack_page_kind kind, const std::string& language) {
    auto rep = html_reply(ack_page_status(kind), render_ack_error(kind, language));
    rep.code = kind == ack_page_kind::forged       ? "forged"
               : kind == ack_page_kind::expired    ? "expired"
               : kind == ack_page_kind::used       ? "used"
               : kind == ack_page_kind::busy       ? "unavailable"
               : kind == ack_page_kind::bad_action ? "bad_action"
                                                   : "not_found";
    if (kind == ack_page_kind::busy) {
        rep.retry_after = 1;
    }
    return rep;
}

asio::awaitable<reply> handle_ack(const application& app, const ack_backend& backend,
                                  exchange& ex) {
    const std::string token{ex.param("token")};
    const auto now = ex.clock().now_ms();
    const auto claim = backend.key ? dispatch::check_ack_token(*backend.key, token, now)
                                   : std::optional<dispatch::ack_claim>{};
    if (!claim) {
        co_return error_page(ack_page_kind::forged, "");
    }
    const auto cfg = app.current_config();
    const auto who = find_viewer(*cfg, claim->target);
    if (who.person == nullptr) {
        co_return error_page(ack_page_kind::not_found, "");
    }
    const std::string& language = who.person->language;
    if (claim->expired) {
        co_return error_page(ack_page_kind::expired, language);
    }
    if (ex.verb() == method::post) {
        if (auto failed = co_await ex.read_body()) {
            co_return std::move(*failed);
        }
        const auto form = core::parse_form(ex.body(), core::form_limits{4096, 16});
        const std::string* action = form ? core::form_value(*form, "action") : nullptr;
        if (action == nullptr || (*action != "ack" && *action != "resolve")) {
            co_return error_page(ack_page_kind::bad_action, language);
        }
        using outcome = core::result<ack_done>;
        const auto result = std::make_shared<core::async_result<outcome>>(ex.executor());
        backend.act(*action == "resolve", claim->case_id, claim->target,
                    dispatch::ack_once_key(token), core::async_result<outcome>::completion(result));
        if (!co_await ex.wait(result->event())) {
            co_return no_reply();
        }
        const outcome& done = *result->value();
        if (!done) {
            const auto& code = done.err().code;
            if (code == "used") {
                co_return error_page(ack_page_kind::used, language);
            }
            if (code == "not_found") {
                co_return error_page(ack_page_kind::not_found, language);
            }
            spdlog::warn("ack link case={} target={}: not recorded: {}", claim->case_id,
                         claim->target, code);
            co_return error_page(ack_page_kind::busy, language);
        }
        spdlog::info("ack link case={} target={} action={} changed={}", claim->case_id,
                     claim->target, *action, done->changed);
        auto shown = *done;
        shown.action = *action;
        co_return html_reply(200, render_ack_result(claim->case_id, shown, language));
    }
    using outcome = core::result<std::optional<ack_case>>;
    const auto result = std::make_shared<core::async_result<outcome>>(ex.executor());
    backend.get_case(claim->case_id, core::async_result<outcome>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const outcome& found = *result->value();
    if (!found) {
        spdlog::warn("ack link case={}: cannot read the case: {}", claim->case_id,
                     found.err().code);
        co_return error_page(ack_page_kind::busy, language);
    }
    if (!found->has_value()) {
        co_return error_page(ack_page_kind::not_found, language);
    }
    co_return html_reply(200, render_ack_confirm(**found, who));
}

}  // namespace

ack_backend ack_backend_of(store::store& db, ingest::case_service& cases,
                           std::shared_ptr<const core::crypto::key> key) {
    ack_backend b;
    b.key = std::move(key);
    b.get_case = [&db](std::int64_t id,
                       std::function<void(core::result<std::optional<ack_case>>)> done) {
        db.get_case(id, [done = std::move(done)](core::result<std::optional<store::case_view>> r) {
            if (!r) {
                done(r.err());
                return;
            }
            if (!r->has_value()) {
                done(std::optional<ack_case>{});
                return;
            }
            const auto& v = **r;
            ack_case c;
            c.id = v.record.id;
            c.state = std::string{domain::to_string(v.record.state)};
            c.severity = v.record.severity;
            c.created_at = v.record.created_at;
            c.acked_by = v.record.acked_by;
            c.resolved_by = v.record.resolved_by;
            c.first_report = v.first_report;
            done(std::optional<ack_case>{std::move(c)});
        });
    };
    b.act = [&cases](bool resolve, std::int64_t id, std::string target, std::string once_key,
                     std::function<void(core::result<ack_done>)> done) {
        cases.act(
            resolve ? store::case_action::kind::resolve : store::case_action::kind::acknowledge, id,
            ingest::case_actor{std::move(target), "link"}, "", std::move(once_key),
            [done = std::move(done), resolve](core::result<store::case_action_result> r) {
                if (!r) {
                    done(r.err());
                    return;
                }
                done(ack_done{resolve ? "resolve" : "ack", r->changed,
                              std::string{domain::to_string(r->before)},
                              std::string{domain::to_string(r->after)}});
            });
    };
    return b;
}

core::status add_ack(route_table& routes, const application& app, ack_backend backend) {
    endpoint e;
    e.pattern = "/v1/ack/{token}";
    e.methods = method::get | method::post;
    e.auth = auth_kind::none;
    e.handle = [&app, backend = std::make_shared<const ack_backend>(std::move(backend))](
                   exchange& ex) { return handle_ack(app, *backend, ex); };
    return routes.add(std::move(e));
}

}  // namespace hotline::http::endpoints
