// A small Prometheus registry: labelled counters, gauges and histograms, safe to update
// from any thread, rendered in the text exposition format for GET /metrics.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hotline::core {

using labels = std::vector<std::pair<std::string, std::string>>;

class metrics {
public:
    void counter_add(const std::string& name, const labels& l, double v = 1.0);
    // A counter kept elsewhere (an atomic of the subsystem), copied in at render time.
    void counter_set(const std::string& name, const labels& l, double v);
    void gauge_set(const std::string& name, const labels& l, double v);
    void observe(const std::string& name, const labels& l, double v);

    // Metadata; call once at startup for each family. Histograms need their buckets here.
    void describe_counter(const std::string& name, const std::string& help);
    void describe_gauge(const std::string& name, const std::string& help);
    void describe_histogram(const std::string& name, const std::string& help,
                            std::vector<double> buckets);

    // Called at render time to refresh gauges (e.g. outbox depth).
    void on_collect(std::function<void(metrics&)> fn);

    [[nodiscard]] std::string render();
    [[nodiscard]] double value(const std::string& name, const labels& l) const;  // tests

private:
    struct histogram {
        std::vector<double> counts;  // per bucket, cumulative at render
        double sum{0};
        double count{0};
    };
    struct family {
        std::string type;  // counter | gauge | histogram
        std::string help;
        std::vector<double> buckets;
        std::map<labels, double> values;
        std::map<labels, histogram> histograms;
    };
    family& get(const std::string& name, const char* type);

    mutable std::mutex mu_;
    std::map<std::string, family> families_;
    std::vector<std::function<void(metrics&)>> collectors_;
};

}  // namespace hotline::core
