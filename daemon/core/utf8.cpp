#include "core/utf8.hpp"

#include <cstdint>

namespace hotline::core {
namespace {

[[nodiscard]] constexpr bool is_continuation(unsigned char c) noexcept {
    return (c & 0xC0U) == 0x80U;
}

}  // namespace

char32_t decode_utf8(std::string_view s, std::size_t& pos) noexcept {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const std::size_t left = s.size() - pos;
    const unsigned char c0 = at(pos);
    if (c0 < 0x80U) {
        ++pos;
        return c0;
    }
    // Table 3-7 of the Unicode standard: the second byte's range depends on the first,
    // which is what rules out overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF)
    // and code points past U+10FFFF (F4 90.., F5..FF).
    if (c0 >= 0xC2U && c0 <= 0xDFU) {
        if (left < 2 || !is_continuation(at(pos + 1))) {
            return invalid_code_point;
        }
        const char32_t cp = (char32_t{c0} & 0x1FU) << 6U | (char32_t{at(pos + 1)} & 0x3FU);
        pos += 2;
        return cp;
    }
    if (c0 >= 0xE0U && c0 <= 0xEFU) {
        if (left < 3) {
            return invalid_code_point;
        }
        const unsigned char c1 = at(pos + 1);
        const unsigned char lo = c0 == 0xE0U ? 0xA0U : 0x80U;
        const unsigned char hi = c0 == 0xEDU ? 0x9FU : 0xBFU;
        if (c1 < lo || c1 > hi || !is_continuation(at(pos + 2))) {
            return invalid_code_point;
        }
        const char32_t cp = (char32_t{c0} & 0x0FU) << 12U | (char32_t{c1} & 0x3FU) << 6U |
                            (char32_t{at(pos + 2)} & 0x3FU);
        pos += 3;
        return cp;
    }
    if (c0 >= 0xF0U && c0 <= 0xF4U) {
        if (left < 4) {
            return invalid_code_point;
        }
        const unsigned char c1 = at(pos + 1);
        const unsigned char lo = c0 == 0xF0U ? 0x90U : 0x80U;
        const unsigned char hi = c0 == 0xF4U ? 0x8FU : 0xBFU;
        if (c1 < lo || c1 > hi || !is_continuation(at(pos + 2)) || !is_continuation(at(pos + 3))) {
            return invalid_code_point;
        }
        const char32_t cp = (char32_t{c0} & 0x07U) << 18U | (char32_t{c1} & 0x3FU) << 12U |
                            (char32_t{at(pos + 2)} & 0x3FU) << 6U | (char32_t{at(pos + 3)} & 0x3FU);
        pos += 4;
        return cp;
    }
    return invalid_code_point;  // 80..C1 (stray continuation, overlong 2-byte), F5..FF
}

std::size_t find_invalid_utf8(std::string_view s) noexcept {
    std::size_t pos = 0;
    while (pos < s.size()) {
        // ASCII runs are the common case: skip eight bytes at a time.
        while (pos + 8 <= s.size()) {
            std::uint64_t word = 0;
            for (std::size_t i = 0; i < 8; ++i) {
                word |= std::uint64_t{static_cast<unsigned char>(s[pos + i])} << (8 * i);
            }
            if ((word & 0x8080808080808080ULL) != 0) {
                break;
            }
            pos += 8;
        }
        if (pos >= s.size()) {
            break;
        }
        if (decode_utf8(s, pos) == invalid_code_point) {
            return pos;
        }
    }
    return std::string_view::npos;
}

std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept {
    if (s.size() <= max_bytes) {
        return s;
    }
    std::size_t end = max_bytes;
    while (end > 0 && is_continuation(static_cast<unsigned char>(s[end]))) {
        --end;
    }
    return s.substr(0, end);
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

}  // namespace hotline::core
