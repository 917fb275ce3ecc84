#pragma once
#include <chrono>
#include <string_view>

#include "core/result.hpp"

namespace hotline::core {

using duration = std::chrono::milliseconds;

// Parses "250ms", "90s", "15m", "6h", "2d" and sums like "1h30m". No bare numbers.
[[nodiscard]] result<duration> parse_duration(std::string_view text);

// Formats for humans and JSON: "1h30m", "250ms", "0s".
[[nodiscard]] std::string format_duration(duration d);

}  // namespace hotline::core
