// The durable store: reports and cases, the outbox of notifications, durable timers, the
// audit trail. `store` is the interface every backend implements; store/factory.hpp opens
// one from a type string (options.backend). Operations queued by any thread are run in
// batches, one transaction and one fsync per batch, and each operation's completion runs
// only after its batch is durable: on the store's writer thread, or posted to
// options.completions when set.
//
// Layout: store.hpp (this interface), factory.{hpp,cpp}; the SQLite backend (WAL,
// synchronous=FULL) in sqlite/: connection (RAII handles, cached statements), writer (the
// writer thread, group commit, savepoint re-run), schema (migrations), one file per table
// (reports, cases, outbox, audit, timers) and sqlite_store (this interface over them).
// tests/unit/store_conformance.hpp is the suite every backend must pass.
//
// Timers (table `timers`, schema version 2) are what escalation steps, check-in deadlines,
// SMS part timeouts and retries are built on: id, due_at (unix ms), kind ("escalation_step",
// "checkin_due", "sms_parts", "retry"), subject ("case:42"), payload (JSON text, opaque
// to the store), created_at, claimed_by and lease_until (set by a claim), fired_at (set
// when settled: completed, or cancelled, then cancelled_at too). A live timer has no
// fired_at; a claim takes due live ones that are unclaimed or whose lease ran out, so a
// crashed claimer's timers come back after the lease; complete_timer fires one once.
// Index timers_due(fired_at, due_at) serves claims and next_timer_due.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/asio.hpp"
#include "core/crypto.hpp"
#include "core/result.hpp"
#include "domain/case.hpp"
#include "domain/notification.hpp"
#include "domain/report.hpp"

namespace hotline::core {
class clock;
class metrics;
}  // namespace hotline::core

namespace hotline::store {

using domain::case_info;
using domain::notification;
using domain::notification_status;
using domain::planned_notification;

// A timer to add. In ingest and record_attempt an empty subject means the operation's
// case ("case:<id>"), which the caller of ingest cannot know yet.
struct new_timer {
    std::int64_t due_at{};      // unix ms
    std::string kind;           // e.g. "escalation_step"; must not be empty
    std::string subject;        // e.g. "case:42"
    std::string payload{"{}"};  // JSON text, opaque to the store
};

struct timer {
    std::int64_t id{};
    std::int64_t due_at{};
    std::string kind;
    std::string subject;
    std::string payload;
    std::int64_t created_at{};
    std::string claimed_by;      // empty when never claimed
    std::int64_t lease_until{};  // 0 when never claimed
    std::int64_t fired_at{};     // 0 while live
};

enum class timer_completion {
    fired,          // marked fired by this call
    already_fired,  // fired before (a timer fires once)
    cancelled,      // cancelled (cancel_timers) before it was completed
    not_owner,      // claimed by another owner (this one's lease expired), or never claimed
};

struct ingest_result {
    domain::report_ids ids;
    std::vector<notification> notifications;  // as stored; empty for a duplicate
    std::vector<std::int64_t> timer_ids;      // of the timers added; empty for a duplicate
};

// ---- SMS state (schema version 7): concatenated parts, STOP/START ----

// One part of a concatenated SMS to hold until its siblings are in. group_key is
// store::sms_key("parts", sender/ref/total), never the number in clear.
struct new_sms_part {
    std::string source;
    std::string group_key;
    unsigned part{1};   // 1-based
    unsigned total{2};  // > 1
    std::string text;   // sealed at rest
    std::string message_id;
    std::int64_t received_at{};  // unix ms
    // What the joined report needs besides the text (sender, recipient, country, gateway
    // facts): opaque JSON text, sealed at rest.
    std::string meta{"{}"};
    // For the first part of a group: when the timer (kind "sms_parts", subject
    // "sms:<source>:<group_key>", payload {"source","group_key"}) makes the intake store
    // what arrived.
    std::int64_t timeout_at{};
};

struct sms_part {
    unsigned part{};
    unsigned total{};
    std::string text;
    std::string message_id;
    std::int64_t received_at{};
    std::string meta;  // as added
};

struct sms_part_added {
    bool duplicate{false};        // this part number of the group was already held
    std::vector<unsigned> parts;  // the part numbers held now, ascending
    unsigned total{};
    std::int64_t timer_id{};  // the group's timeout timer, when this call added it
    [[nodiscard]] bool complete() const { return total > 0 && parts.size() >= total; }
};

// A responder's number that sent STOP (no SMS to it until START).
struct sms_opt_out {
    std::string number;     // E.164, sealed at rest; keyed by sms_key("optout", number)
    std::string responder;  // the person id
    std::int64_t at{};      // unix ms
};

// ---- cases: state, actions, escalation (schema version 8) ----

using domain::case_state;

// A case as the API, the CLI and the escalation engine see it. No report contents: the
// first report comes separately (case_view::first_report) for those allowed to see it.
struct case_record {
    std::int64_t id{};
    case_state state{case_state::open};
    std::string severity;
    std::string route;
    nlohmann::json labels = nlohmann::json::object();
    std::string policy;  // "" none
    std::int64_t created_at{};
    std::int64_t updated_at{};  // the last state change (created_at until one)
    std::string acked_by;       // "responder:alice" of the last acknowledgement, "" none
    std::int64_t acked_at{};
    std::string resolved_by;
    std::int64_t resolved_at{};
    std::int64_t reports{};         // how many reports the case holds
    std::int64_t last_report_at{};  // received_at of the latest
};

// One entry of a case's history: its audit events, oldest first (ids, actors, kinds and
// details; a note's text is sealed and comes back opened).
struct case_event {
    std::int64_t id{};
    std::int64_t at{};
    std::string actor;  // "source:sms", "responder:alice", "escalation", ...
    std::string kind;   // report_received, case_acknowledged, escalation_step, ...
    nlohmann::json detail = nlohmann::json::object();
};

struct case_view {
    case_record record;
    std::optional<domain::report> first_report;  // opened; nullopt when purged/unreadable
    std::int64_t latest_report_id{};
    std::vector<std::string> targets;  // notified so far, in first-notified order
    std::vector<case_event> events;
};

struct case_query {
    std::optional<case_state> state;  // none: every state
    std::string target;               // non-empty: only cases this target was notified for
    std::int64_t before_id{0};        // paging: ids below this (0: from the newest)
    std::size_t limit{50};            // at most this many, newest first (capped at 1000)
};

// What a responder (or a timer) does to a case.
struct case_action {
    enum class kind { acknowledge, resolve, reopen, note };
    kind what{kind::acknowledge};
    std::int64_t case_id{};
    std::string actor;    // "responder:alice", "partner:ngo", "cli", "ack_timeout"
    std::string channel;  // sms | email | link | api | cli | timer
    std::string note;     // kind note: the text (sealed at rest); else an optional remark
    // Non-empty: a single-use key (a signed link's token hash). A key used before fails
    // with "used" and changes nothing; it is kept even when the action changes nothing.
    std::string once_key;
    // Written only when the action changes the state (a note always "changes"): the notices
    // to those already paged (policy notify_on) and timers to add (ack_timeout, the first
    // step of a re-opened case). An empty timer subject means "case:<id>".
    std::vector<planned_notification> notices;
    std::vector<new_timer> timers;
    // Written only when the action changes nothing (and was not refused): the actor's own
    // answer, such as an SMS "already acknowledged". Returned in the result's notices.
    std::vector<planned_notification> notices_unchanged;
};

struct case_action_result {
    bool changed{false};  // false: the case already was in the asked state (no notices)
    case_state before{case_state::open};
    case_state after{case_state::open};
    std::int64_t cancelled_timers{};    // acknowledge: escalation steps; resolve: every timer
    std::vector<notification> notices;  // as stored, to hand to the dispatcher
    std::vector<std::int64_t> timer_ids;
};

// A claimed timer fired, with what it produces, in one transaction.
struct timer_firing {
    std::int64_t timer_id{};
    std::string owner;       // the claim's owner
    std::int64_t case_id{};  // the notifications' case (their report: its latest), 0: none
    // Skip the firing's effects (but settle the timer) unless the case is in this state.
    std::optional<case_state> only_if;
    std::vector<planned_notification> planned;
    std::vector<new_timer> timers;  // e.g. the next step; empty subject = "case:<case_id>"
    std::string audit_kind;         // "" none; e.g. "escalation_step"
    nlohmann::json audit_detail = nlohmann::json::object();
    std::string audit_actor{"escalation"};
    // Set the case's state to this as part of the firing (ack_timeout: open again).
    std::optional<case_state> set_state;
};

struct firing_result {
    timer_completion completion{timer_completion::fired};
    bool applied{false};  // the effects were written (fired and the case was as asked)
    std::vector<notification> notifications;
    std::vector<std::int64_t> timer_ids;
};

// ---- silences (schema version 9) ----

// At most this many matchers in one silence.
inline constexpr std::size_t max_silence_matchers = 1000;

// A silence to add: a report that every matcher (the routing tree's matcher text,
// rules::parse_matcher; the caller checks it) matches and that was received in
// [starts_at, ends_at) is stored but pages nobody (ingest/pipeline).
struct new_silence {
    std::vector<std::string> matchers;  // 1..max_silence_matchers; sealed at rest
    std::int64_t starts_at{};           // unix ms
    std::int64_t ends_at{};             // unix ms, after starts_at
    std::string author;                 // "responder:alice", "admin:ops"
    std::string comment;                // sealed at rest
};

struct silence {
    std::int64_t id{};
    std::vector<std::string> matchers;  // empty once retention purged an expired one
    std::int64_t starts_at{};
    std::int64_t ends_at{};
    std::string author;
    std::string comment;
    std::int64_t created_at{};
    std::int64_t expired_at{};  // 0 unless expired by hand (an ended one keeps 0)
    std::string expired_by;     // who expired it, "" when nobody did
    // Whether it silences what is received at `t` (unix ms).
    [[nodiscard]] bool active_at(std::int64_t t) const noexcept {
        return expired_at == 0 && !matchers.empty() && starts_at <= t && t < ends_at;
    }
};

struct silence_expiry {
    silence record;       // as it is now
    bool changed{false};  // false: it was expired or had ended already (nothing written)
};

// ---- check-ins (schema version 10) ----

// The check-in state of one enrolled defender (config checkins[].id). A live timer of kind
// "checkin_due", subject "checkin:<id>", payload {"id","due_at"}, due at due_at + grace,
// goes with an active state.
struct checkin_state {
    std::string id;
    bool active{false};
    std::int64_t interval_ms{};  // of the running period (0 when never started)
    std::int64_t grace_ms{};
    std::int64_t started_at{};  // unix ms of the last start, 0 none
    std::int64_t last_at{};     // the last counted check-in, 0 none
    std::int64_t due_at{};      // the next check-in is expected by then; 0 when stopped
    std::int64_t updated_at{};
    std::string updated_by;  // "checkin:<id>" (by SMS), "responder:alice", "admin:ops"
};

struct checkin_change {
    // refused: a check-in or stop that does not count (a wrong PIN; a stop by SMS where a
    // PIN is set): only its audit event, with `reason`.
    enum class kind { start, checkin, stop, refused };
    kind what{kind::checkin};
    std::string id;
    // start: the period and grace; checkin: the grace used to re-arm (the period is the
    // state's own).
    std::int64_t interval_ms{};
    std::int64_t grace_ms{};
    std::string actor;    // as checkin_state::updated_by
    std::string channel;  // sms | api
    std::string reason;   // refused only: "wrong_pin", "stop_needs_api"
};

struct checkin_result {
    checkin_state state;          // after the change
    bool changed{false};          // checkin: it counted (active); start/stop: always true
    std::int64_t timer_id{};      // the new "checkin_due" timer, 0 none
    std::int64_t timer_due_at{};  // its due_at
};

// Result of one delivery attempt, as the dispatcher saw it.
struct attempt_result {
    enum class kind { delivered, retry, failed };  // failed = permanent or retries exhausted
    kind outcome{kind::retry};
    std::string detail;  // short, no contents
    std::string provider_id;
    // An SMS channel's message as sent (dispatch/sms_text): "gsm7" | "ucs2" and segments;
    // empty / 0 for other channels.
    std::string sms_encoding;
    std::uint32_t sms_segments{0};
    std::int64_t next_attempt_at{};  // for retry
    // For failed: what to enqueue instead (the target's next contact, or the admins'
    // dead-letter alerts). Empty with dead_letter=false means just "failed".
    std::vector<planned_notification> follow_ups;
    bool dead_letter{false};  // mark this one "dead" (all contacts exhausted)
    // For delivered: the report's fields the message carried ("subject", "text", "sender",
    // "report_labels"), named in the delivery's audit event (what was disclosed to whom).
    std::vector<std::string> disclosed;
    // Added in the same transaction (e.g. the next escalation step), whatever the outcome;
    // not for a replayed attempt.
    std::vector<new_timer> timers;
};

struct attempt_record {
    std::vector<notification> follow_ups;  // as stored, to hand to the dispatcher
    std::vector<std::int64_t> timer_ids;   // of attempt_result::timers, as stored
};

// Which due jobs store::due returns.
struct due_query {
    std::string channel;                     // only this channel's; empty: every channel
    std::vector<std::string> skip_channels;  // none of these channels' (with channel empty)
    std::size_t limit{};                     // at most this many
    std::vector<std::int64_t> exclude;       // not these ids (the caller's in-memory jobs)
};

struct stats {
    std::int64_t reports{};
    std::int64_t cases{};
    std::int64_t pending{};
    std::int64_t delivered{};
    std::int64_t failed{};
    std::int64_t dead{};
    std::int64_t oldest_due_at{};  // unix ms of the oldest pending due job, 0 if none
};

// Retention (storage.retention): one batch of a sweep that purges the contents of old
// reports. A sweep is a chain of batches, each its own short operation, so it never holds
// the writer long: the caller passes the previous batch's last_id and totals back in.
struct purge_batch {
    std::int64_t received_before{};  // unix ms: reports received before this are purged
    std::int64_t after_id{};         // start after this report id (0 for a new sweep)
    std::size_t limit{500};          // reports examined by this batch, at most; 0 ends the
                                     // sweep here (its audit event) without examining any
    std::int64_t reports{};          // totals of the sweep's earlier batches
    std::int64_t notifications{};
    std::int64_t batches{};
};

struct purge_progress {
    std::int64_t last_id{};        // pass as after_id to the next batch
    std::int64_t reports{};        // running totals of the sweep, this batch included
    std::int64_t notifications{};  // (a value already purged is not counted again)
    std::int64_t batches{};
    bool done{false};  // the sweep is over and its audit event is written
};

struct options {
    std::string path;
    std::size_t max_batch{512};
    core::metrics* metrics{nullptr};  // commit batch size and latency; may be null
    // Time for created_at/updated_at/audit stamps; null = the system clock. Must outlive
    // the store.
    const core::clock* clock{nullptr};
    // How long to wait for another process's lock (e.g. a tool reading or writing the
    // database) before a batch fails with code "busy".
    int busy_timeout_ms{5000};
    // Seals report contents, addresses and payloads at rest (store/sqlite/sealing.hpp).
    // Required: without it open fails with code "key", unless unsealed_for_tests is set.
    std::shared_ptr<const core::crypto::keyring> keys;
    // Benchmarks and tests only, never set from the config: store those values in clear.
    bool unsealed_for_tests{false};
    // Which backend store::open (store/factory.hpp) opens: only "sqlite" today.
    std::string backend{"sqlite"};
    // Where completions run. Empty (tools, tests): on the store's own thread, as soon as
    // the operation's transaction is durable. Set (the daemon's io executor): each `done`
    // is posted there, so callers need no post of their own.
    asio::any_io_executor completions{};
};

class store {
public:
    // Opens the backend named by opts.backend (see store/factory.hpp; unknown: "config").
    // SQLite: creates the file if needed (with parent directories, mode 0600) and migrates
    // it. Runs on the caller's thread. Error codes: "corrupt" (not an SQLite file),
    // "schema_too_new" (written by a newer hotline), "readonly", "config", "storage", "key"
    // (no keyring), "wrong_key" (the key does not open the existing rows; nothing is
    // written), "rekey_incomplete", "locked" (another process holds "<path>.lock", which an
    // open SQLite store holds until close).
    // Operation errors: "constraint", "bad_payload", "busy", "disk_full", "io_error".
    [[nodiscard]] static core::result<std::unique_ptr<store>> open(const options& opts);
    virtual ~store() = default;

    // Stores a report, its case (one per report for now), the planned notifications and an
    // audit event in one transaction. A report whose (source, external_id) exists is a
    // duplicate: nothing is written and the existing ids come back with duplicate=true.
    // With `timers`, those are added in the same transaction (not for a duplicate).
    virtual void ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                        std::vector<new_timer> timers,
                        std::function<void(core::result<ingest_result>)> done) = 0;
    void ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                std::function<void(core::result<ingest_result>)> done) {
        ingest(std::move(r), std::move(c), std::move(planned), {}, std::move(done));
    }

    // Records an attempt's outcome (and its follow-ups) in one transaction. Every outcome
    // counts an attempt. Follow-ups are due at once. For a notification that is no longer
    // pending this is a no-op with no follow-ups (replay after a crash); an unknown id is
    // an error with code "not_found".
    virtual void record_attempt(std::int64_t notification_id, attempt_result outcome,
                                std::function<void(core::result<attempt_record>)> done) = 0;

    // Pending jobs due at or before `now_ms` that `q` selects: the most severe first
    // (critical, high, normal, low, then any other), oldest due first within a severity,
    // then by id. A dispatcher asks per channel for as many as it has room for, skipping
    // the ones it holds, so what it reads stays bounded by its own in-memory limit
    // however many rows are pending.
    virtual void due(std::int64_t now_ms, due_query q,
                     std::function<void(core::result<std::vector<notification>>)> done) = 0;

    // Earliest next_attempt_at among pending jobs, if any.
    virtual void next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) = 0;

    virtual void get_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) = 0;

    // The outbox gauges alone (pending and oldest_due_at; other fields 0). Cheap: it reads
    // only the pending rows through the (status, next_attempt_at) index, so the dispatcher
    // can poll it every second without full-table scans in the writer's batches.
    virtual void outbox_stats(std::int64_t now_ms,
                              std::function<void(core::result<stats>)> done) = 0;

    // ---- cases ----

    // The targets already notified for `case_id` ("responder:alice", ...): distinct, in
    // the order they were first notified, whatever their notifications' status. For
    // telling them of a report that joins the case. nullopt when the case does not exist.
    virtual void case_targets(
        std::int64_t case_id,
        std::function<void(core::result<std::optional<std::vector<std::string>>>)> done) = 0;

    // ---- cases: state, actions, escalation ----

    // One case with its first report, its latest report id, who was notified and its
    // history; nullopt when there is no such case.
    virtual void get_case(std::int64_t case_id,
                          std::function<void(core::result<std::optional<case_view>>)> done) = 0;
    // Cases, newest first.
    virtual void list_cases(case_query q,
                            std::function<void(core::result<std::vector<case_record>>)> done) = 0;
    // Acknowledges, resolves, re-opens or annotates a case in one transaction with its audit
    // event (actor, channel), its notices and timers. acknowledge: open → acknowledged,
    // cancels the case's "escalation_step" timers; resolve: open|acknowledged → resolved,
    // cancels every timer of the case; reopen: acknowledged|resolved → open, cancels its
    // "ack_timeout" timers; note: any state, no change. Asking for the state the case is in
    // (or acknowledging a resolved case) changes nothing: changed=false, no notices.
    // Errors: "not_found" (no such case), "used" (once_key seen before).
    virtual void act_on_case(case_action a,
                             std::function<void(core::result<case_action_result>)> done) = 0;
    // Completes a claimed timer (as complete_timer) and, only when this call fired it and
    // the case is in `only_if` (when set), writes its notifications, timers, state change
    // and audit event in the same transaction: a step fires once, never after an ack.
    virtual void fire_timer(timer_firing f,
                            std::function<void(core::result<firing_result>)> done) = 0;
    // The open case whose group_key is `group_key` and group_until is after `now_ms`, if
    // any (the newest): a grouped report joins it (report::case_id).
    virtual void find_group_case(
        std::string group_key, std::int64_t now_ms,
        std::function<void(core::result<std::optional<std::int64_t>>)> done) = 0;

    // ---- cursors: where a pulling source (an IMAP mailbox) stands ----

    // The value last saved for `source` (opaque text, JSON by convention), or nullopt.
    virtual void load_cursor(
        std::string source, std::function<void(core::result<std::optional<std::string>>)> done) = 0;
    // Replaces the value of `source`, durably.
    virtual void save_cursor(std::string source, std::string value,
                             std::function<void(core::status)> done) = 0;
    // Which of `keys` are dedup keys (report::dedup_key) of reports of `source` already
    // stored; the rest are new. For a source that rescans (a mailbox recreated).
    virtual void known_dedup_keys(
        std::string source, std::vector<std::string> keys,
        std::function<void(core::result<std::vector<std::string>>)> done) = 0;

    // ---- timers: durable, claimed with a lease, fired once ----

    // Adds timers in one transaction; their ids come back in order. An empty kind or
    // subject fails with "invalid_argument" (and adds none).
    virtual void add_timers(std::vector<new_timer> timers,
                            std::function<void(core::result<std::vector<std::int64_t>>)> done) = 0;

    // Atomically claims up to `limit` live timers due at or before `now_ms` that are
    // unclaimed or whose lease has expired (lease_until <= now_ms): they become claimed by
    // `owner` until now_ms + lease_ms and come back, earliest due first. A concurrent
    // claimer gets none of them; a crashed claimer's timers come back after the lease.
    // An empty owner or a lease_ms <= 0 fails with "invalid_argument".
    virtual void claim_due_timers(std::int64_t now_ms, std::string owner, std::int64_t lease_ms,
                                  std::size_t limit,
                                  std::function<void(core::result<std::vector<timer>>)> done) = 0;

    // Marks a timer claimed by `owner` fired (even if the lease ran out, as long as nobody
    // claimed it since). An unknown id fails with "not_found".
    virtual void complete_timer(std::int64_t id, std::string owner,
                                std::function<void(core::result<timer_completion>)> done) = 0;

    // Cancels the live timers of `subject` with `kind` (every kind when empty), claimed or
    // not: none of them fires afterwards (a claimer's complete_timer gets "cancelled").
    // Returns how many were cancelled.
    virtual void cancel_timers(std::string subject, std::string kind,
                               std::function<void(core::result<std::int64_t>)> done) = 0;

    // When claim_due_timers may next return something: the earliest due_at of the live
    // unclaimed timers and lease_until (or due_at, if later) of the claimed ones.
    virtual void next_timer_due(
        std::function<void(core::result<std::optional<std::int64_t>>)> done) = 0;

    // ---- SMS state ----

    // A keyed hash (hex) of `value` under a key the store keeps (sealed in seal_meta, so
    // a rekey keeps it), for indexes that must not hold a number in clear. `purpose`
    // separates uses ("parts", "optout", "receipt"). Any thread.
    [[nodiscard]] virtual std::string sms_key(std::string_view purpose,
                                              std::string_view value) const = 0;

    // Holds a part (sealed). A part number already held for the group is a duplicate
    // (nothing written). The group's first part adds its timeout timer in the same
    // transaction. Returns the part numbers held so far. "invalid_argument" when part is
    // 0 or above total, total < 2, or source/group_key is empty.
    virtual void add_sms_part(new_sms_part p,
                              std::function<void(core::result<sms_part_added>)> done) = 0;
    // The parts held for a group, by part number (empty when none: already joined).
    virtual void take_sms_parts(std::string source, std::string group_key,
                                std::function<void(core::result<std::vector<sms_part>>)> done) = 0;
    // Once the joined report committed: deletes the group's parts and cancels its timer.
    // Returns how many parts were deleted.
    virtual void delete_sms_parts(std::string source, std::string group_key,
                                  std::function<void(core::result<std::int64_t>)> done) = 0;

    // STOP: records `number` (E.164) of responder `responder` as opted out, with an audit
    // event (actor "sms", kind "sms_opt_out", detail {"responder"}). True when it was not
    // opted out before.
    virtual void set_sms_opt_out(std::string number, std::string responder,
                                 std::function<void(core::result<bool>)> done) = 0;
    // START: removes it (audit kind "sms_opt_in"). True when it was opted out.
    virtual void clear_sms_opt_out(std::string number, std::string responder,
                                   std::function<void(core::result<bool>)> done) = 0;
    // Every opted-out number (the daemon loads them at start).
    virtual void list_sms_opt_outs(
        std::function<void(core::result<std::vector<sms_opt_out>>)> done) = 0;

    // ---- silences ----

    // Adds a silence with an audit event (actor: its author, kind "silence_added", detail
    // {"silence_id","starts_at","ends_at"}: never the matchers, they may hold a number).
    // "invalid_argument": no matchers or more than max_silence_matchers, ends_at not after
    // starts_at, an empty author.
    virtual void add_silence(new_silence s, std::function<void(core::result<silence>)> done) = 0;
    // The silences not expired by hand and not ended yet (active or still to start), or
    // every one with include_expired; by id.
    virtual void list_silences(bool include_expired,
                               std::function<void(core::result<std::vector<silence>>)> done) = 0;
    // Ends a silence now, with an audit event (actor `by`, kind "silence_expired", the same
    // detail). One expired or ended already is left as it is (changed=false, no event).
    // "not_found": no such silence; "invalid_argument": an empty `by`.
    virtual void expire_silence(std::int64_t id, std::string by,
                                std::function<void(core::result<silence_expiry>)> done) = 0;

    // ---- check-ins ----

    // In one transaction with its audit event (actor, kind checkin_started | checkin |
    // checkin_stopped | checkin_refused, detail {"checkin","channel","due_at"}, "reason" for
    // a refusal; never a PIN): start sets
    // the state active with `interval_ms`, due now + interval; checkin, for an active state,
    // sets last_at now and due now + interval (for a stopped one it sets last_at only:
    // changed=false, no timer); stop sets it inactive; refused changes nothing (changed=false,
    // the state as it is; an unknown id gets no row). The others cancel the live "checkin_due"
    // timers of "checkin:<id>" and (start, a counted checkin) adds the next one, due at
    // due_at + grace. "invalid_argument": an empty id, start with interval_ms <= 0 or
    // grace_ms < 0.
    virtual void change_checkin(checkin_change c,
                                std::function<void(core::result<checkin_result>)> done) = 0;
    // Every defender with a state, by id.
    virtual void list_checkins(
        std::function<void(core::result<std::vector<checkin_state>>)> done) = 0;

    // ---- retention ----

    // One batch of a retention sweep. Examines up to `limit` reports after `after_id` in id
    // order and stops at the first received at or after `received_before` (ids grow with
    // reception, so every later one is younger). Of each older report it purges the
    // contents: sender, subject, text, labels, details and raw bytes of the report, file
    // name, content type, hash and bytes of its attachments (their count and sizes stay),
    // address and payload of its notifications (one still pending becomes failed, "purged
    // by retention"); ids, times, statuses, cases, timers and the audit trail stay. The batch that
    // ends the sweep writes one audit event (actor "retention", kind "retention_sweep", detail
    // {"received_before","reports","notifications","batches"}) in the same transaction. Once cases
    // have states, only closed cases will be purged. The batch that ends the sweep also
    // empties the matchers and comment of silences that ended or were expired before
    // received_before (their ids, times and authors stay).
    virtual void purge_contents(purge_batch batch,
                                std::function<void(core::result<purge_progress>)> done) = 0;

    // Reads for tools and tests (synchronous; not for the io thread).
    [[nodiscard]] virtual core::result<std::vector<notification>> notifications_for_report(
        std::int64_t report_id) = 0;
    // A report whose sealed values do not open is an error with code "unreadable" (and
    // counted in hotline_store_unreadable_total); a notification that does not open is left
    // out of notifications_for_report and marked dead by due().
    [[nodiscard]] virtual core::result<std::optional<domain::report>> load_report(
        std::int64_t report_id) = 0;
    // The attachments of a report with their kept bytes, in the order they were stored.
    [[nodiscard]] virtual core::result<std::vector<domain::attachment>> attachments_for_report(
        std::int64_t report_id) = 0;

    // False from a failed write until a transaction that changed rows commits again; a
    // read-only one does not count (for /readyz).
    [[nodiscard]] virtual bool writable() const = 0;

    // When the backend's writer last showed life (the daemon kicks the systemd watchdog
    // only while it is recent): a writer beats at least every few hundred milliseconds
    // while idle and at the start and end of each batch. A backend without a writer
    // thread is always alive. Any thread.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point writer_heartbeat() const {
        return std::chrono::steady_clock::now();
    }

    // Finishes queued operations, then stops the writer thread. Idempotent. Operations
    // submitted afterwards fail at once with code "closed": on the caller's thread, or
    // posted to options.completions when set.
    virtual void close() = 0;
};

}  // namespace hotline::store
