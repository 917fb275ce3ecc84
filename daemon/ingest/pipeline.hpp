// The one path every source's reports take: rate limits (ingest/rate_limiter) -> route
// (rules::evaluate) -> plan (dispatch::plan_report, case_for) -> wait for a turn at the
// store (ingest/fair_queue) -> commit in one transaction -> enqueue the stored
// notifications -> answer the source. Sources (the webhook today; IMAP, SMS gateways,
// acknowledgement replies and missed check-ins next) call submit() and nothing else, so
// each counts and logs the same way.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/case.hpp"
#include "domain/notification.hpp"
#include "domain/report.hpp"
#include "ingest/fair_queue.hpp"
#include "ingest/rate_limiter.hpp"
#include "ingest/silences.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class pipeline {
public:
    // What runs when the commit is done, on the io executor. An error is a server-side
    // failure (the store could not commit): the source should ask for a retry.
    using completion = std::function<void(core::result<domain::report_ids>)>;
    // The transaction: store::store::ingest, or a stand-in in tests. `done` may run on any
    // thread; the pipeline posts back to the io executor.
    using commit_fn =
        std::function<void(domain::report, domain::case_info,
                           std::vector<domain::planned_notification>, std::vector<store::new_timer>,
                           std::function<void(core::result<store::ingest_result>)> done)>;
    // Hands stored notifications to the dispatcher (dispatcher::enqueue). Called on the io
    // executor; kept a function so the pipeline does not depend on the dispatcher class.
    using enqueue_fn = std::function<void(std::vector<domain::notification>)>;

    // Looks up the targets already notified for a case (store::case_targets); nullopt when
    // the case does not exist. `done` may run on any thread.
    using case_targets_fn = std::function<void(
        std::int64_t case_id,
        std::function<void(core::result<std::optional<std::vector<std::string>>>)> done)>;

    // Describes the hotline_reports_* counters in `metrics`. `metrics` must outlive the
    // pipeline; the pipeline must outlive the work on `io` it started.
    pipeline(asio::any_io_executor io, core::metrics& metrics, commit_fn commit,
             enqueue_fn enqueue);
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    // A commit_fn that calls db.ingest; `db` must outlive the pipeline.
    [[nodiscard]] static commit_fn commit_to(store::store& db);

    // A case_targets_fn over db.case_targets; `db` must outlive the pipeline.
    [[nodiscard]] static case_targets_fn case_targets_of(store::store& db);
    // Without it (tests), report::case_id is ignored and every report opens a case.
    void set_case_targets(case_targets_fn fn) { case_targets_ = std::move(fn); }
    // A report that names a case (report::case_id) may be a responder's reply rather than a
    // report: the handler takes it (returns true and answers `done` itself) or leaves it
    // (false: it goes on as a report joining the case). After the rate limits.
    using reply_fn = std::function<bool(domain::report& r, completion& done)>;
    void set_reply_handler(reply_fn fn) { reply_ = std::move(fn); }

    // A new case whose route names a policy: the alerts of its first step and the timer of
    // the next one (ingest/case_service::start_escalation), committed with the report.
    struct escalation_plan {
        std::vector<domain::planned_notification> planned;
        std::vector<store::new_timer> timers;
    };
    using escalation_fn = std::function<escalation_plan(
        const config::config&, const domain::report&, const rules::decision&, std::int64_t now_ms)>;
    // Without it (tests), a route's policy pages nobody beyond the route's own notify.
    void set_escalation(escalation_fn fn) { escalation_ = std::move(fn); }
    // A timer was committed (the escalation's next step): the timer loop arms for it.
    void set_timer_added(std::function<void(std::int64_t due_at)> fn) {
        timer_added_ = std::move(fn);
    }

    // Grouping (a route's group_by + group_window): the keyed hash of a group's text
    // (store::sms_key("group", ...)) and the open case of a key (store::find_group_case).
    using group_hash_fn = std::function<std::string(std::string_view text)>;
    using group_case_fn =
        std::function<void(std::string key, std::int64_t now_ms,
                           std::function<void(core::result<std::optional<std::int64_t>>)> done)>;
    // Without them (tests), group_by groups nothing.
    void set_grouping(group_hash_fn hash, group_case_fn find) {
        group_hash_ = std::move(hash);
        group_case_ = std::move(find);
    }
    // Both over `db`, which must outlive the pipeline.
    [[nodiscard]] static group_hash_fn group_hash_of(store::store& db);
    [[nodiscard]] static group_case_fn group_case_of(store::store& db);

    // The config in force for the next submit(); a submit in progress keeps the one it
    // started with. Called on the io executor (startup and reload).
    void set_config(std::shared_ptr<const config::config> cfg);

    // Why submit() refused a report at once (`done` is then never called): a rate limit
    // or a full queue. The source should answer `status` with Retry-After.
    struct refusal {
        unsigned status{429};      // 429: this source or sender; 503: the daemon is full
        std::string_view limiter;  // "source", "sender" or "queue" (the metric label)
        std::int64_t retry_after_s{1};
    };

    // Routes, plans and commits `r`, enqueues its notifications, then calls `done` on the
    // io executor. A report with case_id joins that case if it exists (its notifications
    // go to the targets already notified for it, dispatch::plan_update); else it opens a
    // new case like any other. Never blocks: limits, routing and planning are in-memory, the commit
    // runs on the store's writer when the fair queue gives `r` its turn. Call on the io
    // executor. Counts hotline_reports_received_total or hotline_reports_duplicate_total
    // by source, or hotline_reports_limited_total by source and limiter; logs ids only.
    // If the commit has not completed within server.submit_timeout (counted from here,
    // so a wait in the fair queue counts too), `done` gets an error with code "timeout"
    // then; a commit that lands later still enqueues its notifications (and `done` is not
    // called again): the source's retry is then a duplicate.
    // `extra`: notifications the source plans itself (an SMS receipt to the reporter),
    // committed in the same transaction as the report and only if it is not a duplicate.
    [[nodiscard]] std::optional<refusal> submit(
        domain::report r, completion done, std::vector<domain::planned_notification> extra = {});

    // A report the daemon makes itself (a missed check-in, a duress check-in: ingest/checkins)
    // with its routing already decided (`decision`: the enrolled defender's policy,
    // severity and labels) instead of rules::evaluate: no token buckets (the queue's room
    // still holds), no grouping, no reply handling; silences apply as to any report. The
    // rest is submit()'s path: escalation, the one transaction, the answer.
    [[nodiscard]] std::optional<refusal> submit_decided(domain::report r, rules::decision decision,
                                                        completion done);

    // The silences in force (store::list_silences, compiled): loaded at start and replaced
    // after each add or expire. A report one of them matches at its received_at is stored
    // and gets its case as usual, labelled silenced_by: <id>, but pages nobody: no
    // notifications are planned for it (a source's own `extra`, such as an SMS receipt to
    // the reporter, still goes), and hotline_reports_silenced_total{source} counts it (when
    // routed: a re-delivered duplicate counts again). Call on the io executor.
    void set_silences(silence_set s) { silences_ = std::move(s); }

    // Time for the token buckets (default: a monotonic clock). Must outlive the pipeline.
    void set_clock(const core::clock& clock) { clock_ = &clock; }

    // Commits at the store and reports waiting for their turn (tests, metrics).
    [[nodiscard]] std::size_t in_flight() const noexcept { return queue_.in_flight(); }
    [[nodiscard]] std::size_t queued() const noexcept { return queue_.queued(); }

    // A report a source refused before submit (bad token, bad JSON, too large): counts
    // hotline_reports_rejected_total by source ("" when unauthenticated) and reason (the
    // API error code). No text of the report reaches a label.
    void rejected(std::string_view source, std::string_view reason);

private:
    // One submit's answer: given once, by the commit or by the deadline, whichever comes
    // first (both run on the io executor).
    struct waiter;
    // A routed and planned report waiting for its turn at the store.
    struct pending {
        domain::report report;
        domain::case_info info;
        std::vector<domain::planned_notification> planned;
        std::vector<store::new_timer> timers;
        std::string severity;
        std::shared_ptr<waiter> answer;
    };
    struct limiter_log {
        std::uint64_t refused{0};  // since the last line
        std::int64_t logged_ms{0};
        bool logged{false};
    };

    std::optional<refusal> limited(const std::string& source, refusal r, std::int64_t now_ms);
    // The answer of one submit, with its submit_timeout deadline armed.
    std::shared_ptr<waiter> answer_for(const config::config& cfg, const std::string& source,
                                       completion done);
    // The silence that keeps `r` from paging anyone, if any (see set_silences).
    [[nodiscard]] std::optional<std::int64_t> silenced_by(const domain::report& r) const;
    // A report's routing, evaluated once: the decision, and the keyed group hash when its
    // route groups (empty otherwise).
    struct routed {
        rules::decision decision;
        std::string group_key;
    };
    // A report of a grouping route: the group's open case, if any, makes it a join.
    void group_then_route(domain::report r, std::shared_ptr<const config::config> cfg,
                          std::shared_ptr<waiter> answer,
                          std::vector<domain::planned_notification> extra);
    // Routes and plans `r` (for the case's targets when given) and queues it for its turn;
    // `done` is the routing group_then_route already evaluated, if any.
    void route_and_queue(domain::report r, const config::config& cfg,
                         std::shared_ptr<waiter> answer,
                         const std::vector<std::string>* case_targets,
                         std::vector<domain::planned_notification> extra,
                         std::optional<routed> done = std::nullopt);
    // Starts commits while the fair queue has turns to give.
    void pump();
    void start_commit(const std::string& source, pending p);
    void committed(core::result<store::ingest_result> res, const std::string& source,
                   const std::string& severity, waiter& answer);

    asio::any_io_executor io_;
    core::metrics& metrics_;
    commit_fn commit_;
    enqueue_fn enqueue_;
    case_targets_fn case_targets_;
    escalation_fn escalation_;
    reply_fn reply_;
    std::function<void(std::int64_t)> timer_added_;
    group_hash_fn group_hash_;
    group_case_fn group_case_;
    std::shared_ptr<const config::config> cfg_;
    const core::clock* clock_;
    rate_limiter limiter_;
    fair_queue<pending> queue_;
    std::map<std::pair<std::string, std::string_view>, limiter_log> limiter_logs_;
    silence_set silences_;
};

}  // namespace hotline::ingest
