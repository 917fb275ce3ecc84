// Runs outbox jobs on the io thread: renders the message, lets the channel plugin build the
// transport request, sends it through a net::sender (the curl-multi transport), has the plugin
// classify the answer, and records the outcome (with retries, fall-through and dead letters) in the
// store. Jobs come from fresh commits (enqueue) and from a timer-driven scan of due rows, so
// retries and jobs left over from a crash are picked up after a restart.
//
// Per channel it holds at most max(max_queued, concurrency) jobs in memory (waiting, in flight,
// being recorded), ordered by severity (critical first) and FIFO within one; the rest of a
// backlog stays in the store and is paged in, most severe first, as room frees (issue 7,
// faults 7 and the dispatcher's half of fairness). A full channel lets a more severe job
// displace its least severe waiting one, so a critical alert never waits behind low ones.
//
// An outcome the store cannot record (disk full, I/O error, busy) is held in memory and its
// recording retried with capped exponential backoff; the job stays known, so no scan brings
// it back and nothing is sent twice, and no new attempt starts until every held outcome is
// recorded (fault 1). At shutdown a transfer aborted by the grace expiry is not an attempt:
// its job stays pending, attempts unchanged (fault 6).
#pragma once
#include <array>
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
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "dispatch/plugin_host.hpp"
#include "domain/severity.hpp"
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
    // The key of delivery-status URLs (dispatch/delivery): without one, SMS alerts carry
    // no status_url.
    void set_delivery_key(std::shared_ptr<const core::crypto::key> key) {
        delivery_key_ = std::move(key);
    }

    // The key of the signed acknowledgement links (dispatch/ack_link): with one and a
    // public_url, every alert of a case carries "ack_url" (valid for ack_links.ttl from the
    // attempt, bound to the case and the notification's target); without, none does.
    void set_ack_key(std::shared_ptr<const core::crypto::key> key) { ack_key_ = std::move(key); }

    // Numbers that sent STOP (ingest/sms_intake, store::list_sms_opt_outs at start): a job
    // to one of them on an SMS channel fails at once, "recipient opted out (STOP)", and
    // falls through to the target's next contact. Call on the io thread.
    void set_opted_out(std::set<std::string> numbers) { opted_out_ = std::move(numbers); }
    void opt_out(const std::string& number, bool out) {
        if (out) {
            opted_out_.insert(number);
        } else {
            opted_out_.erase(number);
        }
    }

    // Starts the due-job scan (which also picks up what a crash left pending).
    void start();

    // Jobs just committed; all due now. Called on the io thread. A channel already holding
    // its limit keeps a job only if it displaces a less severe waiting one; a job it does
    // not keep stays pending in the store for a later scan.
    void enqueue(std::vector<domain::notification> jobs);

    // Stops taking new work; `done` runs once every started attempt is recorded, or after
    // `grace`: then transfers are aborted (not counted as attempts; their jobs stay pending
    // for the next start) and outcomes still held are given up (sent again after the
    // restart: the at-least-once edge, logged with the count).
    void shutdown(core::duration grace, std::function<void()> done);

    // Jobs in memory, over every channel / of one channel.
    [[nodiscard]] std::size_t in_flight() const;
    [[nodiscard]] std::size_t in_memory(const std::string& channel) const;
    // Outcomes the store could not record yet; while there are any, no attempt starts.
    [[nodiscard]] std::size_t held() const { return held_.size(); }
    [[nodiscard]] bool paused() const { return !held_.empty(); }

private:
    static constexpr std::size_t severity_levels = domain::severities.size() + 1;  // + other

    struct channel_queue {
        // Waiting jobs by severity rank (0 = critical; the last is any unknown severity).
        std::array<std::deque<domain::notification>, severity_levels> waiting;
        std::set<std::int64_t> known;  // waiting, in flight, being recorded or held
        std::size_t active{0};         // transfers in flight (bounded by concurrency)
        bool behind{false};            // due jobs of this channel are in the store only
    };
    struct held_outcome {
        domain::notification job;
        store::attempt_result result;
        bool recording{false};  // a retry of its record is with the store
    };

    [[nodiscard]] std::size_t limit_of(const std::string& channel) const;
    bool admit(domain::notification job);
    std::size_t take(std::vector<domain::notification> jobs);  // enqueue; how many were kept
    void pump(const std::string& channel);
    void pump_all();
    void attempt(domain::notification job);
    void finish(const domain::notification& job, hotline_outcome outcome, std::string detail);
    // `permanent`: the plugin said this address will never work (HOTLINE_PERMANENT); on an
    // SMS channel the admins are told (plan_bad_address) besides the fall-through.
    void fail(const domain::notification& job, const std::string& detail, bool permanent = false);
    void record(const domain::notification& job, store::attempt_result result);
    void recorded(const domain::notification& job, store::attempt_result result,
                  core::result<store::attempt_record> r);
    void hold(const domain::notification& job, store::attempt_result result, const core::error& e);
    void arm_hold_retry();
    void retry_held();
    void forget(const domain::notification& job);
    void schedule_scan(std::int64_t at_ms);
    void scan();
    void scanned(const std::string& channel, std::size_t limit,
                 core::result<std::vector<domain::notification>> r);
    void refresh_stats();
    void grace_over();
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
    std::shared_ptr<const core::crypto::key> delivery_key_;
    std::shared_ptr<const core::crypto::key> ack_key_;
    std::map<std::string, channel_queue> queues_;
    std::set<std::string> opted_out_;            // numbers (E.164), see set_opted_out
    std::map<std::int64_t, held_outcome> held_;  // by notification id
    std::size_t recording_{0};                   // outcomes sent to the store, not answered
    asio::steady_timer scan_timer_;
    asio::steady_timer stats_timer_;
    asio::steady_timer hold_timer_;
    asio::steady_timer grace_timer_;
    core::duration hold_delay_;
    bool hold_armed_{false};
    std::int64_t scan_at_ms_{0};
    std::size_t scans_out_{0};  // due queries of the current scan not answered yet
    bool rescan_{false};
    bool sweep_{true};  // rows of channels no longer configured may be pending
    bool stopping_{false};
    bool aborting_{false};  // the grace is over: replies now are cancel_all's aborts
    std::function<void()> on_stopped_;
    std::shared_ptr<bool> alive_;
};

}  // namespace hotline::dispatch
