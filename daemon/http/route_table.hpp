// Which endpoint a request target names. Patterns are absolute paths of literal segments
// and `{name}` segments; a `{name}` matches one non-empty segment, handed to the handler
// percent-decoded. A pattern ending in "/*" matches every longer path below it that no
// other pattern matches (the handler reads path()). Matching is exact and case-sensitive: no
// trailing-slash or case folding, the query is ignored. Beast-free and pure, so it is tested
// without sockets.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "http/endpoint.hpp"

namespace hotline::http {

// Longest `{name}` segment accepted, decoded; longer ones do not match (404), so a huge
// path never reaches a handler or a lookup.
inline constexpr std::size_t max_param_size = 256;

using params = std::vector<std::pair<std::string, std::string>>;  // name, decoded value

struct route_match {
    enum class kind : std::uint8_t { found, not_found, method_not_allowed };
    kind result{kind::not_found};
    std::size_t index{0};  // the endpoint (found), or the pattern's first one (405)
    std::size_t route{0};  // the pattern's route id: label and request counters
    std::string allow;     // 405: "GET, HEAD", "POST"
    params captured;       // found: the `{name}` segments
};

class route_table {
public:
    // Adds an endpoint. Errors (code "route"): a malformed pattern (not starting with '/',
    // an empty segment, a bad or repeated `{name}`), no methods, no handler, or a method
    // already taken by another endpoint with the same pattern.
    [[nodiscard]] core::status add(endpoint e);

    // The endpoint for `target` and `m`. When several patterns match, the one with a
    // literal segment where the others have `{name}`, leftmost first, wins.
    [[nodiscard]] route_match match(std::string_view target, method m) const;

    [[nodiscard]] const endpoint& at(std::size_t index) const { return endpoints_[index]; }
    [[nodiscard]] std::size_t size() const noexcept { return endpoints_.size(); }

    // Distinct patterns, numbered from 0 in the order first added; route id
    // route_count() is "other" (no pattern matched).
    [[nodiscard]] std::size_t route_count() const noexcept { return patterns_.size(); }
    // The `route` metric label: the pattern, or "other".
    [[nodiscard]] std::string_view route_label(std::size_t route) const noexcept;

private:
    struct segment {
        std::string text;  // the literal, or the param name
        bool param{false};
    };
    struct pattern {
        std::string text;
        std::vector<segment> segments;
        method methods{method::none};  // union over its endpoints
        std::vector<std::size_t> endpoints;
        bool prefix{false};  // "/a/*": any longer path below /a/
    };
    [[nodiscard]] static bool matches(const pattern& p, const std::vector<std::string_view>& parts,
                                      params* out);

    std::vector<endpoint> endpoints_;
    std::vector<pattern> patterns_;
};

// Percent-decodes one path segment. Nothing when an escape is malformed or the result
// holds a '/' or a control byte (a segment stays one segment of printable text).
[[nodiscard]] std::optional<std::string> decode_segment(std::string_view s);

// "GET, HEAD", "POST", ... in a fixed order.
[[nodiscard]] std::string allow_list(method set);

}  // namespace hotline::http
