#include "http/endpoints/checkins.hpp"

#include <chrono>
#include <memory>

#include "core/async_event.hpp"
#include "core/duration.hpp"
#include "core/log.hpp"
#include "dispatch/planner.hpp"
#include "http/auth.hpp"
#include "http/router.hpp"

namespace hotline::http::endpoints {
namespace {

using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

// The longest period a start may ask for (a check-in a year apart alarms nobody in time).
constexpr std::int64_t max_interval_ms = 30LL * 24 * 3'600'000;

ordered time_or_null(std::int64_t ms) {
    return ms > 0 ? ordered(dispatch::iso8601_utc(ms)) : ordered(nullptr);
}

reply store_failed(const core::error& e) {
    return store_unavailable("checkins", e);
}

asio::awaitable<reply> handle_list(ingest::checkin_service& checkins, exchange& ex) {
    using listing = core::result<std::vector<ingest::checkin_view>>;
    const auto result = std::make_shared<core::async_result<listing>>(ex.executor());
    checkins.list(core::async_result<listing>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const listing& list = *result->value();
    if (!list) {
        co_return store_failed(list.err());
    }
    const std::int64_t now = ex.clock().now_ms();
    ordered out;
    out["checkins"] = ordered::array();
    for (const auto& v : *list) {
        out["checkins"].push_back(checkin_json(v, now));
    }
    co_return json_reply(200, out);
}

asio::awaitable<reply> handle_change(ingest::checkin_service& checkins, bool start, exchange& ex) {
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {  // the route is person_token: the server checked
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    std::int64_t interval = 0;
    if (start) {
        if (!ex.body().empty() && !is_json_media_type(ex.header("Content-Type"))) {
            co_return error_reply(415, "unsupported_media_type",
                                  "Content-Type must be application/json");
        }
        auto parsed = parse_checkin_start(ex.body());
        if (!parsed) {
            co_return error_reply(400, parsed.err().code, parsed.err().message);
        }
        interval = *parsed;
    }
    const std::string id(ex.param("id"));
    using changed = core::result<ingest::checkin_view>;
    const auto result = std::make_shared<core::async_result<changed>>(ex.executor());
    if (start) {
        checkins.start(id, interval, caller->target, "api",
                       core::async_result<changed>::completion(result));
    } else {
        checkins.stop(id, caller->target, "api", core::async_result<changed>::completion(result));
    }
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const changed& c = *result->value();
    if (!c) {
        if (c.err().code == "not_found") {
            co_return error_reply(404, "not_found", "no enrolled defender of that id");
        }
        co_return store_failed(c.err());
    }
    spdlog::info("checkin: defender={} {} by {}", id, start ? "started" : "stopped",
                 caller->target);
    co_return json_reply(200, checkin_json(*c, ex.clock().now_ms()));
}

}  // namespace

nlohmann::ordered_json checkin_json(const ingest::checkin_view& v, std::int64_t now_ms) {
    const auto& s = v.state;
    ordered j;
    j["id"] = s.id;
    j["name"] = v.enrollment != nullptr ? v.enrollment->name : "";
    const char* state = s.active            ? (now_ms >= s.due_at ? "overdue" : "active")
                        : s.updated_at == 0 ? "never"
                                            : "stopped";
    j["state"] = state;
    const auto interval =
        s.interval_ms > 0 || v.enrollment == nullptr
            ? std::chrono::milliseconds(s.interval_ms)
            : std::chrono::duration_cast<std::chrono::milliseconds>(v.enrollment->interval);
    j["interval"] = core::format_duration(interval);
    j["grace"] = v.enrollment != nullptr
                     ? core::format_duration(v.enrollment->grace)
                     : core::format_duration(std::chrono::milliseconds(s.grace_ms));
    j["started_at"] = time_or_null(s.started_at);
    j["last_checkin"] = time_or_null(s.last_at);
    j["due_at"] = s.active ? time_or_null(s.due_at) : ordered(nullptr);
    j["updated_by"] = s.updated_by.empty() ? ordered(nullptr) : ordered(s.updated_by);
    return j;
}

core::result<std::int64_t> parse_checkin_start(std::string_view body) {
    if (body.empty()) {
        return std::int64_t{0};
    }
    const auto j = json::parse(body, nullptr, false);
    if (!j.is_object()) {
        return core::make_error("bad_request", "the body must be a JSON object");
    }
    for (const auto& [key, value] : j.items()) {
        if (key != "interval") {
            return core::make_error("bad_request",
                                    "unknown field \"" + key + "\" (the only one is interval)");
        }
    }
    const auto it = j.find("interval");
    if (it == j.end()) {
        return std::int64_t{0};
    }
    if (!it->is_string()) {
        return core::make_error("bad_request", "interval must be a string like \"6h\"");
    }
    auto d = core::parse_duration(it->get<std::string>());
    if (!d) {
        return core::make_error("bad_request", "interval: " + d.err().message);
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    if (ms < 60'000 || ms > max_interval_ms) {
        return core::make_error("bad_request", "interval must be between 1m and 30d");
    }
    return ms;
}

core::status add_checkins(route_table& routes, ingest::checkin_service& checkins) {
    endpoint list;
    list.pattern = "/v1/checkins";
    list.methods = method::get;
    list.auth = auth_kind::person_token;
    list.handle = [&checkins](exchange& ex) { return handle_list(checkins, ex); };
    if (auto added = routes.add(std::move(list)); !added) {
        return added;
    }
    for (const bool start : {true, false}) {
        endpoint e;
        e.pattern = start ? "/v1/checkins/{id}/start" : "/v1/checkins/{id}/stop";
        e.methods = method::post;
        e.auth = auth_kind::person_token;
        e.handle = [&checkins, start](exchange& ex) { return handle_change(checkins, start, ex); };
        if (auto added = routes.add(std::move(e)); !added) {
            return added;
        }
    }
    return core::ok();
}

}  // namespace hotline::http::endpoints
