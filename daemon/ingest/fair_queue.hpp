// Who goes to the store next. The store's writer is FIFO, so the pipeline hands it at
// most max_in_flight commits (max_in_flight_per_source of one source) and keeps the rest
// here, per source and severity: the most urgent waiting report goes first, sources take
// turns at equal urgency. A flood from one source then waits behind its own reports, and
// a critical report waits for at most the commits already at the writer, never behind
// 10,000 low ones. Bounded: push() refuses past max_queued_per_source / max_queued.
#pragma once
#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "config/model.hpp"
#include "domain/severity.hpp"

namespace hotline::ingest {

template <class T>
class fair_queue {
public:
    // severities in order, then one rank for a name that is none of them.
    static constexpr std::size_t ranks = domain::severities.size() + 1;

    enum class room { ok, source_full, all_full };

    [[nodiscard]] room check(const std::string& source, const config::ingest_limits& l) const {
        if (queued_ >= l.max_queued) {
            return room::all_full;
        }
        const auto it = sources_.find(source);
        if (it != sources_.end() && it->second.queued >= l.max_queued_per_source) {
            return room::source_full;
        }
        return room::ok;
    }

    void push(const std::string& source, std::size_t rank, T item) {
        auto& s = sources_[source];
        s.queues[std::min(rank, ranks - 1)].push_back(std::move(item));
        ++s.queued;
        ++queued_;
    }

    // The next item allowed to start, counted in flight until done(source); nothing when
    // all waiting sources are at their in-flight limit or the total is.
    [[nodiscard]] std::optional<std::pair<std::string, T>> pop(const config::ingest_limits& l) {
        if (queued_ == 0 || in_flight_ >= l.max_in_flight) {
            return std::nullopt;
        }
        for (std::size_t rank = 0; rank < ranks; ++rank) {
            // Round robin: the sources after the last one served, then from the start.
            auto it = sources_.upper_bound(last_served_);
            for (std::size_t n = 0; n < sources_.size(); ++n, ++it) {
                if (it == sources_.end()) {
                    it = sources_.begin();
                }
                auto& s = it->second;
                if (s.queues[rank].empty() || s.in_flight >= l.max_in_flight_per_source) {
                    continue;
                }
                std::pair<std::string, T> out{it->first, std::move(s.queues[rank].front())};
                s.queues[rank].pop_front();
                --s.queued;
                --queued_;
                ++s.in_flight;
                ++in_flight_;
                last_served_ = it->first;
                return out;
            }
        }
        return std::nullopt;
    }

    void done(const std::string& source) {
        const auto it = sources_.find(source);
        if (it == sources_.end() || it->second.in_flight == 0) {
            return;
        }
        --it->second.in_flight;
        --in_flight_;
        if (it->second.in_flight == 0 && it->second.queued == 0) {
            sources_.erase(it);
        }
    }

    [[nodiscard]] std::size_t queued() const noexcept { return queued_; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }

private:
    struct per_source {
        std::array<std::deque<T>, ranks> queues;
        std::size_t queued{0};
        std::size_t in_flight{0};
    };
    std::map<std::string, per_source, std::less<>> sources_;
    std::string last_served_;
    std::size_t queued_{0};
    std::size_t in_flight_{0};
};

}  // namespace hotline::ingest
