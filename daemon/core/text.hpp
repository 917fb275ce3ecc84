#pragma once
#include <cstddef>
#include <string_view>

namespace hotline::core {

// Levenshtein distance (insert, delete, substitute; bytes, not code points). Costs
// O(a.size() * b.size()) time: callers bound their input before asking.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace hotline::core

namespace hotline::core {

// ASCII case-insensitive equality (HTTP header values, media types, schemes); bytes
// outside A-Z compare as they are.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

// `s` without leading and trailing spaces and tabs (HTTP optional whitespace).
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

}  // namespace hotline::core
