#include "dispatch/backoff.hpp"
#include "core/random.hpp"

#include <algorithm>
#include <cmath>

namespace hotline::dispatch {

core::duration backoff_delay(const config::retry_policy& policy, int attempts,
                             const std::function<double()>& random01) {
    const double base = static_cast<double>(policy.initial_backoff.count());
    const double cap = static_cast<double>(policy.max_backoff.count());
    const int exponent = std::clamp(attempts - 1, 0, 40);  // 2^40 ms is far past any cap
    const double ceiling = std::min(cap, base * std::ldexp(1.0, exponent));
    const double r = std::clamp(random01(), 0.0, 1.0);
    return core::duration{static_cast<std::int64_t>(ceiling * r)};
}

bool may_retry(const config::retry_policy& policy, int attempts, std::int64_t created_ms,
               std::int64_t next_ms) {
    if (attempts >= policy.max_attempts) {
        return false;
    }
    return next_ms - created_ms <= policy.max_age.count();
}

double random_unit() {
    // 53 random bits -> a double in [0, 1).
    return static_cast<double>(core::random_u64() >> 11) * 0x1.0p-53;
}

}  // namespace hotline::dispatch
