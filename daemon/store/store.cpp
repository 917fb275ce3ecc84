// The SQLite store: one writer thread, group commit, per-operation failure isolation.
//
// Audit events written (actor, kind, detail):
//   source:<name>  report_received          {"source","severity","route","notification_ids":[..]}
//   dispatcher     notification_delivered   {"attempts","provider_id"}
//   dispatcher     notification_retry       {"attempts","next_attempt_at","error"}
//   dispatcher     notification_failed      {"attempts","error","follow_up_ids":[..]}
//   dispatcher     notification_dead        {"attempts","error","follow_up_ids":[..]}
// Queued notifications are listed in the event that created them (report_received or the
// failure that produced follow-ups) rather than one event each: ingest stays one audit row.
#include "store/store.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite/sealing.hpp"

namespace hotline::store {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_error_length = 500;
constexpr const char* batch_size_metric = "hotline_commit_batch_size";
constexpr const char* batch_latency_metric = "hotline_commit_latency_seconds";

notification_status status_from(const std::string& s) {
    if (s == "delivered") {
        return notification_status::delivered;
    }
    if (s == "failed") {
        return notification_status::failed;
    }
    if (s == "dead") {
        return notification_status::dead;
    }
    return notification_status::pending;
}

// Stable per notification and unguessable (a receiver may use it as a dedup key). The
// zero-padded id in front keeps inserts into the UNIQUE index at its right edge: a fully
// random key dirties one random index page per notification, which multiplied the WAL
// bytes per commit. Shape: "hl-" + 12 hex digits of the id + 32 random hex digits.
std::string new_idempotency_key(std::int64_t notification_id) {
    const auto hex = core::random_hex(16);
    char id_hex[13];
    std::snprintf(id_hex, sizeof id_hex, "%012llx",
                  static_cast<unsigned long long>(notification_id) & 0xffffffffffffULL);
    return std::string("hl-") + id_hex + hex;
}

std::string clip(std::string s) {
    if (s.size() > max_error_length) {
        s.resize(max_error_length);
        // Do not leave half a UTF-8 sequence at the cut.
        while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) {
            s.pop_back();
        }
        if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80) != 0) {
            s.pop_back();
        }
    }
    return s;
}

json labels_json(const std::map<std::string, std::string>& labels) {
    json j = json::object();
    for (const auto& [k, v] : labels) {
        j[k] = v;
    }
    return j;
}

std::string dump(const json& j) {
    // Replace invalid UTF-8 instead of throwing: the store must not fail on it.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

core::error closed_error() {
    return core::make_error("closed", "the store is closed");
}

// Columns of a notification row, in the order read_notification expects.
#define HOTLINE_NOTIFICATION_COLUMNS                                                       \
    "id, report_id, case_id, channel, address, target, contact_index, language, payload, " \
    "idempotency_key, attempts, next_attempt_at, created_at, last_error, status, provider_id"

// A notification row; "unreadable" when its sealed address or payload does not open.
core::result<notification> read_notification(const sqlite::query& q, const sqlite::sealer& sealer) {
    notification n;
    n.id = q.int64(0);
    n.report_id = q.int64(1);
    n.case_id = q.int64(2);
    n.channel = q.text(3);
    auto address = sealer.open(q, 4, "notifications", "address", n.id);
    if (!address) {
        return address.err();
    }
    n.address = std::move(*address);
    n.target = q.text(5);
    n.contact_index = static_cast<int>(q.int64(6));
    n.language = q.text(7);
    auto payload = sealer.open(q, 8, "notifications", "payload", n.id);
    if (!payload) {
        return payload.err();
    }
    n.payload = json::parse(*payload, nullptr, false);
    if (n.payload.is_discarded()) {
        // Only a hand-edited row gets here; keep the job moving rather than block the outbox.
        spdlog::warn("store: notification payload is not valid JSON notification_id={}", n.id);
        n.payload = json::object();
    }
    n.idempotency_key = q.text(9);
    n.attempts = static_cast<int>(q.int64(10));
    n.next_attempt_at = q.int64(11);
    n.created_at = q.int64(12);
    n.last_error = q.text(13);
    n.status = status_from(q.text(14));
    n.provider_id = q.text(15);
    return n;
}

// One queued operation. execute() runs on the writer thread inside the operation's
// savepoint; finish() or fail() runs once, after the batch's COMMIT (or its failure).
class operation {
public:
    virtual ~operation() = default;
    // Null on success; otherwise the op's error, and this op alone is rolled back.
    [[nodiscard]] virtual const core::error* execute() noexcept = 0;
    virtual void finish() noexcept = 0;
    virtual void fail(core::error e) noexcept = 0;
};

template <class T>
class typed_operation final : public operation {
public:
    typed_operation(std::function<core::result<T>()> body,
                    std::function<void(core::result<T>)> done)
        : body_(std::move(body)), done_(std::move(done)) {}

    const core::error* execute() noexcept override {
        try {
            outcome_.emplace(body_());
        } catch (const std::exception& e) {
            outcome_.emplace(core::make_error("internal", e.what()));
        } catch (...) {
            outcome_.emplace(core::make_error("internal", "unknown exception"));
        }
        return outcome_->ok() ? nullptr : &outcome_->err();
    }

    void finish() noexcept override {
        if (outcome_) {
            deliver(std::move(*outcome_));
        } else {
            deliver(core::make_error("internal", "operation did not run"));
        }
    }

    void fail(core::error e) noexcept override { deliver(std::move(e)); }

private:
    void deliver(core::result<T> r) noexcept {
        if (!done_) {
            return;
        }
        try {
            done_(std::move(r));
        } catch (const std::exception& e) {
            spdlog::error("store: completion threw: {}", e.what());
        } catch (...) {
            spdlog::error("store: completion threw an unknown exception");
        }
    }

    std::function<core::result<T>()> body_;
    std::function<void(core::result<T>)> done_;
    std::optional<core::result<T>> outcome_;
};

class sqlite_store final : public store {
public:
    sqlite_store(const options& opts, sqlite::db_lock lock, sqlite::connection writer,
                 sqlite::connection reader)
        : opts_(opts),
          lock_(std::move(lock)),
          sealer_(opts.keys, opts.metrics),
          db_(std::move(writer)),
          reader_(std::move(reader)) {
        if (opts_.max_batch == 0) {
            opts_.max_batch = 1;
        }
        if (opts_.metrics != nullptr) {
            std::vector<double> sizes;
            for (double b = 1; b <= 1024; b *= 2) {
                sizes.push_back(b);
            }
            opts_.metrics->describe_histogram(batch_size_metric, "Operations per store transaction",
                                              sizes);
            opts_.metrics->describe_histogram(
                batch_latency_metric, "Store transaction time from BEGIN to durable COMMIT",
                {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
        }
        sealer_.describe_metrics();
        writer_ = std::thread([this] { run(); });
    }

    sqlite_store(const sqlite_store&) = delete;
    sqlite_store& operator=(const sqlite_store&) = delete;

    ~sqlite_store() override { close(); }

    void ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                std::function<void(core::result<ingest_result>)> done) override {
        enqueue<ingest_result>([this, r = std::move(r), c = std::move(c),
                                planned = std::move(planned)] { return do_ingest(r, c, planned); },
                               std::move(done));
    }

    void record_attempt(std::int64_t notification_id, attempt_result outcome,
                        std::function<void(core::result<attempt_record>)> done) override {
        enqueue<attempt_record>(
            [this, notification_id, outcome = std::move(outcome)] {
                return do_record_attempt(notification_id, outcome);
            },
            std::move(done));
    }

    void due(std::int64_t now_ms, std::size_t limit, std::vector<std::int64_t> exclude,
             std::function<void(core::result<std::vector<notification>>)> done) override {
        enqueue<std::vector<notification>>(
            [this, now_ms, limit, exclude = std::move(exclude)] {
                return do_due(now_ms, limit, exclude);
            },
            std::move(done));
    }

    void next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) override {
        enqueue<std::optional<std::int64_t>>([this] { return do_next_due(); }, std::move(done));
    }

    void get_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) override {
        enqueue<stats>([this, now_ms] { return do_stats(now_ms); }, std::move(done));
    }

    void outbox_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) override {
        enqueue<stats>([this, now_ms] { return do_outbox(now_ms); }, std::move(done));
    }

    core::result<std::vector<notification>> notifications_for_report(
        std::int64_t report_id) override {
        const std::lock_guard lock(read_mu_);
        auto q = reader_.prepare("SELECT " HOTLINE_NOTIFICATION_COLUMNS
                                 " FROM notifications WHERE report_id = ? ORDER BY id");
        if (!q) {
            return q.err();
        }
        q->bind(1, report_id);
        std::vector<notification> out;
        for (;;) {
            auto row = q->step();
            if (!row) {
                return row.err();
            }
            if (!*row) {
                return out;
            }
            // An unreadable one is logged and counted by the sealer, and left out here.
            if (auto n = read_notification(*q, sealer_)) {
                out.push_back(std::move(*n));
            }
        }
    }

    core::result<std::optional<domain::report>> load_report(std::int64_t report_id) override {
        const std::lock_guard lock(read_mu_);
        auto q = reader_.prepare(
            "SELECT source, source_kind, external_id, sender, subject, text, labels, language, "
            "received_at FROM reports WHERE id = ?");
        if (!q) {
            return q.err();
        }
        q->bind(1, report_id);
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return std::optional<domain::report>{};
        }
        domain::report r;
        r.source = q->text(0);
        r.source_kind = q->text(1);
        r.external_id = q->text(2);
        auto sender = sealer_.open(*q, 3, "reports", "sender", report_id);
        auto subject = sealer_.open(*q, 4, "reports", "subject", report_id);
        auto text = sealer_.open(*q, 5, "reports", "text", report_id);
        auto labels_text = sealer_.open(*q, 6, "reports", "labels", report_id);
        for (const auto* part : {&sender, &subject, &text, &labels_text}) {
            if (!*part) {
                return part->err();
            }
        }
        r.sender = std::move(*sender);
        r.subject = std::move(*subject);
        r.text = std::move(*text);
        const auto labels = json::parse(*labels_text, nullptr, false);
        if (labels.is_object()) {
            for (const auto& [k, v] : labels.items()) {
                r.labels[k] = v.is_string() ? v.get<std::string>() : v.dump();
            }
        }
        r.language = q->text(7);
        r.received_at = q->int64(8);
        return std::optional<domain::report>(std::move(r));
    }

    bool writable() const override { return writable_.load(); }

    void close() override {
        {
            const std::lock_guard lock(mu_);
            closing_ = true;
        }
        cv_.notify_all();
        // A completion may call close() on the writer thread: it cannot join itself; the
        // destructor (on another thread) joins later.
        const std::lock_guard join_lock(join_mu_);
        if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) {
            writer_.join();
        }
    }

private:
    template <class T, class Body>
    void enqueue(Body body, std::function<void(core::result<T>)> done) {
        auto op = std::make_unique<typed_operation<T>>(std::move(body), std::move(done));
        {
            const std::lock_guard lock(mu_);
            if (!closing_) {
                queue_.push_back(std::move(op));
            }
        }
        if (op) {
            op->fail(closed_error());
            return;
        }
        cv_.notify_one();
    }

    [[nodiscard]] std::int64_t now_ms() const {
        if (opts_.clock != nullptr) {
            return opts_.clock->now_ms();
        }
        return core::system_clock{}.now_ms();
    }

    // ---- the writer thread ----

    void run() {
        std::vector<std::unique_ptr<operation>> batch;
        for (;;) {
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return !queue_.empty() || closing_; });
                if (queue_.empty()) {
                    return;  // closing, and everything queued before close() has run
                }
                // No waiting for a batch to fill: while one fsync runs, the next batch
                // accumulates by itself.
                const auto n = std::min(queue_.size(), opts_.max_batch);
                for (std::size_t i = 0; i < n; ++i) {
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
            run_batch(batch);
            batch.clear();
        }
    }

    core::status exec_cached(const char* sql) {
        auto q = db_.prepare(sql);
        if (!q) {
            return q.err();
        }
        return q->run();
    }

    void fail_batch(std::vector<std::unique_ptr<operation>>& batch, const core::error& e) {
        writable_.store(false);
        if (db_.in_transaction()) {
            (void)exec_cached("ROLLBACK");
        }
        spdlog::error("store: transaction failed, {} operations rejected code={} {}", batch.size(),
                      e.code, e.message);
        for (auto& op : batch) {
            op->fail(e);
        }
    }

    enum class batch_outcome { committed, op_failed, failed };

    // Savepoints copy every page an op touches into the sub-journal, which halved
    // throughput. So a batch first runs without them; if an op fails, the whole
    // transaction is rolled back and the batch runs again with one savepoint per op, so
    // that only the failing op is lost. Ops are re-runnable (they do not consume their
    // inputs) and nothing of the first run has been committed or reported.
    void run_batch(std::vector<std::unique_ptr<operation>>& batch) {
        const auto started = std::chrono::steady_clock::now();
        auto outcome = attempt_batch(batch, false);
        if (outcome == batch_outcome::op_failed) {
            outcome = attempt_batch(batch, true);
        }
        if (outcome != batch_outcome::committed) {
            return;  // attempt_batch failed every op
        }
        // synchronous=FULL: the batch is on disk now, so completions may acknowledge.
        writable_.store(true);
        if (opts_.metrics != nullptr) {
            const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
            opts_.metrics->observe(batch_size_metric, {}, static_cast<double>(batch.size()));
            opts_.metrics->observe(batch_latency_metric, {}, took.count());
        }
        for (auto& op : batch) {
            op->finish();
        }
    }

    batch_outcome attempt_batch(std::vector<std::unique_ptr<operation>>& batch, bool isolate) {
        if (auto begin = exec_cached("BEGIN IMMEDIATE"); !begin) {
            fail_batch(batch, begin.err());
            return batch_outcome::failed;
        }
        for (auto& op : batch) {
            if (isolate) {
                if (auto sp = exec_cached("SAVEPOINT op"); !sp) {
                    fail_batch(batch, sp.err());
                    return batch_outcome::failed;
                }
            }
            const core::error* failed = op->execute();
            if (failed != nullptr && !isolate) {
                if (db_.in_transaction()) {
                    (void)exec_cached("ROLLBACK");
                }
                if (db_.in_transaction()) {
                    fail_batch(batch, *failed);
                    return batch_outcome::failed;
                }
                return batch_outcome::op_failed;
            }
            if (failed != nullptr && db_.in_transaction()) {
                // The op reports its own error after the commit; the others are unaffected.
                // Should the rollback itself fail, RELEASE would keep half an op: give up.
                if (auto undo = exec_cached("ROLLBACK TO op"); !undo) {
                    fail_batch(batch, undo.err());
                    return batch_outcome::failed;
                }
            }
            // I/O errors, a full disk or running out of memory can make SQLite roll back
            // the whole transaction: then the earlier ops are gone too.
            if (!db_.in_transaction()) {
                fail_batch(batch, failed != nullptr
                                      ? *failed
                                      : core::make_error("io_error",
                                                         "SQLite rolled back the transaction"));
                return batch_outcome::failed;
            }
            if (isolate) {
                if (auto rel = exec_cached("RELEASE op"); !rel) {
                    fail_batch(batch, rel.err());
                    return batch_outcome::failed;
                }
            }
        }
        if (auto commit = exec_cached("COMMIT"); !commit) {
            fail_batch(batch, commit.err());
            return batch_outcome::failed;
        }
        return batch_outcome::committed;
    }

    core::status audit(const char* actor_prefix, const std::string& actor, const char* kind,
                       std::int64_t case_id, std::int64_t report_id, std::int64_t notification_id,
                       const json& detail, std::int64_t at) {
        auto q = db_.prepare(
            "INSERT INTO audit_events(at, actor, kind, case_id, report_id, notification_id, "
            "detail) VALUES(?, ?, ?, ?, ?, ?, ?)");
        if (!q) {
            return q.err();
        }
        q->bind(1, at).bind(2, std::string(actor_prefix) + actor).bind(3, std::string_view(kind));
        const auto bind_id = [&](int index, std::int64_t id) {
            if (id > 0) {
                q->bind(index, id);
            } else {
                q->bind_null(index);
            }
        };
        bind_id(4, case_id);
        bind_id(5, report_id);
        bind_id(6, notification_id);
        q->bind(7, dump(detail));
        return q->run();
    }

    // The next free id of a table (MAX(id) + 1; ids are never reused while rows exist).
    core::result<std::int64_t> next_id(const char* sql) {
        auto q = db_.prepare(sql);
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        return *row ? q->int64(0) : std::int64_t{1};
    }

    // Inserts planned notifications for one report/case. Ids are allocated up front (we
    // hold the write lock) so the payload can carry its own notification_id in one INSERT.
    core::result<std::vector<notification>> insert_notifications(
        std::int64_t report_id, std::int64_t case_id,
        const std::vector<planned_notification>& planned, std::int64_t next_attempt_at,
        std::int64_t now) {
        std::vector<notification> stored;
        if (planned.empty()) {
            return stored;
        }
        auto first_id = next_id("SELECT IFNULL(MAX(id), 0) + 1 FROM notifications");
        if (!first_id) {
            return first_id.err();
        }
        std::int64_t next_id = *first_id;
        stored.reserve(planned.size());
        for (const auto& p : planned) {
            notification n;
            n.id = next_id++;
            n.report_id = report_id;
            n.case_id = case_id;
            n.channel = p.channel;
            n.address = p.address;
            n.target = p.target;
            n.contact_index = p.contact_index;
            n.language = p.language;
            n.payload = p.payload.is_null() ? json::object() : p.payload;
            if (!n.payload.is_object()) {
                return core::make_error("bad_payload", "notification payload must be an object");
            }
            // The schema's CHECK(length(address) > 0) cannot see through the seal.
            if (n.address.empty()) {
                return core::make_error("constraint", "notification address is empty");
            }
            n.payload["report_id"] = report_id;
            n.payload["case_id"] = case_id;
            n.payload["notification_id"] = n.id;
            n.idempotency_key = new_idempotency_key(n.id);
            n.next_attempt_at = next_attempt_at;
            n.created_at = now;
            auto q = db_.prepare(
                "INSERT INTO notifications(id, report_id, case_id, channel, address, target, "
                "contact_index, language, payload, idempotency_key, attempts, next_attempt_at, "
                "created_at, status, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'pending', ?)");
            if (!q) {
                return q.err();
            }
            q->bind(1, n.id)
                .bind(2, report_id)
                .bind(3, case_id)
                .bind(4, n.channel)
                .bind(6, n.target)
                .bind(7, static_cast<std::int64_t>(n.contact_index))
                .bind(8, n.language)
                .bind(10, n.idempotency_key)
                .bind(11, n.next_attempt_at)
                .bind(12, now)
                .bind(13, now);
            sealer_.bind(*q, 5, "notifications", "address", n.id, n.address);
            sealer_.bind(*q, 9, "notifications", "payload", n.id, dump(n.payload));
            if (auto done = q->run(); !done) {
                return done.err();
            }
            stored.push_back(std::move(n));
        }
        return stored;
    }

    core::result<ingest_result> do_ingest(const domain::report& r, const case_info& c,
                                          const std::vector<planned_notification>& planned) {
        const auto now = now_ms();
        const auto received_at = r.received_at > 0 ? r.received_at : now;
        ingest_result out;
        // The id is allocated first (we hold the write lock) so that the sealed values can be
        // bound to their row in the one INSERT.
        auto report_id = next_id("SELECT IFNULL(MAX(id), 0) + 1 FROM reports");
        if (!report_id) {
            return report_id.err();
        }
        {
            auto q = db_.prepare(
                "INSERT INTO reports(id, source, source_kind, external_id, sender, subject, text, "
                "labels, language, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(source, external_id) DO NOTHING RETURNING id");
            if (!q) {
                return q.err();
            }
            q->bind(1, *report_id)
                .bind(2, r.source)
                .bind(3, r.source_kind)
                .bind(4, r.external_id)
                .bind(9, r.language)
                .bind(10, received_at);
            sealer_.bind(*q, 5, "reports", "sender", *report_id, r.sender);
            sealer_.bind(*q, 6, "reports", "subject", *report_id, r.subject);
            sealer_.bind(*q, 7, "reports", "text", *report_id, r.text);
            sealer_.bind(*q, 8, "reports", "labels", *report_id, dump(labels_json(r.labels)));
            auto row = q->step();
            if (!row) {
                return row.err();
            }
            if (*row) {
                out.ids.report_id = q->int64(0);
                if (auto rest = q->run(); !rest) {
                    return rest.err();
                }
            }
        }
        if (out.ids.report_id == 0) {
            return find_duplicate(r);
        }
        {
            auto q = db_.prepare(
                "INSERT INTO cases(report_id, state, severity, route, labels, created_at) "
                "VALUES(?, 'open', ?, ?, ?, ?) RETURNING id");
            if (!q) {
                return q.err();
            }
            q->bind(1, out.ids.report_id)
                .bind(2, c.severity)
                .bind(3, c.route)
                .bind(4, dump(c.labels.is_null() ? json::object() : c.labels))
                .bind(5, now);
            auto row = q->step();
            if (!row) {
                return row.err();
            }
            if (!*row) {
                return core::make_error("storage", "case insert returned no id");
            }
            out.ids.case_id = q->int64(0);
            if (auto rest = q->run(); !rest) {
                return rest.err();
            }
        }
        auto stored =
            insert_notifications(out.ids.report_id, out.ids.case_id, planned, received_at, now);
        if (!stored) {
            return stored.err();
        }
        out.notifications = std::move(*stored);
        json ids = json::array();
        for (const auto& n : out.notifications) {
            ids.push_back(n.id);
        }
        const json detail = {{"source", r.source},
                             {"severity", c.severity},
                             {"route", c.route},
                             {"notification_ids", std::move(ids)}};
        if (auto a = audit("source:", r.source, "report_received", out.ids.case_id,
                           out.ids.report_id, 0, detail, now);
            !a) {
            return a.err();
        }
        return out;
    }

    core::result<ingest_result> find_duplicate(const domain::report& r) {
        auto q = db_.prepare(
            "SELECT r.id, IFNULL((SELECT MIN(c.id) FROM cases c WHERE c.report_id = r.id), 0) "
            "FROM reports r WHERE r.source = ? AND r.external_id = ?");
        if (!q) {
            return q.err();
        }
        q->bind(1, r.source).bind(2, r.external_id);
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return core::make_error("storage", "report conflicted but cannot be found");
        }
        ingest_result out;
        out.ids.report_id = q->int64(0);
        out.ids.case_id = q->int64(1);
        out.ids.duplicate = true;
        return out;
    }

    core::result<attempt_record> do_record_attempt(std::int64_t id, const attempt_result& outcome) {
        const auto now = now_ms();
        std::int64_t report_id = 0;
        std::int64_t case_id = 0;
        std::int64_t attempts = 0;
        std::int64_t due_at = 0;
        {
            auto q = db_.prepare(
                "SELECT report_id, case_id, status, attempts, next_attempt_at "
                "FROM notifications WHERE id = ?");
            if (!q) {
                return q.err();
            }
            q->bind(1, id);
            auto row = q->step();
            if (!row) {
                return row.err();
            }
            if (!*row) {
                return core::make_error("not_found",
                                        "no notification with id " + std::to_string(id));
            }
            if (q->text(2) != "pending") {
                // Already settled, e.g. the attempt is replayed after a restart.
                return attempt_record{};
            }
            report_id = q->int64(0);
            case_id = q->int64(1);
            attempts = q->int64(3) + 1;
            due_at = q->int64(4);
        }
        const auto error_text = clip(outcome.detail);
        attempt_record record;
        switch (outcome.outcome) {
            case attempt_result::kind::delivered: {
                auto q = db_.prepare(
                    "UPDATE notifications SET status = 'delivered', attempts = ?, provider_id = ?, "
                    "last_error = NULL, updated_at = ? WHERE id = ?");
                if (!q) {
                    return q.err();
                }
                q->bind(1, attempts).bind_optional(2, outcome.provider_id).bind(3, now).bind(4, id);
                if (auto done = q->run(); !done) {
                    return done.err();
                }
                const json detail = {{"attempts", attempts}, {"provider_id", outcome.provider_id}};
                if (auto a = audit("", "dispatcher", "notification_delivered", case_id, report_id,
                                   id, detail, now);
                    !a) {
                    return a.err();
                }
                break;
            }
            case attempt_result::kind::retry: {
                auto q = db_.prepare(
                    "UPDATE notifications SET attempts = ?, next_attempt_at = ?, last_error = ?, "
                    "updated_at = ? WHERE id = ?");
                if (!q) {
                    return q.err();
                }
                q->bind(1, attempts)
                    .bind(2, outcome.next_attempt_at)
                    .bind_optional(3, error_text)
                    .bind(4, now)
                    .bind(5, id);
                if (auto done = q->run(); !done) {
                    return done.err();
                }
                const json detail = {{"attempts", attempts},
                                     {"next_attempt_at", outcome.next_attempt_at},
                                     {"error", error_text}};
                if (auto a = audit("", "dispatcher", "notification_retry", case_id, report_id, id,
                                   detail, now);
                    !a) {
                    return a.err();
                }
                break;
            }
            case attempt_result::kind::failed: {
                auto q = db_.prepare(
                    "UPDATE notifications SET status = ?, attempts = ?, last_error = ?, "
                    "updated_at = ? WHERE id = ?");
                if (!q) {
                    return q.err();
                }
                q->bind(1, std::string_view(outcome.dead_letter ? "dead" : "failed"))
                    .bind(2, attempts)
                    .bind_optional(3, error_text)
                    .bind(4, now)
                    .bind(5, id);
                if (auto done = q->run(); !done) {
                    return done.err();
                }
                // Follow-ups are due at once; the failed job's due time keeps them ahead of
                // newer work and due even when the caller's clock lags ours (tests).
                auto stored = insert_notifications(report_id, case_id, outcome.follow_ups,
                                                   std::min(now, due_at), now);
                if (!stored) {
                    return stored.err();
                }
                record.follow_ups = std::move(*stored);
                json ids = json::array();
                for (const auto& n : record.follow_ups) {
                    ids.push_back(n.id);
                }
                const json detail = {{"attempts", attempts},
                                     {"error", error_text},
                                     {"follow_up_ids", std::move(ids)}};
                if (auto a =
                        audit("", "dispatcher",
                              outcome.dead_letter ? "notification_dead" : "notification_failed",
                              case_id, report_id, id, detail, now);
                    !a) {
                    return a.err();
                }
                break;
            }
        }
        return record;
    }

    core::result<std::vector<notification>> do_due(std::int64_t now, std::size_t limit,
                                                   const std::vector<std::int64_t>& exclude) {
        std::vector<notification> out;
        if (limit == 0) {
            return out;
        }
        const std::unordered_set<std::int64_t> skip(exclude.begin(), exclude.end());
        // Rows come in index order; excluded ids are skipped here, so at most
        // limit + exclude.size() rows are read.
        struct unreadable_row {
            std::int64_t id, report_id, case_id;
        };
        std::vector<unreadable_row> unreadable;
        {
            auto q = db_.prepare("SELECT " HOTLINE_NOTIFICATION_COLUMNS
                                 " FROM notifications WHERE status = 'pending' AND "
                                 "next_attempt_at <= ? ORDER BY next_attempt_at, id");
            if (!q) {
                return q.err();
            }
            q->bind(1, now);
            while (out.size() < limit) {
                auto row = q->step();
                if (!row) {
                    return row.err();
                }
                if (!*row) {
                    break;
                }
                if (skip.contains(q->int64(0))) {
                    continue;
                }
                if (auto n = read_notification(*q, sealer_)) {
                    out.push_back(std::move(*n));
                } else {
                    unreadable.push_back({q->int64(0), q->int64(1), q->int64(2)});
                }
            }
        }  // the cursor is reset before the updates
        for (const auto& u : unreadable) {
            if (auto marked = mark_unreadable(u.id, u.report_id, u.case_id, now); !marked) {
                return marked.err();
            }
        }
        return out;
    }

    // A pending notification whose address or payload does not open can never be sent:
    // it is settled as dead, so it neither blocks the outbox nor is retried forever.
    core::status mark_unreadable(std::int64_t id, std::int64_t report_id, std::int64_t case_id,
                                 std::int64_t now) {
        auto q = db_.prepare(
            "UPDATE notifications SET status = 'dead', last_error = ?, updated_at = ? "
            "WHERE id = ? AND status = 'pending'");
        if (!q) {
            return q.err();
        }
        q->bind(1, std::string_view(sqlite::unreadable_error)).bind(2, now).bind(3, id);
        if (auto done = q->run(); !done) {
            return done;
        }
        spdlog::error("store: notification_id={} is unreadable, marked dead", id);
        const json detail = {{"error", sqlite::unreadable_error}};
        return audit("", "store", "notification_unreadable", case_id, report_id, id, detail,
                     now_ms());
    }

    core::result<std::optional<std::int64_t>> do_next_due() {
        auto q =
            db_.prepare("SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'pending'");
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row || q->is_null(0)) {
            return std::optional<std::int64_t>{};
        }
        return std::optional<std::int64_t>(q->int64(0));
    }

    core::result<std::int64_t> count(const char* sql) {
        auto q = db_.prepare(sql);
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        return *row ? q->int64(0) : 0;
    }

    core::result<stats> do_stats(std::int64_t now) {
        stats s;
        {
            auto q = db_.prepare("SELECT status, COUNT(*) FROM notifications GROUP BY status");
            if (!q) {
                return q.err();
            }
            for (;;) {
                auto row = q->step();
                if (!row) {
                    return row.err();
                }
                if (!*row) {
                    break;
                }
                const auto n = q->int64(1);
                switch (status_from(q->text(0))) {
                    case notification_status::pending: s.pending = n; break;
                    case notification_status::delivered: s.delivered = n; break;
                    case notification_status::failed: s.failed = n; break;
                    case notification_status::dead: s.dead = n; break;
                }
            }
        }
        auto reports = count("SELECT COUNT(*) FROM reports");
        if (!reports) {
            return reports.err();
        }
        s.reports = *reports;
        auto cases = count("SELECT COUNT(*) FROM cases");
        if (!cases) {
            return cases.err();
        }
        s.cases = *cases;
        auto outbox = do_outbox(now);
        if (!outbox) {
            return outbox.err();
        }
        s.oldest_due_at = outbox->oldest_due_at;
        return s;
    }

    core::result<stats> do_outbox(std::int64_t now) {
        stats s;
        auto pending = count("SELECT COUNT(*) FROM notifications WHERE status = 'pending'");
        if (!pending) {
            return pending.err();
        }
        s.pending = *pending;
        auto q = db_.prepare(
            "SELECT IFNULL(MIN(next_attempt_at), 0) FROM notifications "
            "WHERE status = 'pending' AND next_attempt_at <= ?");
        if (!q) {
            return q.err();
        }
        q->bind(1, now);
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        s.oldest_due_at = *row ? q->int64(0) : 0;
        return s;
    }

    options opts_;
    sqlite::db_lock lock_;  // held while the store is open: keeps a rekey out
    sqlite::sealer sealer_;
    sqlite::connection db_;  // writer thread only, once it runs

    std::mutex read_mu_;
    sqlite::connection reader_;  // read-only, for the synchronous reads

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<operation>> queue_;
    bool closing_{false};

    std::atomic<bool> writable_{true};
    std::mutex join_mu_;
    std::thread writer_;  // last: starts after everything it uses exists
};

// Reports are sensitive: the database and its -wal/-shm files are private to the service
// user. SQLite creates -wal and -shm with the main file's mode, so creating that one 0600
// covers them; files left by an older run are tightened too.
core::status make_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return core::make_error("readonly",
                                "cannot open database file: " + std::string(std::strerror(errno)));
    }
    (void)::fchmod(fd, 0600);
    ::close(fd);
    for (const char* suffix : {"-wal", "-shm"}) {
        (void)::chmod((path + suffix).c_str(), 0600);
    }
    return core::ok();
}

core::status configure(sqlite::connection& db, bool writer, int busy_timeout_ms) {
    sqlite3_busy_timeout(db.get(), busy_timeout_ms);
    if (writer) {
        // The first statement that reads the file: a garbage file fails here.
        auto q = db.prepare("PRAGMA journal_mode = WAL");
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row || q->text(0) != "wal") {
            return core::make_error("storage", "cannot switch the database to WAL mode");
        }
    }
    // A page cache big enough for the hot index pages of a busy outbox (default: 2 MiB).
    if (auto s = db.exec("PRAGMA cache_size = -65536"); !s) {
        return s;
    }
    // Checkpoints run inside a commit on the writer thread; fewer, larger ones write each
    // hot page once instead of once per 1000 WAL frames. The WAL grows to ~40 MiB.
    if (auto s = db.exec("PRAGMA wal_autocheckpoint = 10000"); !s) {
        return s;
    }
    if (auto s = db.exec("PRAGMA synchronous = FULL"); !s) {
        return s;
    }
    return db.exec("PRAGMA foreign_keys = ON");
}

core::error with_path(core::error e, const std::string& path) {
    e.context = path;
    if (e.code == "corrupt") {
        e.message = "not a hotline database, or corrupt: " + e.message;
    }
    return e;
}

// Results are built on the writer thread and freed on the callers' threads, so each batch
// grows the writer's malloc arena and the frees shrink it again; glibc trims an arena as
// soon as 128 KiB are free at its top (madvise, then page faults to grow back, and TLB
// shootdowns across every CPU the daemon's threads ran on). Measured with 64 submitters:
// 1.5k -> 4.6k ingests/s. Process-wide, once; a daemon keeps up to 32 MiB per arena.
void keep_freed_memory() {
    static std::once_flag once;
    std::call_once(once, [] { (void)::mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024); });
}

}  // namespace

core::result<std::unique_ptr<store>> store::open(const options& opts) {
    if (opts.path.empty() || opts.path == ":memory:" || opts.path.starts_with("file:")) {
        return core::make_error("config", "storage.path must name a database file");
    }
    if (!opts.keys && !opts.unsealed_for_tests) {
        return core::make_error("key", "no storage key: the store seals what it keeps", opts.path);
    }
    keep_freed_memory();
    const std::filesystem::path path(opts.path);
    if (path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            return core::make_error("readonly", "cannot create directory: " + ec.message(),
                                    path.parent_path().string());
        }
    }
    if (auto p = make_private(opts.path); !p) {
        return with_path(p.err(), opts.path);
    }
    auto lock = sqlite::db_lock::acquire(opts.path);
    if (!lock) {
        return lock.err();
    }
    auto writer = sqlite::connection::open(
        opts.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    if (!writer) {
        return with_path(writer.err(), opts.path);
    }
    if (auto c = configure(*writer, true, opts.busy_timeout_ms); !c) {
        return with_path(c.err(), opts.path);
    }
    const sqlite::sealer sealer(opts.keys);
    // Before any migration writes: a key that does not open the existing rows changes nothing.
    if (auto k = sqlite::check_key(*writer, sealer); !k) {
        return with_path(k.err(), opts.path);
    }
    if (auto m = migrate(*writer); !m) {
        return with_path(m.err(), opts.path);
    }
    if (auto s = sqlite::seal_existing(*writer, sealer); !s) {
        return with_path(s.err(), opts.path);
    }
    (void)make_private(opts.path);  // -wal/-shm exist now
    auto reader = sqlite::connection::open(opts.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (!reader) {
        return with_path(reader.err(), opts.path);
    }
    if (auto c = configure(*reader, false, opts.busy_timeout_ms); !c) {
        return with_path(c.err(), opts.path);
    }
    return std::unique_ptr<store>(std::make_unique<sqlite_store>(
        opts, std::move(*lock), std::move(*writer), std::move(*reader)));
}

}  // namespace hotline::store
