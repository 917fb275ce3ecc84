#include "http/router.hpp"

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "core/text.hpp"
#include "http/endpoint.hpp"

namespace hotline::http {
namespace {

using core::iequals;
using core::trim;

// Compact, UTF-8 kept as is, never throws on bytes that are not UTF-8 (a message may
// quote a field name the client sent).
std::string dump(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

bool is_json_media_type(std::string_view content_type) noexcept {
    const auto semi = content_type.find(';');
    if (!iequals(trim(content_type.substr(0, semi)), "application/json")) {
        return false;
    }
    std::string_view params =
        semi == std::string_view::npos ? std::string_view{} : content_type.substr(semi + 1);
    while (!params.empty()) {
        const auto next = params.find(';');
        const std::string_view param = trim(params.substr(0, next));
        params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
        if (param.empty()) {
            continue;
        }
        const auto eq = param.find('=');
        if (eq == std::string_view::npos) {
            return false;
        }
        if (iequals(trim(param.substr(0, eq)), "charset")) {
            std::string_view value = trim(param.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (!iequals(value, "utf-8") && !iequals(value, "utf8")) {
                return false;
            }
        }
    }
    return true;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept {
    authorization = trim(authorization);
    constexpr std::string_view scheme = "bearer";
    if (authorization.size() <= scheme.size() ||
        !iequals(authorization.substr(0, scheme.size()), scheme) ||
        (authorization[scheme.size()] != ' ' && authorization[scheme.size()] != '\t')) {
        return std::nullopt;
    }
    const std::string_view token = trim(authorization.substr(scheme.size()));
    if (token.empty()) {
        return std::nullopt;
    }
    return token;
}

std::string error_body(std::string_view code, std::string_view message) {
    nlohmann::ordered_json inner;
    inner["code"] = code;
    inner["message"] = message;
    nlohmann::ordered_json outer;
    outer["error"] = std::move(inner);
    return dump(outer);
}

std::string ids_body(const domain::report_ids& ids) {
    nlohmann::ordered_json j;
    j["report_id"] = ids.report_id;
    j["case_id"] = ids.case_id;
    j["duplicate"] = ids.duplicate;
    return dump(j);
}

reply error_reply(unsigned status, std::string_view code, std::string_view message) {
    reply r;
    r.status = status;
    r.code = code;
    r.body = error_body(code, message);
    return r;
}

reply json_reply(unsigned status, const nlohmann::ordered_json& j) {
    reply r;
    r.status = status;
    r.body = dump(j);
    return r;
}

reply store_unavailable(std::string_view api, const core::error& e) {
    spdlog::error("{}: store failed: {}", api, e.describe());
    auto r = error_reply(503, "unavailable", "the store could not answer; retry");
    r.retry_after = 1;
    return r;
}

reply text_reply(unsigned status, std::string body, std::string_view type) {
    reply r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = type;
    return r;
}

reply no_reply() {
    reply r;
    r.status = 0;
    r.close = true;
    return r;
}

}  // namespace hotline::http
