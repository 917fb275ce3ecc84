#include "core/cidr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace hotline::core {

std::optional<ip_address> parse_ip(std::string_view s) {
    if (s.empty() || s.size() > 45) {
        return std::nullopt;
    }
    const std::string z(s);
    ip_address a;
    if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) == 1) {
        a.v4 = true;
        return a;
    }
    if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) != 1) {
        return std::nullopt;
    }
    static constexpr std::array<std::uint8_t, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(mapped.begin(), mapped.end(), a.bytes.begin())) {
        std::copy(a.bytes.begin() + 12, a.bytes.end(), a.bytes.begin());
        std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
        a.v4 = true;
    }
    return a;
}

std::optional<cidr> parse_cidr(std::string_view s) {
    const auto slash = s.find('/');
    const auto addr = parse_ip(s.substr(0, slash));
    if (!addr) {
        return std::nullopt;
    }
    const unsigned bits = addr->v4 ? 32 : 128;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        const auto digits = s.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) {
            return std::nullopt;
        }
        const auto [end, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc{} || end != digits.data() + digits.size() || prefix > bits) {
            return std::nullopt;
        }
    }
    cidr c{*addr, prefix};
    if (!contains(c, *addr)) {
        return std::nullopt;
    }
    for (unsigned i = 0; i < bits; ++i) {
        const auto bit = static_cast<std::uint8_t>(0x80U >> (i % 8));
        if (i >= prefix && (addr->bytes[i / 8] & bit) != 0) {
            return std::nullopt;
        }
    }
    return c;
}

bool contains(const cidr& range, const ip_address& a) noexcept {
    if (range.base.v4 != a.v4) {
        return false;
    }
    const unsigned full = range.prefix / 8;
    for (unsigned i = 0; i < full; ++i) {
        if (range.base.bytes[i] != a.bytes[i]) {
            return false;
        }
    }
    if (const unsigned rest = range.prefix % 8; rest != 0) {
        const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
        if ((range.base.bytes[full] & mask) != (a.bytes[full] & mask)) {
            return false;
        }
    }
    return true;
}

bool contains_any(const std::vector<cidr>& ranges, const ip_address& a) noexcept {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&a](const cidr& r) { return contains(r, a); });
}

}  // namespace hotline::core
