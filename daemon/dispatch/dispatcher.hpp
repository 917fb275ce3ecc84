// Runs outbox jobs on the io thread: renders the message, lets the channel plugin build the
// transport request, sends it through a net::sender (the curl-multi transport), has the plugin
// classify the answer, and records the outcome (with retries, fall-through and dead letters) in the
// store. Jobs come from fresh commits (enqueue) and from a timer-driven scan of due rows, so
// retries and jobs left over from a crash are picked up after a restart.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "dispatch/plugin_host.hpp"
#include "net/sender.hpp"
#include "store/store.hpp"

namespace hotline::dispatch {

using channel_map = std::map<std::string, std::shared_ptr<channel_instance>>;

class dispatcher {
public:
    // Every time it reads comes from `clock`; every wait is a timer on `io`.
    dispatcher(asio::io_context& io, store::store& db, net::sender& net, core::metrics& metrics,
               const core::clock& clock);
    ~dispatcher();
    dispatcher(const dispatcher&) = delete;
    dispatcher& operator=(const dispatcher&) = delete;

    // The config and channel instances in force; called at start and on every reload.
    void set_config(std::shared_ptr<const config::config> cfg, channel_map channels);

    // Starts the due-job scan (which also picks up what a crash left pending).
    void start();

    // Jobs just committed; all due now. Called on the io thread.
    void enqueue(std::vector<domain::notification> jobs);

    // Stops taking new work; `done` runs once every started attempt is recorded, or after
    // `grace` (then transfers are aborted; their jobs stay pending for the next start).
    void shutdown(core::duration grace, std::function<void()> done);

    [[nodiscard]] std::size_t in_flight() const { return known_.size(); }

private:
    struct channel_queue {
        std::deque<domain::notification> waiting;
        std::size_t active{0};  // transfers in flight (bounded by the channel's concurrency)
    };

    void pump(const std::string& channel);
    void attempt(domain::notification job);
    void finish(const domain::notification& job, hotline_outcome outcome, std::string detail);
    void fail(const domain::notification& job, const std::string& detail);
    void record(const domain::notification& job, store::attempt_result result);
    void recorded(const domain::notification& job, core::result<store::attempt_record> r);
    void schedule_scan(std::int64_t at_ms);
    void scan();
    void refresh_stats();
    void maybe_finish_shutdown();

    // Wraps `f` into a one-shot callback that may be called from any thread (the store's
    // writer calls its completions there): it posts `f(args...)` to the io thread and runs
    // it only if this dispatcher still lives. Call on the io thread, where the callback is
    // made, never from the callback's thread.
    template <class F>
    auto post_alive(F f) {
        return
            [io = &io_, alive = std::weak_ptr(alive_), f = std::move(f)](auto&&... args) mutable {
                asio::post(*io, [alive, f = std::move(f),
                                 ... args = std::forward<decltype(args)>(args)]() mutable {
                    if (!alive.expired()) {
                        f(std::move(args)...);
                    }
                });
            };
    }

    asio::io_context& io_;
    store::store& db_;
    net::sender& net_;
    core::metrics& metrics_;
    const core::clock& clock_;
    std::shared_ptr<const config::config> cfg_;
    channel_map channels_;
    std::map<std::string, channel_queue> queues_;
    std::set<std::int64_t> known_;  // queued, in flight or being recorded: never scanned in twice
    std::size_t recording_{0};      // outcomes sent to the store, not yet committed
    asio::steady_timer scan_timer_;
    asio::steady_timer stats_timer_;
    std::int64_t scan_at_ms_{0};
    bool scanning_{false};
    bool rescan_{false};
    bool stopping_{false};
    std::function<void()> on_stopped_;
    std::shared_ptr<bool> alive_;
};

}  // namespace hotline::dispatch
