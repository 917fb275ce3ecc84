#pragma once
#include <cstddef>
#include <string_view>

namespace hotline::core {

// Levenshtein distance (insert, delete, substitute; bytes, not code points). Costs
// O(a.size() * b.size()) time: callers bound their input before asking.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace hotline::core
