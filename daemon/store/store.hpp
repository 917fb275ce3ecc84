// The durable store (SQLite, WAL, synchronous=FULL) behind one writer thread with
// group commit: operations queued by any thread are run in batches, one transaction
// and one fsync per batch, and each operation's completion runs only after its batch
// is durable. Completions run on the writer thread: callers post them where they belong.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

struct ingest_result {
    domain::report_ids ids;
    std::vector<notification> notifications;  // as stored; empty for a duplicate
};

// Result of one delivery attempt, as the dispatcher saw it.
struct attempt_result {
    enum class kind { delivered, retry, failed };  // failed = permanent or retries exhausted
    kind outcome{kind::retry};
    std::string detail;  // short, no contents
    std::string provider_id;
    std::int64_t next_attempt_at{};  // for retry
    // For failed: what to enqueue instead (the target's next contact, or the admins'
    // dead-letter alerts). Empty with dead_letter=false means just "failed".
    std::vector<planned_notification> follow_ups;
    bool dead_letter{false};  // mark this one "dead" (all contacts exhausted)
};

struct attempt_record {
    std::vector<notification> follow_ups;  // as stored, to hand to the dispatcher
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
};

class store {
public:
    // Opens (creating if needed, with parent directories, mode 0600) and migrates the
    // database, holding "<path>.lock" (flock) until close. Runs on the caller's thread.
    // Error codes: "corrupt" (not an SQLite file), "schema_too_new" (written by a newer
    // hotline), "readonly", "config", "storage", "key" (no keyring), "wrong_key" (the key
    // does not open the existing rows; nothing is written), "rekey_incomplete", "locked"
    // (another process has it open).
    // Operation errors: "constraint", "bad_payload", "busy", "disk_full", "io_error".
    [[nodiscard]] static core::result<std::unique_ptr<store>> open(const options& opts);
    virtual ~store() = default;

    // Stores a report, its case (one per report for now), the planned notifications and an
    // audit event in one transaction. A report whose (source, external_id) exists is a
    // duplicate: nothing is written and the existing ids come back with duplicate=true.
    virtual void ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                        std::function<void(core::result<ingest_result>)> done) = 0;

    // Records an attempt's outcome (and its follow-ups) in one transaction. Every outcome
    // counts an attempt. Follow-ups are due at once. For a notification that is no longer
    // pending this is a no-op with no follow-ups (replay after a crash); an unknown id is
    // an error with code "not_found".
    virtual void record_attempt(std::int64_t notification_id, attempt_result outcome,
                                std::function<void(core::result<attempt_record>)> done) = 0;

    // Pending jobs due at or before `now_ms`, oldest first, skipping `exclude` ids (in flight).
    virtual void due(std::int64_t now_ms, std::size_t limit, std::vector<std::int64_t> exclude,
                     std::function<void(core::result<std::vector<notification>>)> done) = 0;

    // Earliest next_attempt_at among pending jobs, if any.
    virtual void next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) = 0;

    virtual void get_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) = 0;

    // The outbox gauges alone (pending and oldest_due_at; other fields 0). Cheap: it reads
    // only the pending rows through the (status, next_attempt_at) index, so the dispatcher
    // can poll it every second without full-table scans in the writer's batches.
    virtual void outbox_stats(std::int64_t now_ms,
                              std::function<void(core::result<stats>)> done) = 0;

    // Reads for tools and tests (synchronous; not for the io thread).
    [[nodiscard]] virtual core::result<std::vector<notification>> notifications_for_report(
        std::int64_t report_id) = 0;
    // A report whose sealed values do not open is an error with code "unreadable" (and
    // counted in hotline_store_unreadable_total); a notification that does not open is left
    // out of notifications_for_report and marked dead by due().
    [[nodiscard]] virtual core::result<std::optional<domain::report>> load_report(
        std::int64_t report_id) = 0;

    // True when a write transaction succeeded recently (for /readyz).
    [[nodiscard]] virtual bool writable() const = 0;

    // Finishes queued operations, then stops the writer thread. Idempotent. Operations
    // submitted afterwards fail at once, on the caller's thread, with code "closed".
    virtual void close() = 0;
};

}  // namespace hotline::store
