// Exponential backoff with full jitter (AWS architecture blog "Exponential Backoff And
// Jitter"): the n-th retry waits a uniform random time in [0, min(cap, base * 2^(n-1))],
// so a burst of failures toward one provider does not come back as a synchronized burst.
#pragma once
#include <cstdint>
#include <functional>

#include "config/model.hpp"

namespace hotline::dispatch {

// `attempts` = attempts made so far (≥ 1). `random01` returns a uniform value in [0, 1).
[[nodiscard]] core::duration backoff_delay(const config::retry_policy& policy, int attempts,
                                           const std::function<double()>& random01);

// Whether another attempt is allowed after `attempts` attempts, for a job created at
// `created_ms`, if the next one would happen at `next_ms`.
[[nodiscard]] bool may_retry(const config::retry_policy& policy, int attempts,
                             std::int64_t created_ms, std::int64_t next_ms);

// A libsodium-backed uniform [0, 1) source.
[[nodiscard]] double random_unit();

}  // namespace hotline::dispatch
