// IP address ranges as written in a config (`allowed_addresses: [10.0.0.0/8, "::1"]`) and
// the test whether a peer address is in one. An IPv4-mapped IPv6 address
// (::ffff:10.1.2.3) is its IPv4 address. Pure; no name lookups.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace hotline::core {

struct ip_address {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool v4{false};
    bool operator==(const ip_address&) const = default;
};

struct cidr {
    ip_address base;  // host bits cleared
    unsigned prefix{0};
};

// "10.1.2.3", "2001:db8::1", "::ffff:10.1.2.3" (read as 10.1.2.3).
[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view s);
// "10.0.0.0/8", "2001:db8::/32", or one address ("127.0.0.1" = /32, "::1" = /128). Host
// bits set below the prefix ("10.0.0.1/8") are refused: a typo more often than meant.
[[nodiscard]] std::optional<cidr> parse_cidr(std::string_view s);
[[nodiscard]] bool contains(const cidr& range, const ip_address& a) noexcept;
[[nodiscard]] bool contains_any(const std::vector<cidr>& ranges, const ip_address& a) noexcept;

}  // namespace hotline::core
