// The severities a route can give a case, most urgent first: the one list the config
// reader, the route evaluation and the contact planner use.
#pragma once
#include <array>
#include <string_view>

namespace hotline::domain {

inline constexpr std::array<std::string_view, 4> severities{"critical", "high", "normal", "low"};

// What a case gets when no route on its path sets a severity.
inline constexpr std::string_view default_severity = "normal";

// 0 for the most urgent, severities.size() for a name that is not a severity.
[[nodiscard]] constexpr std::size_t severity_rank(std::string_view severity) noexcept {
    std::size_t rank = 0;
    while (rank < severities.size() && severities[rank] != severity) {
        ++rank;
    }
    return rank;
}

[[nodiscard]] constexpr bool is_severity(std::string_view severity) noexcept {
    return severity_rank(severity) < severities.size();
}

}  // namespace hotline::domain
