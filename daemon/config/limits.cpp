// `rate_limits:` (under server: for every source, under a source for that one) and the
// "N/unit" rates they take.
#include <charconv>
#include <cmath>

#include "config/sections.hpp"

namespace hotline::config {

namespace {

// "200/s", "20/min", "1000/h"; "off" is rate 0. Nothing when malformed.
std::optional<double> parse_rate(std::string_view s) {
    if (s == "off") {
        return 0.0;
    }
    const auto slash = s.find('/');
    if (slash == std::string_view::npos || slash == 0) {
        return std::nullopt;
    }
    double count = 0;
    const std::string_view number = s.substr(0, slash);
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
    if (ec != std::errc{} || end != number.data() + number.size() || !std::isfinite(count) ||
        count <= 0) {
        return std::nullopt;
    }
    const std::string_view unit = s.substr(slash + 1);
    if (unit == "s") {
        return count;
    }
    if (unit == "min") {
        return count / 60.0;
    }
    if (unit == "h") {
        return count / 3600.0;
    }
    return std::nullopt;
}

// {rate: 20/min, burst: 10}, or {rate: off}.
std::optional<rate_limit> read_one(load_state& state, const document& d, const YAML::Node& node,
                                   const std::string& path) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path, {"rate", "burst"});
    if (!f) {
        return std::nullopt;
    }
    rate_limit out;
    const auto rate = f->find("rate");
    if (rate == f->end()) {
        y.fail(y.at(d, node), join(path, "rate"), "missing (a limit needs rate and burst)");
        return std::nullopt;
    }
    const YAML::Node& r = rate->second.second;
    const auto parsed = r.IsScalar() ? parse_rate(r.Scalar()) : std::nullopt;
    if (!parsed) {
        y.fail(y.at(d, r), join(path, "rate"),
               "expected a rate like 200/s, 20/min or 1000/h, or off");
        return std::nullopt;
    }
    out.rate = *parsed;
    const auto burst = f->find("burst");
    if (burst == f->end()) {
        if (out.enabled()) {
            y.fail(y.at(d, node), join(path, "burst"), "missing (a limit needs rate and burst)");
            return std::nullopt;
        }
        return out;
    }
    const auto b = y.read_integer(d, burst->second.second, join(path, "burst"), 1, 1'000'000'000);
    if (!b) {
        return std::nullopt;
    }
    out.burst = static_cast<std::size_t>(*b);
    return out;
}

}  // namespace

void read_rate_limits(load_state& state, const document& d, const YAML::Node& node,
                      const std::string& path, std::optional<rate_limit>& source,
                      std::optional<rate_limit>& sender) {
    const auto f = state.yaml.read_map(d, node, path, {"source", "sender"});
    if (!f) {
        return;
    }
    for (const auto& [key, entry] : *f) {
        auto limit = read_one(state, d, entry.second, join(path, key));
        if (!limit) {
            continue;
        }
        (key == "source" ? source : sender) = *limit;
    }
}

}  // namespace hotline::config
