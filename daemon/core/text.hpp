// Small text rules shared by every layer: distances for did-you-mean hints, ASCII
// case-insensitive compare and trim for protocol tokens, and the label-name rule.
#pragma once
#include <cstddef>
#include <string_view>

namespace hotline::core {

// Levenshtein distance (insert, delete, substitute; bytes, not code points). Costs
// O(a.size() * b.size()) time: callers bound their input before asking.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// ASCII-only case folding: protocol tokens (header names, charsets, schemes) are ASCII,
// and a locale must not change what a header means.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

// `s` without leading and trailing bytes from `chars` (by default spaces and tabs, the
// optional white space of HTTP and MIME headers).
[[nodiscard]] std::string_view trim(std::string_view s, std::string_view chars = " \t") noexcept;
[[nodiscard]] std::string_view trim_end(std::string_view s,
                                        std::string_view chars = " \t") noexcept;

// The one rule for label names, wherever a label is written: the `labels` of a posted
// report, a matcher's `labels.<name>` and a route's `labels:`. 1 to 64 bytes of ASCII
// letters, digits, '_', '-' and '.', starting with a letter or '_' (so `case.ref` and
// `sub-type_1` are names; `9x`, `.x`, `-x`, `a b` and non-ASCII are not). The first
// character keeps names readable as identifiers in templates and `labels.<name>`.
inline constexpr std::size_t label_name_max = 64;
[[nodiscard]] bool is_label_name(std::string_view s) noexcept;
// The rule in words, for error messages: "expected a label name of " + label_name_rule.
inline constexpr std::string_view label_name_rule =
    "letters, digits, '_', '-' or '.' (starting with a letter or '_', at most 64 bytes)";

}  // namespace hotline::core
