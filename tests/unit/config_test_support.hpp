// What the config_*_test files share: a load result's errors as text, and the check that a
// load failed with exactly the expected errors (each file says how an error text matches).
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace hotline::test {

inline std::string dump(const config::load_result& r) {
    std::string out;
    for (const auto& e : r.errors) {
        out += e.describe() + "\n";
    }
    return out;
}

using error_match = std::function<bool(const std::string& got, const std::string& want)>;

inline bool error_equals(const std::string& got, const std::string& want) {
    return got == want;
}
inline bool error_starts_with(const std::string& got, const std::string& want) {
    return got.starts_with(want);
}
inline bool error_contains(const std::string& got, const std::string& want) {
    return got.find(want) != std::string::npos;
}

// The load failed; each expected text matches one error, and there is no other error.
inline void expect_errors(const config::load_result& r, const std::vector<std::string>& expected,
                          const error_match& matches) {
    INFO("errors:\n" << dump(r));
    CHECK(r.cfg == nullptr);
    for (const auto& e : expected) {
        bool found = false;
        for (const auto& got : r.errors) {
            found = found || matches(got.describe(), e);
        }
        CHECK_MESSAGE(found, "missing: " << e);
    }
    CHECK(r.errors.size() == expected.size());
}

}  // namespace hotline::test
