#include "core/text.hpp"

#include <algorithm>
#include <vector>

namespace hotline::core {

namespace {

constexpr bool is_ascii_letter(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // One row of the table is enough: `diagonal` keeps the cell the row overwrote.
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0U : 1U)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

std::string_view trim_end(std::string_view s, std::string_view chars) noexcept {
    const auto last = s.find_last_not_of(chars);
    return last == std::string_view::npos ? std::string_view() : s.substr(0, last + 1);
}

std::string_view trim(std::string_view s, std::string_view chars) noexcept {
    const auto first = s.find_first_not_of(chars);
    return first == std::string_view::npos ? std::string_view() : trim_end(s.substr(first), chars);
}

bool is_label_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > label_name_max ||
        !(is_ascii_letter(s.front()) || s.front() == '_')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return is_ascii_letter(c) || is_ascii_digit(c) || c == '_' || c == '-' || c == '.';
    });
}

}  // namespace hotline::core
