#include "http/endpoints/cases.hpp"

#include <algorithm>
#include <charconv>
#include <memory>

#include "core/async_event.hpp"
#include "core/form.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "dispatch/planner.hpp"
#include "http/auth.hpp"
#include "http/router.hpp"
#include "ingest/cases.hpp"

namespace hotline::http::endpoints {
namespace {

using json = nlohmann::json;
using ordered = nlohmann::ordered_json;
using backend_ptr = std::shared_ptr<const cases_backend>;

constexpr std::size_t max_note_bytes = 4096;

core::error bad(std::string message) {
    return core::make_error("bad_request", std::move(message));
}

bool parse_positive(std::string_view text, std::int64_t& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && end == text.data() + text.size() && out > 0;
}

reply store_failed(const core::error& e) {
    return store_unavailable("cases API", e);
}

reply no_case() {
    return error_reply(404, "not_found", "no such case");
}

std::string_view query_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

std::string time_or_empty(std::int64_t ms) {
    return ms > 0 ? dispatch::iso8601_utc(ms) : std::string{};
}

// A person may see case `v` when admin or notified for it.
bool may_see(const api_caller& caller, const store::case_view& v) {
    return caller.admin ||
           std::find(v.targets.begin(), v.targets.end(), caller.target) != v.targets.end();
}

// The case `id` when `caller` may see it: nullopt with `failed` set otherwise.
asio::awaitable<std::optional<store::case_view>> visible_case(backend_ptr backend,
                                                              const api_caller& caller,
                                                              std::int64_t id, exchange& ex,
                                                              std::optional<reply>& failed) {
    using found_t = core::result<std::optional<store::case_view>>;
    const auto result = std::make_shared<core::async_result<found_t>>(ex.executor());
    backend->get(id, core::async_result<found_t>::completion(result));
    if (!co_await ex.wait(result->event())) {
        failed = no_reply();
        co_return std::nullopt;
    }
    const found_t& found = *result->value();
    if (!found) {
        failed = store_failed(found.err());
        co_return std::nullopt;
    }
    if (!found->has_value() || !may_see(caller, **found)) {
        failed = no_case();
        co_return std::nullopt;
    }
    co_return **found;
}

asio::awaitable<reply> handle_list(backend_ptr backend, exchange& ex) {
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {  // the route is person_token: the server checked
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    auto q = parse_cases_query(query_of(ex.target()), caller->admin ? "" : caller->target);
    if (!q) {
        co_return error_reply(400, q.err().code, q.err().message);
    }
    const std::size_t limit = q->limit;
    using listing = core::result<std::vector<store::case_record>>;
    const auto result = std::make_shared<core::async_result<listing>>(ex.executor());
    backend->list(std::move(*q), core::async_result<listing>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const listing& list = *result->value();
    if (!list) {
        co_return store_failed(list.err());
    }
    ordered out;
    out["cases"] = ordered::array();
    for (const auto& c : *list) {
        out["cases"].push_back(case_json(c));
    }
    // A full page may have more below it.
    if (list->size() == limit && !list->empty()) {
        out["next_before"] = list->back().id;
    } else {
        out["next_before"] = nullptr;
    }
    co_return json_reply(200, out);
}

asio::awaitable<reply> handle_show(backend_ptr backend, exchange& ex) {
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    std::int64_t id = 0;
    if (!parse_positive(ex.param("id"), id)) {
        co_return no_case();
    }
    std::optional<reply> failed;
    auto v = co_await visible_case(backend, *caller, id, ex, failed);
    if (!v) {
        co_return std::move(*failed);
    }
    co_return json_reply(200, case_view_json(*v));
}

asio::awaitable<reply> handle_act(backend_ptr backend, store::case_action::kind what,
                                  exchange& ex) {
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    std::int64_t id = 0;
    if (!parse_positive(ex.param("id"), id)) {
        co_return no_case();
    }
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    if (!ex.body().empty() && !is_json_media_type(ex.header("Content-Type"))) {
        co_return error_reply(415, "unsupported_media_type",
                              "Content-Type must be application/json");
    }
    const bool is_note = what == store::case_action::kind::note;
    auto note = parse_action_body(ex.body(), is_note);
    if (!note) {
        co_return error_reply(400, note.err().code, note.err().message);
    }
    // Only a case the caller may see: anything else is answered as if there were none.
    std::optional<reply> failed;
    const auto v = co_await visible_case(backend, *caller, id, ex, failed);
    if (!v) {
        co_return std::move(*failed);
    }
    using acted = core::result<store::case_action_result>;
    const auto result = std::make_shared<core::async_result<acted>>(ex.executor());
    backend->act(what, id, caller->target, std::move(*note),
                 core::async_result<acted>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const acted& done = *result->value();
    if (!done) {
        if (done.err().code == "not_found") {
            co_return no_case();
        }
        co_return store_failed(done.err());
    }
    const char* action = what == store::case_action::kind::acknowledge ? "ack"
                         : what == store::case_action::kind::resolve   ? "resolve"
                                                                       : "note";
    spdlog::info("cases API case={} by {} action={} changed={}", id, caller->target, action,
                 done->changed);
    ordered out;
    out["case_id"] = id;
    out["action"] = action;
    out["changed"] = done->changed;
    out["before"] = std::string{domain::to_string(done->before)};
    out["after"] = std::string{domain::to_string(done->after)};
    co_return json_reply(200, out);
}

}  // namespace

core::result<store::case_query> parse_cases_query(std::string_view query, std::string target) {
    store::case_query q;
    q.target = std::move(target);
    const auto fields = core::parse_form(query, core::form_limits{2048, 16});
    if (!fields) {
        return bad("the query string does not parse: " + fields.err().message);
    }
    for (const auto& [name, value] : *fields) {
        if (name == "state") {
            const auto s = domain::parse_case_state(value);
            if (!s) {
                return bad("state must be open, acknowledged or resolved");
            }
            q.state = *s;
        } else if (name == "limit") {
            std::int64_t n = 0;
            if (!parse_positive(value, n) || n > 1000) {
                return bad("limit must be a number from 1 to 1000");
            }
            q.limit = static_cast<std::size_t>(n);
        } else if (name == "before") {
            std::int64_t n = 0;
            if (!parse_positive(value, n)) {
                return bad("before must be a case number");
            }
            q.before_id = n;
        } else {
            return bad("unknown query parameter (use state, limit or before)");
        }
    }
    return q;
}

core::result<std::string> parse_action_body(std::string_view body, bool note_required) {
    std::string note;
    if (!body.empty()) {
        const auto j = json::parse(body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            return bad("the body must be a JSON object, like {\"note\": \"on my way\"}");
        }
        for (const auto& [key, value] : j.items()) {
            if (key != "note") {
                return bad("unknown field \"" + std::string(core::utf8_prefix(key, 64)) +
                           "\" (the only field is note)");
            }
            if (!value.is_string()) {
                return bad("note must be a string");
            }
            note = value.get<std::string>();
        }
    }
    if (note.size() > max_note_bytes) {
        return bad("note is longer than 4096 bytes");
    }
    if (!core::is_valid_utf8(note)) {
        return bad("note is not valid UTF-8");
    }
    if (note_required && note.find_first_not_of(" \t\r\n") == std::string::npos) {
        return bad("note is required and must not be empty");
    }
    return note;
}

nlohmann::ordered_json case_json(const store::case_record& c) {
    ordered j;
    j["id"] = c.id;
    j["state"] = std::string{domain::to_string(c.state)};
    j["severity"] = c.severity;
    j["route"] = c.route;
    j["policy"] = c.policy.empty() ? ordered(nullptr) : ordered(c.policy);
    j["labels"] = c.labels.is_object() ? ordered(c.labels) : ordered::object();
    j["created_at"] = dispatch::iso8601_utc(c.created_at);
    j["updated_at"] = dispatch::iso8601_utc(c.updated_at > 0 ? c.updated_at : c.created_at);
    const auto nullable = [](const std::string& s) {
        return s.empty() ? ordered(nullptr) : ordered(s);
    };
    j["acked_by"] = nullable(c.acked_by);
    j["acked_at"] = nullable(c.acked_by.empty() ? "" : time_or_empty(c.acked_at));
    j["resolved_by"] = nullable(c.resolved_by);
    j["resolved_at"] = nullable(c.resolved_by.empty() ? "" : time_or_empty(c.resolved_at));
    j["reports"] = c.reports;
    j["last_report_at"] = nullable(time_or_empty(c.last_report_at));
    return j;
}

nlohmann::ordered_json case_view_json(const store::case_view& v) {
    ordered out;
    out["case"] = case_json(v.record);
    out["targets"] = v.targets;
    out["latest_report_id"] =
        v.latest_report_id > 0 ? ordered(v.latest_report_id) : ordered(nullptr);
    if (v.first_report) {
        const auto& r = *v.first_report;
        ordered report;
        report["source"] = r.source;
        report["received_at"] = dispatch::iso8601_utc(r.received_at);
        report["sender"] = r.sender;
        report["language"] = r.language;
        report["subject"] = r.subject;
        report["text"] = r.text;
        out["report"] = std::move(report);
    } else {
        out["report"] = nullptr;
    }
    out["events"] = ordered::array();
    for (const auto& e : v.events) {
        ordered event;
        event["id"] = e.id;
        event["at"] = dispatch::iso8601_utc(e.at);
        event["actor"] = e.actor;
        event["kind"] = e.kind;
        event["detail"] = e.detail.is_object() ? ordered(e.detail) : ordered::object();
        out["events"].push_back(std::move(event));
    }
    return out;
}

cases_backend cases_backend_of(store::store& db, ingest::case_service& cases) {
    cases_backend b;
    b.list = [&db](store::case_query q,
                   std::function<void(core::result<std::vector<store::case_record>>)> done) {
        db.list_cases(std::move(q), std::move(done));
    };
    b.get = [&db](std::int64_t id,
                  std::function<void(core::result<std::optional<store::case_view>>)> done) {
        db.get_case(id, std::move(done));
    };
    b.act = [&cases](store::case_action::kind what, std::int64_t id, std::string target,
                     std::string note,
                     std::function<void(core::result<store::case_action_result>)> done) {
        cases.act(what, id, ingest::case_actor{std::move(target), "api"}, std::move(note), "",
                  std::move(done));
    };
    return b;
}

core::status add_cases(route_table& routes, cases_backend backend) {
    const auto shared = std::make_shared<const cases_backend>(std::move(backend));
    endpoint list;
    list.pattern = "/v1/cases";
    list.methods = method::get;
    list.auth = auth_kind::person_token;
    list.handle = [shared](exchange& ex) { return handle_list(shared, ex); };
    if (auto added = routes.add(std::move(list)); !added) {
        return added;
    }
    endpoint show;
    show.pattern = "/v1/cases/{id}";
    show.methods = method::get;
    show.auth = auth_kind::person_token;
    show.handle = [shared](exchange& ex) { return handle_show(shared, ex); };
    if (auto added = routes.add(std::move(show)); !added) {
        return added;
    }
    for (const auto& [name, what] : {std::pair{"ack", store::case_action::kind::acknowledge},
                                     std::pair{"resolve", store::case_action::kind::resolve},
                                     std::pair{"note", store::case_action::kind::note}}) {
        endpoint act;
        act.pattern = std::string("/v1/cases/{id}/") + name;
        act.methods = method::post;
        act.auth = auth_kind::person_token;
        act.handle = [shared, what = what](exchange& ex) { return handle_act(shared, what, ex); };
        if (auto added = routes.add(std::move(act)); !added) {
            return added;
        }
    }
    return core::ok();
}

}  // namespace hotline::http::endpoints
