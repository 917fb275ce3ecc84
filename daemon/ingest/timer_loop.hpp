// Fires the store's durable timers (store::store's timers table) on the io thread: an asio
// steady timer armed at store::next_timer_due, then claim_due_timers with a lease, each
// claimed timer handed to the handler registered for its kind, and complete_timer once the
// handler says its work is committed. A handler that fails (or a crash) leaves its timer
// claimed: it comes back when the lease ends, to this process or the next one, so a timer's
// work runs at least once and completes once; handlers make their work idempotent (the SMS
// parts handler's joined report has a fixed external id). Kinds: "sms_parts"
// (ingest/sms_intake); escalation (issue 10) registers its own. A timer of a kind nobody
// registered stays claimed until its lease ends and is logged, never completed: a newer
// hotline may know it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class timer_loop {
public:
    // `settled(true)`: the timer's work is durable, complete it; `settled(false)`: leave it
    // for a later claim (after the lease). Call it once, on the io executor.
    using settled_fn = std::function<void(bool)>;
    using handler = std::function<void(const store::timer&, settled_fn settled)>;

    struct settings {
        std::int64_t lease_ms{60'000};         // how long a claim holds a timer
        std::size_t batch{64};                 // timers per claim
        std::int64_t idle_recheck_ms{60'000};  // with no timer due: look again this often
    };

    // `owner` names this process in claims (e.g. "hotlined:<pid>:<random>").
    timer_loop(asio::any_io_executor io, store::store& db, const core::clock& clock,
               std::string owner, settings s);
    timer_loop(asio::any_io_executor io, store::store& db, const core::clock& clock,
               std::string owner)
        : timer_loop(std::move(io), db, clock, std::move(owner), settings{}) {}
    ~timer_loop();
    timer_loop(const timer_loop&) = delete;
    timer_loop& operator=(const timer_loop&) = delete;

    // Before start(). One handler per kind.
    void on(std::string kind, handler h);

    // Reads the next due time and arms. Timers already due (after a restart) fire at once.
    void start();
    // A timer was just added that is due at `at_ms`: fire then if that is earlier than what
    // is armed. Call on the io executor.
    void wake_at(std::int64_t at_ms);
    // No more claims; handlers already running finish (their completes are skipped).
    void stop();

    [[nodiscard]] const std::string& owner() const noexcept { return owner_; }
    // Timers handed to a handler and not settled yet (tests).
    [[nodiscard]] std::size_t running() const noexcept { return running_; }

private:
    void refresh();  // next_timer_due, then arm
    void arm(std::int64_t at_ms);
    void fire();
    void claimed(core::result<std::vector<store::timer>> r);
    void settle(const store::timer& t, bool ok);

    asio::any_io_executor io_;
    store::store& db_;
    const core::clock& clock_;
    std::string owner_;
    settings settings_;
    std::map<std::string, handler> handlers_;
    asio::steady_timer timer_;
    std::int64_t armed_at_{0};  // 0: not armed
    bool claiming_{false};
    bool again_{false};  // a wake came during a claim
    bool stopped_{true};
    std::size_t running_{0};
    std::shared_ptr<bool> alive_;
};

}  // namespace hotline::ingest
