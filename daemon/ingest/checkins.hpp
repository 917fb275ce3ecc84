// Check-ins of defenders on risky trips (docs/escalation.md, "Check-ins and duress"): an
// enrolled defender (config `checkins:`) sends OK (ОК, OK 1234) at least every interval; a
// check-in missed by its grace opens a case through the defender's `policy`; the duress PIN
// is taken exactly like a check-in (the same store operation, the same answer to the
// gateway, the deadline moved the same way) and also opens a critical case through
// `duress_policy`.
//
// State and deadline: store::change_checkin (one transaction: the state row, the moved
// "checkin_due" timer, the audit event). The timer's handler (attach) checks that the
// state still expects that deadline (a check-in or stop in the meantime makes it stale),
// then submits a report through the one pipeline (pipeline::submit_decided: source and
// source_kind "checkin", sender the defender's id, a text of our own, labels checkin,
// last_checkin, checkin_due; external id "checkin-missed:<id>:<due_at>", so a timer fired
// again after a crash is a duplicate). A duress report's external id is
// "checkin-duress:<id>:<the SMS's message id>" (a gateway's retry is a duplicate).
//
// PINs (compared in constant time): with a pin_file a check-in counts only with that PIN;
// without one a plain OK (or OK with any PIN but the duress one) counts. A check-in that
// does not count (a wrong or missing PIN) is answered like any other but refused
// (audit checkin_refused, reason wrong_pin; the deadline stays, so a missed check-in
// follows if no good one comes). With a pin_file, CHECKIN STOP by SMS is refused too
// (reason stop_needs_api): whoever holds the phone must not be able to switch the alarm
// off; stop through hotlinectl or the API. Logs name the defender's id only, never the
// number or the PIN, and never say which PIN was used.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "ingest/pipeline.hpp"
#include "rules/reply.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class timer_loop;

// What a check-in's PIN is, for an enrollment.
enum class checkin_pin { counted, duress, wrong };
[[nodiscard]] checkin_pin match_checkin_pin(const config::checkin_enrollment& e,
                                            std::string_view pin);

// The report of a missed check-in (`duress` false) or of a duress check-in, and its routing.
[[nodiscard]] domain::report checkin_report(const config::checkin_enrollment& e, bool duress,
                                            std::int64_t last_at, std::int64_t due_at,
                                            std::int64_t now_ms, const std::string& unique);
[[nodiscard]] rules::decision checkin_decision(const config::checkin_enrollment& e, bool duress,
                                               std::int64_t last_at, std::int64_t due_at);
// "2026-12-03T17:00:00Z"; "never" for 0.
[[nodiscard]] std::string checkin_time(std::int64_t unix_ms);

// An enrolled defender and their state (list()).
struct checkin_view {
    const config::checkin_enrollment* enrollment{nullptr};  // of the config in force
    store::checkin_state state;                             // id only when never started
};

class checkin_service {
public:
    // All must outlive the service.
    checkin_service(asio::any_io_executor io, pipeline& p, store::store& db,
                    const core::clock& clock, core::metrics& metrics);
    ~checkin_service();
    checkin_service(const checkin_service&) = delete;
    checkin_service& operator=(const checkin_service&) = delete;

    void set_config(std::shared_ptr<const config::config> cfg);
    // Registers the "checkin_due" handler and wakes `timers` for new deadlines. Before
    // timers.start().
    void attach(timer_loop& timers);

    // An SMS from `sender` (E.164) whose text is a check-in command (rules::parse_reply's
    // checkin, checkin_start, checkin_stop): taken (true; `done` runs once recorded, on
    // the io executor) when the sender is an enrolled defender's phone, else false (an
    // ordinary report). `message_id`: the gateway's id, for the duress report's key.
    bool take_sms(const std::string& sender, const std::string& message_id,
                  const rules::reply_command& cmd, std::function<void(core::status)> done);

    // hotlinectl checkin / the API. `interval_ms` 0: the enrollment's interval. Errors:
    // "not_found" (no such enrolled id in the config in force), the store's.
    void start(const std::string& id, std::int64_t interval_ms, std::string actor,
               std::string channel, std::function<void(core::result<checkin_view>)> done);
    void stop(const std::string& id, std::string actor, std::string channel,
              std::function<void(core::result<checkin_view>)> done);
    // Every enrolled defender of the config in force, in config order, with its state.
    void list(std::function<void(core::result<std::vector<checkin_view>>)> done);

    // The "checkin_due" timer's work (the handler; tests call it directly). `settled(true)`
    // once its report is committed or the timer is stale.
    void deadline(const store::timer& t, std::function<void(bool)> settled);

private:
    // start and stop by the API or CLI: the enrollment looked up, one store change.
    void change_by_hand(store::checkin_change::kind what, const std::string& id,
                        std::int64_t interval_ms, std::string actor, std::string channel,
                        std::function<void(core::result<checkin_view>)> done);
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace hotline::ingest
