#include "http/router.hpp"

namespace hotline::http {
namespace {

[[nodiscard]] constexpr char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

[[nodiscard]] std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20U) {
            out += "\\u00";
            out += hex[c >> 4U];
            out += hex[c & 15U];
        } else {
            out += ch;
        }
    }
    out += '"';
}

}  // namespace

route route_of(std::string_view target) noexcept {
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    if (target == "/v1/reports") {
        return route::reports;
    }
    if (target == "/healthz") {
        return route::healthz;
    }
    if (target == "/readyz") {
        return route::readyz;
    }
    if (target == "/metrics") {
        return route::metrics;
    }
    return route::other;
}

std::string_view route_label(route r) noexcept {
    switch (r) {
        case route::reports: return "/v1/reports";
        case route::healthz: return "/healthz";
        case route::readyz: return "/readyz";
        case route::metrics: return "/metrics";
        case route::other: break;
    }
    return "other";
}

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
    std::string out;
    out.reserve(40 + code.size() + message.size());
    out += R"({"error":{"code":)";
    append_json_string(out, code);
    out += R"(,"message":)";
    append_json_string(out, message);
    out += "}}";
    return out;
}

std::string ids_body(const domain::report_ids& ids) {
    std::string out = R"({"report_id":)";
    out += std::to_string(ids.report_id);
    out += R"(,"case_id":)";
    out += std::to_string(ids.case_id);
    out += ids.duplicate ? R"(,"duplicate":true})" : R"(,"duplicate":false})";
    return out;
}

}  // namespace hotline::http
