// UTF-8 checks shared by every parser of outside input (JSON, YAML, MIME, SMS gateways):
// strict RFC 3629 validation. No allocation, no exceptions.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace hotline::core {

inline constexpr char32_t invalid_code_point = 0xFFFFFFFF;

// Decodes the code point at `pos` and advances `pos` past it. On a malformed sequence
// (truncated, stray continuation byte, overlong form, UTF-16 surrogate, above U+10FFFF)
// returns invalid_code_point and leaves `pos` unchanged. Requires pos < s.size().
[[nodiscard]] char32_t decode_utf8(std::string_view s, std::size_t& pos) noexcept;

// Offset of the first byte that does not start a well-formed sequence, or npos.
[[nodiscard]] std::size_t find_invalid_utf8(std::string_view s) noexcept;

[[nodiscard]] inline bool is_valid_utf8(std::string_view s) noexcept {
    return find_invalid_utf8(s) == std::string_view::npos;
}

// The longest prefix of `s` that is at most `max_bytes` long and ends on a code point
// boundary (s must be valid UTF-8). For messages that quote a short piece of input.
[[nodiscard]] std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept;

// Appends code point `c` (at most U+10FFFF, not a surrogate: the caller's check) as UTF-8.
void append_utf8(std::string& out, char32_t c);

}  // namespace hotline::core
