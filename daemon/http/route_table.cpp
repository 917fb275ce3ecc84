#include "http/route_table.hpp"

#include <array>

namespace hotline::http {
namespace {

// Splits "/a/b" into {"a", "b"}; "/" into {""}. `path` starts with '/'.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    path.remove_prefix(1);
    for (;;) {
        const auto slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        path.remove_prefix(slash + 1);
    }
    return parts;
}

[[nodiscard]] bool valid_param_name(std::string_view name) noexcept {
    if (name.empty()) {
        return false;
    }
    for (const char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

[[nodiscard]] int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

struct method_name {
    method m;
    std::string_view name;
};
constexpr std::array<method_name, 7> method_names{{{method::get, "GET"},
                                                   {method::head, "HEAD"},
                                                   {method::post, "POST"},
                                                   {method::put, "PUT"},
                                                   {method::del, "DELETE"},
                                                   {method::patch, "PATCH"},
                                                   {method::options, "OPTIONS"}}};

}  // namespace

std::optional<std::string> decode_segment(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) {
                return std::nullopt;
            }
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || u < 0x20U || u == 0x7fU) {
            return std::nullopt;
        }
        out += c;
    }
    return out;
}

std::string allow_list(method set) {
    if (has(set, method::get)) {
        set = set | method::head;
    }
    std::string out;
    for (const auto& [m, name] : method_names) {
        if (has(set, m)) {
            if (!out.empty()) {
                out += ", ";
            }
            out += name;
        }
    }
    return out;
}

core::status route_table::add(endpoint e) {
    const auto fail = [&](std::string_view why) {
        return core::make_error("route", "endpoint \"" + e.pattern + "\": " + std::string(why));
    };
    if (e.pattern.empty() || e.pattern.front() != '/') {
        return fail("a pattern starts with '/'");
    }
    if (e.methods == method::none) {
        return fail("no methods");
    }
    if (!e.handle) {
        return fail("no handler");
    }
    std::vector<segment> segments;
    // "/v1/*": any path below /v1/ that no other pattern matches (the SMS sources, whose
    // paths come from the config and change on reload).
    const bool prefix = e.pattern.size() > 2 && e.pattern.ends_with("/*");
    const std::string_view fixed =
        prefix ? std::string_view(e.pattern).substr(0, e.pattern.size() - 2) : e.pattern;
    for (const auto part : split_path(fixed)) {
        if (part.empty() && e.pattern != "/") {
            return fail("empty segment");
        }
        if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
            const auto name = part.substr(1, part.size() - 2);
            if (!valid_param_name(name)) {
                return fail("a {name} is lower-case letters, digits and '_'");
            }
            for (const auto& s : segments) {
                if (s.param && s.text == name) {
                    return fail("repeated {" + std::string(name) + "}");
                }
            }
            segments.push_back({std::string(name), true});
        } else if (part.find_first_of("{}%?#") != std::string_view::npos) {
            return fail("a literal segment has no '{', '}', '%', '?' or '#'");
        } else {
            segments.push_back({std::string(part), false});
        }
    }
    if (has(e.methods, method::get)) {
        e.methods = e.methods | method::head;
    }
    std::size_t route = 0;
    while (route < patterns_.size() && patterns_[route].text != e.pattern) {
        ++route;
    }
    if (route == patterns_.size()) {
        patterns_.push_back({e.pattern, std::move(segments), method::none, {}, prefix});
    }
    auto& p = patterns_[route];
    if ((static_cast<std::uint8_t>(p.methods) & static_cast<std::uint8_t>(e.methods)) != 0) {
        return fail("a method is taken by another endpoint with this pattern");
    }
    p.methods = p.methods | e.methods;
    p.endpoints.push_back(endpoints_.size());
    endpoints_.push_back(std::move(e));
    return core::ok();
}

bool route_table::matches(const pattern& p, const std::vector<std::string_view>& parts,
                          params* out) {
    if (p.prefix ? parts.size() <= p.segments.size() : p.segments.size() != parts.size()) {
        return false;
    }
    params captured;
    for (std::size_t i = 0; i < p.segments.size(); ++i) {
        const auto& seg = p.segments[i];
        if (!seg.param) {
            if (seg.text != parts[i]) {
                return false;
            }
            continue;
        }
        if (parts[i].empty() || parts[i].size() > 3 * max_param_size) {
            return false;
        }
        auto value = decode_segment(parts[i]);
        if (!value || value->empty() || value->size() > max_param_size) {
            return false;
        }
        captured.emplace_back(seg.text, std::move(*value));
    }
    if (out != nullptr) {
        *out = std::move(captured);
    }
    return true;
}

route_match route_table::match(std::string_view target, method m) const {
    route_match out;
    out.route = patterns_.size();
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    if (target.empty() || target.front() != '/') {
        return out;
    }
    const auto parts = split_path(target);
    const pattern* best = nullptr;
    std::size_t best_route = 0;
    for (std::size_t r = 0; r < patterns_.size(); ++r) {
        const auto& p = patterns_[r];
        if (!matches(p, parts, nullptr)) {
            continue;
        }
        if (best != nullptr && p.prefix != best->prefix) {
            if (best->prefix) {  // a full pattern wins over a prefix
                best = &p;
                best_route = r;
            }
            continue;
        }
        if (best == nullptr) {
            best = &p;
            best_route = r;
            continue;
        }
        // More specific: a literal at the first position where the two differ in kind.
        for (std::size_t i = 0; i < p.segments.size(); ++i) {
            if (p.segments[i].param != best->segments[i].param) {
                if (!p.segments[i].param) {
                    best = &p;
                    best_route = r;
                }
                break;
            }
        }
    }
    if (best == nullptr) {
        return out;
    }
    out.route = best_route;
    for (const auto index : best->endpoints) {
        if (has(endpoints_[index].methods, m)) {
            out.result = route_match::kind::found;
            out.index = index;
            (void)matches(*best, parts, &out.captured);
            return out;
        }
    }
    out.result = route_match::kind::method_not_allowed;
    out.index = best->endpoints.front();
    out.allow = allow_list(best->methods);
    return out;
}

std::string_view route_table::route_label(std::size_t route) const noexcept {
    return route < patterns_.size() ? std::string_view(patterns_[route].text) : "other";
}

}  // namespace hotline::http
