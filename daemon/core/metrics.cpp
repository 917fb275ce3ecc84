#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace hotline::core {
namespace {

std::string escape_label(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string render_labels(const labels& l, const std::string& extra_key = {},
                          const std::string& extra_value = {}) {
    if (l.empty() && extra_key.empty()) {
        return {};
    }
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : l) {
        out += (first ? "" : ",") + k + "=\"" + escape_label(v) + "\"";
        first = false;
    }
    if (!extra_key.empty()) {
        out += (first ? "" : ",") + extra_key + "=\"" + extra_value + "\"";
    }
    return out + "}";
}

std::string number(double v) {
    if (std::isinf(v)) {
        return v > 0 ? "+Inf" : "-Inf";
    }
    std::ostringstream s;
    s.precision(12);
    s << v;
    return s.str();
}

}  // namespace

metrics::family& metrics::get(const std::string& name, const char* type) {
    auto& f = families_[name];
    if (f.type.empty()) {
        f.type = type;
    }
    return f;
}

void metrics::counter_add(const std::string& name, const labels& l, double v) {
    const std::lock_guard lock(mu_);
    get(name, "counter").values[l] += v;
}

void metrics::counter_set(const std::string& name, const labels& l, double v) {
    const std::lock_guard lock(mu_);
    get(name, "counter").values[l] = v;
}

void metrics::gauge_set(const std::string& name, const labels& l, double v) {
    const std::lock_guard lock(mu_);
    get(name, "gauge").values[l] = v;
}

void metrics::observe(const std::string& name, const labels& l, double v) {
    const std::lock_guard lock(mu_);
    auto& f = get(name, "histogram");
    auto& h = f.histograms[l];
    if (h.counts.size() != f.buckets.size()) {
        h.counts.assign(f.buckets.size(), 0);
    }
    for (std::size_t i = 0; i < f.buckets.size(); ++i) {
        if (v <= f.buckets[i]) {
            h.counts[i] += 1;
            break;
        }
    }
    h.sum += v;
    h.count += 1;
}

void metrics::describe_counter(const std::string& name, const std::string& help) {
    const std::lock_guard lock(mu_);
    get(name, "counter").help = help;
}

void metrics::describe_gauge(const std::string& name, const std::string& help) {
    const std::lock_guard lock(mu_);
    get(name, "gauge").help = help;
}

void metrics::describe_histogram(const std::string& name, const std::string& help,
                                 std::vector<double> buckets) {
    const std::lock_guard lock(mu_);
    auto& f = get(name, "histogram");
    f.help = help;
    std::sort(buckets.begin(), buckets.end());
    f.buckets = std::move(buckets);
}

void metrics::on_collect(std::function<void(metrics&)> fn) {
    const std::lock_guard lock(mu_);
    collectors_.push_back(std::move(fn));
}

std::string metrics::render() {
    std::vector<std::function<void(metrics&)>> collectors;
    {
        const std::lock_guard lock(mu_);
        collectors = collectors_;
    }
    for (auto& c : collectors) {
        c(*this);
    }
    const std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [name, f] : families_) {
        if (!f.help.empty()) {
            out += "# HELP " + name + " " + f.help + "\n";
        }
        out += "# TYPE " + name + " " + f.type + "\n";
        if (f.type == "histogram") {
            for (const auto& [l, h] : f.histograms) {
                double cumulative = 0;
                for (std::size_t i = 0; i < f.buckets.size(); ++i) {
                    cumulative += i < h.counts.size() ? h.counts[i] : 0;
                    out += name + "_bucket" + render_labels(l, "le", number(f.buckets[i])) + " " +
                           number(cumulative) + "\n";
                }
                out += name + "_bucket" + render_labels(l, "le", "+Inf") + " " + number(h.count) +
                       "\n";
                out += name + "_sum" + render_labels(l) + " " + number(h.sum) + "\n";
                out += name + "_count" + render_labels(l) + " " + number(h.count) + "\n";
            }
        } else {
            for (const auto& [l, v] : f.values) {
                out += name + render_labels(l) + " " + number(v) + "\n";
            }
        }
    }
    return out;
}

double metrics::value(const std::string& name, const labels& l) const {
    const std::lock_guard lock(mu_);
    const auto it = families_.find(name);
    if (it == families_.end()) {
        return 0;
    }
    if (it->second.type == "histogram") {
        const auto h = it->second.histograms.find(l);
        return h == it->second.histograms.end() ? 0 : h->second.count;
    }
    const auto v = it->second.values.find(l);
    return v == it->second.values.end() ? 0 : v->second;
}

}  // namespace hotline::core
