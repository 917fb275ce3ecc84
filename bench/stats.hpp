// Latency summaries the bench tools share (bench_latency, bench_peer): nearest-rank
// percentiles over every sample that should exist, not only over those that completed.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace hotline_bench {

inline double ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

inline double round3(double x) {
    return std::round(x * 1000.0) / 1000.0;
}

// `v` holds the completed samples (ms); `missing` samples never completed (e.g. a webhook
// that did not arrive before the drain ended): they count as infinitely slow, so a
// percentile that falls among them is null rather than a flattering figure computed over the
// survivors only.
inline nlohmann::json summarize(std::vector<double> v, std::size_t missing) {
    nlohmann::json j;
    j["count"] = v.size();
    j["missing"] = missing;
    if (v.empty()) {
        return j;
    }
    const std::size_t total = v.size() + missing;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) -> nlohmann::json {  // nearest rank over all samples
        const auto rank = std::clamp<std::size_t>(
            static_cast<std::size_t>(std::ceil(p * static_cast<double>(total))), 1, total);
        if (rank > v.size()) {
            return nullptr;
        }
        return round3(v[rank - 1]);
    };
    double sum = 0;
    for (const double x : v) {
        sum += x;
    }
    j["min"] = round3(v.front());
    j["mean_of_completed"] = round3(sum / static_cast<double>(v.size()));
    j["p50"] = pct(0.50);
    j["p90"] = pct(0.90);
    j["p99"] = pct(0.99);
    j["p999"] = pct(0.999);
    j["max"] = missing == 0 ? nlohmann::json(round3(v.back())) : nlohmann::json(nullptr);
    j["max_of_completed"] = round3(v.back());
    return j;
}

}  // namespace hotline_bench
