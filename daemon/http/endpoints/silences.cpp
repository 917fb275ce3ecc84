#include "http/endpoints/silences.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <memory>

#include "core/async_event.hpp"
#include "core/duration.hpp"
#include "core/log.hpp"
#include "dispatch/planner.hpp"
#include "http/auth.hpp"
#include "http/router.hpp"
#include "ingest/silences.hpp"

namespace hotline::http::endpoints {
namespace {

using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

core::error bad(std::string message) {
    return core::make_error("bad_request", std::move(message));
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
    if (at + n > s.size()) {
        return false;
    }
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

// A time field: RFC 3339 text or an integer of unix ms.
core::result<std::int64_t> read_time(const json& v, std::string_view name) {
    if (v.is_number_integer()) {
        const auto ms = v.get<std::int64_t>();
        if (ms < 0) {
            return bad(std::string(name) + " must not be before 1970");
        }
        return ms;
    }
    if (v.is_string()) {
        if (auto ms = parse_rfc3339_ms(v.get<std::string>())) {
            return *ms;
        }
    }
    return bad(std::string(name) +
               " must be a time like 2026-12-03T15:00:00Z (RFC 3339) or unix milliseconds");
}

reply store_failed(const core::error& e) {
    return store_unavailable("silences", e);
}

// Reloads the pipeline's silences and waits for it; a failure is logged (the silence is
// stored, and the next reload or restart puts it in force) and answered 503.
asio::awaitable<std::optional<reply>> reload(store::store& db, ingest::pipeline& pipeline,
                                             exchange& ex) {
    const auto result = std::make_shared<core::async_result<core::status>>(ex.executor());
    ingest::reload_silences(db, pipeline, ex.executor(),
                            core::async_result<core::status>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    if (!result->value()->ok()) {
        co_return store_failed(result->value()->err());
    }
    co_return std::nullopt;
}

asio::awaitable<reply> handle_list(store::store& db, exchange& ex) {
    const std::string_view target = ex.target();
    const auto q = target.find('?');
    const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    bool all = false;
    if (query == "all=true" || query == "all=1") {
        all = true;
    } else if (!query.empty() && query != "all=false" && query != "all=0") {
        co_return error_reply(400, "bad_request", "the only query parameter is all=true");
    }
    using listing = core::result<std::vector<store::silence>>;
    const auto result = std::make_shared<core::async_result<listing>>(ex.executor());
    db.list_silences(all, core::async_result<listing>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const listing& list = *result->value();
    if (!list) {
        co_return store_failed(list.err());
    }
    const std::int64_t now = ex.clock().now_ms();
    ordered out;
    out["silences"] = ordered::array();
    for (const auto& s : *list) {
        out["silences"].push_back(silence_json(s, now));
    }
    co_return json_reply(200, out);
}

asio::awaitable<reply> handle_add(store::store& db, ingest::pipeline& pipeline, exchange& ex) {
    if (!is_json_media_type(ex.header("Content-Type"))) {
        co_return error_reply(415, "unsupported_media_type",
                              "Content-Type must be application/json");
    }
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {  // the route is person_token: the server checked
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    auto request = parse_silence_request(ex.body(), ex.clock().now_ms(), caller->target);
    if (!request) {
        co_return error_reply(400, request.err().code, request.err().message);
    }
    using added = core::result<store::silence>;
    const auto result = std::make_shared<core::async_result<added>>(ex.executor());
    db.add_silence(std::move(*request), core::async_result<added>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const added& s = *result->value();
    if (!s) {
        if (s.err().code == "invalid_argument") {
            co_return error_reply(400, "bad_request", s.err().message);
        }
        co_return store_failed(s.err());
    }
    spdlog::info("silence={} added by {} with {} matchers", s->id, caller->target,
                 s->matchers.size());
    if (auto failed = co_await reload(db, pipeline, ex)) {
        co_return std::move(*failed);
    }
    co_return json_reply(201, silence_json(*s, ex.clock().now_ms()));
}

asio::awaitable<reply> handle_expire(store::store& db, ingest::pipeline& pipeline, exchange& ex) {
    const std::string_view text = ex.param("id");
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size() || id <= 0) {
        co_return error_reply(404, "not_found", "no such silence");
    }
    const api_caller* caller = ex.caller();
    if (caller == nullptr) {
        co_return error_reply(401, "unauthorized", "a valid bearer token is required");
    }
    using expired = core::result<store::silence_expiry>;
    const auto result = std::make_shared<core::async_result<expired>>(ex.executor());
    db.expire_silence(id, caller->target, core::async_result<expired>::completion(result));
    if (!co_await ex.wait(result->event())) {
        co_return no_reply();
    }
    const expired& e = *result->value();
    if (!e) {
        if (e.err().code == "not_found") {
            co_return error_reply(404, "not_found", "no such silence");
        }
        co_return store_failed(e.err());
    }
    if (e->changed) {
        spdlog::info("silence={} expired by {}", id, caller->target);
        if (auto failed = co_await reload(db, pipeline, ex)) {
            co_return std::move(*failed);
        }
    }
    ordered out = silence_json(e->record, ex.clock().now_ms());
    out["changed"] = e->changed;
    co_return json_reply(200, out);
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
        !digits(s, 17, 2, second)) {
        return std::nullopt;
    }
    std::size_t i = 19;
    std::int64_t ms = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) {
                ms = ms * 10 + (s[i] - '0');
            }
            ++i;
        }
        const std::size_t n = i - start;
        if (n == 0 || n > 9) {
            return std::nullopt;
        }
        for (std::size_t k = n; k < 3; ++k) {
            ms *= 10;
        }
    }
    int offset_minutes = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh = 0;
        int om = 0;
        if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
            !digits(s, i + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size() || hour > 23 || minute > 59 || second > 59) {
        return std::nullopt;  // no leap seconds: a silence has no need of them
    }
    using namespace std::chrono;
    const year_month_day date{std::chrono::year{year},
                              std::chrono::month{static_cast<unsigned>(month)},
                              std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok() || year < 1970) {
        return std::nullopt;
    }
    const auto t =
        sys_days{date} + hours{hour} + minutes{minute} + seconds{second} - minutes{offset_minutes};
    const auto out = duration_cast<milliseconds>(t.time_since_epoch()).count() + ms;
    if (out < 0) {
        return std::nullopt;
    }
    return out;
}

core::result<store::new_silence> parse_silence_request(std::string_view body, std::int64_t now_ms,
                                                       const std::string& author) {
    const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        return bad("the body is not JSON (UTF-8)");
    }
    if (!j.is_object()) {
        return bad("the body must be a JSON object");
    }
    static constexpr std::array<std::string_view, 5> known{"matchers", "starts_at", "ends_at",
                                                           "duration", "comment"};
    for (const auto& [key, value] : j.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            return bad("unknown field \"" + key +
                       "\" (expected matchers, starts_at, ends_at, duration, comment)");
        }
    }
    store::new_silence out;
    out.author = author;
    const auto m = j.find("matchers");
    if (m == j.end() || !m->is_array() || m->empty()) {
        return bad("matchers must be a non-empty list of matchers like text =~ \"arrest\"");
    }
    if (m->size() > store::max_silence_matchers) {
        return bad("at most " + std::to_string(store::max_silence_matchers) +
                   " matchers in one silence, got " + std::to_string(m->size()));
    }
    for (std::size_t i = 0; i < m->size(); ++i) {
        const json& text = (*m)[i];
        if (!text.is_string()) {
            return bad("matchers[" + std::to_string(i) + "] must be a string");
        }
        const auto& spec = text.get_ref<const std::string&>();
        if (spec.size() > max_silence_matcher_size) {
            return bad("matchers[" + std::to_string(i) + "] is longer than " +
                       std::to_string(max_silence_matcher_size) + " bytes");
        }
        if (auto parsed = ingest::parse_silence_matcher(spec, i); !parsed) {
            return parsed.err();
        }
        out.matchers.push_back(spec);
    }
    const auto c = j.find("comment");
    if (c == j.end() || !c->is_string() || c->get_ref<const std::string&>().empty()) {
        return bad("comment must be a non-empty string (why the silence, for the audit trail)");
    }
    if (c->get_ref<const std::string&>().size() > max_silence_comment_size) {
        return bad("comment is longer than " + std::to_string(max_silence_comment_size) + " bytes");
    }
    out.comment = c->get<std::string>();
    out.starts_at = now_ms;
    const bool starts_given = j.contains("starts_at");
    if (const auto s = j.find("starts_at"); s != j.end()) {
        auto t = read_time(*s, "starts_at");
        if (!t) {
            return t.err();
        }
        out.starts_at = *t;
    }
    const auto e = j.find("ends_at");
    const auto d = j.find("duration");
    if ((e == j.end()) == (d == j.end())) {
        return bad("give either ends_at or duration (like \"2h\")");
    }
    if (e != j.end()) {
        auto t = read_time(*e, "ends_at");
        if (!t) {
            return t.err();
        }
        out.ends_at = *t;
    } else {
        if (!d->is_string()) {
            return bad("duration must be a string like \"2h\" or \"1h30m\"");
        }
        auto length = core::parse_duration(d->get<std::string>());
        if (!length) {
            return bad("duration: " + length.err().message);
        }
        out.ends_at =
            out.starts_at + std::chrono::duration_cast<std::chrono::milliseconds>(*length).count();
    }
    if (starts_given && out.ends_at <= out.starts_at) {
        return bad("ends_at must be after starts_at");
    }
    if (out.ends_at <= now_ms) {
        return bad("the silence would be over already (ends_at is in the past)");
    }
    if (out.ends_at <= out.starts_at) {
        return bad("ends_at must be after starts_at");
    }
    return out;
}

nlohmann::ordered_json silence_json(const store::silence& s, std::int64_t now_ms) {
    ordered j;
    j["id"] = s.id;
    j["matchers"] = s.matchers;
    j["starts_at"] = dispatch::iso8601_utc(s.starts_at);
    j["ends_at"] = dispatch::iso8601_utc(s.ends_at);
    j["author"] = s.author;
    j["comment"] = s.comment;
    j["created_at"] = dispatch::iso8601_utc(s.created_at);
    if (s.expired_at > 0) {
        j["expired_at"] = dispatch::iso8601_utc(s.expired_at);
        j["expired_by"] = s.expired_by;
    } else {
        j["expired_at"] = nullptr;
        j["expired_by"] = nullptr;
    }
    const char* state = s.expired_at > 0       ? "expired"
                        : now_ms >= s.ends_at  ? "ended"
                        : now_ms < s.starts_at ? "pending"
                                               : "active";
    j["state"] = state;
    return j;
}

core::status add_silences(route_table& routes, store::store& db, ingest::pipeline& pipeline) {
    endpoint list;
    list.pattern = "/v1/silences";
    list.methods = method::get;
    list.auth = auth_kind::person_token;
    list.handle = [&db](exchange& ex) { return handle_list(db, ex); };
    if (auto added = routes.add(std::move(list)); !added) {
        return added;
    }
    endpoint add;
    add.pattern = "/v1/silences";
    add.methods = method::post;
    add.auth = auth_kind::person_token;
    add.handle = [&db, &pipeline](exchange& ex) { return handle_add(db, pipeline, ex); };
    if (auto added = routes.add(std::move(add)); !added) {
        return added;
    }
    endpoint expire;
    expire.pattern = "/v1/silences/{id}/expire";
    expire.methods = method::post;
    expire.auth = auth_kind::person_token;
    expire.handle = [&db, &pipeline](exchange& ex) { return handle_expire(db, pipeline, ex); };
    return routes.add(std::move(expire));
}

}  // namespace hotline::http::endpoints
