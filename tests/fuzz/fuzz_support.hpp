// Shared by the libFuzzer targets: a check that aborts (libFuzzer reports it as a crash with
// the input) and a splitter for inputs made of several named parts.
#pragma once
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

namespace hotline::fuzz {

inline void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// Splits `input` at lines "--8<--" (the marker and its line break are dropped): part 0 is
// what comes before the first marker. At most `max_parts` parts; the rest stays in the last.
inline std::vector<std::string_view> split_parts(std::string_view input, std::size_t max_parts) {
    constexpr std::string_view marker = "\n--8<--\n";
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        const auto at = input.find(marker);
        if (at == std::string_view::npos) {
            break;
        }
        parts.push_back(input.substr(0, at));
        input.remove_prefix(at + marker.size());
    }
    parts.push_back(input);
    return parts;
}

}  // namespace hotline::fuzz
