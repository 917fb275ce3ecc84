#include "core/duration.hpp"

#include <cctype>
#include <cstdint>
#include <limits>
#include <string>

namespace hotline::core {

result<duration> parse_duration(std::string_view text) {
    const auto bad = [&](const std::string& why) {
        return make_error("duration", "invalid duration \"" + std::string(text) + "\": " + why +
                                          " (expected e.g. 90s, 15m, 6h, 1h30m, 250ms)");
    };
    if (text.empty()) {
        return bad("empty");
    }
    std::int64_t total_ms = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
            return bad("expected a number");
        }
        std::int64_t n = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
            n = n * 10 + (text[i] - '0');
            if (n > 1'000'000'000) {
                return bad("number too large");
            }
            ++i;
        }
        std::int64_t unit_ms = 0;
        if (text.substr(i, 2) == "ms") {
            unit_ms = 1;
            i += 2;
        } else if (i < text.size()) {
            switch (text[i]) {
                case 's': unit_ms = 1000; break;
                case 'm': unit_ms = 60'000; break;
                case 'h': unit_ms = 3'600'000; break;
                case 'd': unit_ms = 86'400'000; break;
                default: return bad("unknown unit");
            }
            ++i;
        } else {
            return bad("missing unit");
        }
        total_ms += n * unit_ms;
        if (total_ms > std::int64_t{366} * 86'400'000) {
            return bad("longer than a year");
        }
    }
    return duration{total_ms};
}

std::string format_duration(duration d) {
    std::int64_t ms = d.count();
    if (ms == 0) {
        return "0s";
    }
    std::string out;
    const std::pair<std::int64_t, const char*> units[] = {
        {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    for (const auto& [size, name] : units) {
        if (ms >= size) {
            out += std::to_string(ms / size) + name;
            ms %= size;
        }
    }
    return out;
}

}  // namespace hotline::core
