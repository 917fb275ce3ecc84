#include "store/sqlite/writer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "core/metrics.hpp"
#include "core/thread_name.hpp"

namespace hotline::store::sqlite {
namespace {

constexpr const char* batch_size_metric = "hotline_commit_batch_size";
constexpr const char* batch_latency_metric = "hotline_commit_latency_seconds";

// The extended result codes of an I/O error, for the one line logged before exiting.
const char* io_error_name(int rc) {
    switch (rc) {
        case SQLITE_IOERR_FSYNC: return "SQLITE_IOERR_FSYNC";
        case SQLITE_IOERR_DIR_FSYNC: return "SQLITE_IOERR_DIR_FSYNC";
        case SQLITE_IOERR_WRITE: return "SQLITE_IOERR_WRITE";
        case SQLITE_IOERR_READ: return "SQLITE_IOERR_READ";
        case SQLITE_IOERR_SHORT_READ: return "SQLITE_IOERR_SHORT_READ";
        case SQLITE_IOERR_TRUNCATE: return "SQLITE_IOERR_TRUNCATE";
        case SQLITE_IOERR_FSTAT: return "SQLITE_IOERR_FSTAT";
        case SQLITE_IOERR_SHMOPEN: return "SQLITE_IOERR_SHMOPEN";
        case SQLITE_IOERR_SHMSIZE: return "SQLITE_IOERR_SHMSIZE";
        case SQLITE_IOERR_SHMMAP: return "SQLITE_IOERR_SHMMAP";
        case SQLITE_IOERR_NOMEM: return "SQLITE_IOERR_NOMEM";
        default: return "SQLITE_IOERR";
    }
}

bool is_failed_sync(int rc) {
    return rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC;
}

}  // namespace

core::error closed_error() {
    return core::make_error("closed", "the store is closed");
}

writer::writer(connection db, std::size_t max_batch, core::metrics* metrics)
    : db_(std::move(db)), max_batch_(max_batch == 0 ? 1 : max_batch), metrics_(metrics) {
    if (metrics_ != nullptr) {
        std::vector<double> sizes;
        for (double b = 1; b <= 1024; b *= 2) {
            sizes.push_back(b);
        }
        metrics_->describe_histogram(batch_size_metric, "Operations per store transaction", sizes);
        metrics_->describe_histogram(
            batch_latency_metric, "Store transaction time from BEGIN to durable COMMIT",
            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
    }
    // SQLite's own autocheckpoint runs inside COMMIT and drops the checkpoint's result, so
    // a failed fsync of the database file would go unseen and the next checkpoint could
    // "succeed" over pages the kernel dropped, then reset the WAL that still held them.
    // The same checkpoint, with its result checked.
    if (auto frames = scalar(db_, "PRAGMA wal_autocheckpoint"); frames && *frames > 0) {
        checkpoint_frames_ = static_cast<int>(*frames);
        sqlite3_wal_hook(db_.get(), &writer::after_wal_commit, this);
    }
    thread_ = std::thread([this] {
        core::name_this_thread("store-writer");
        run();
    });
}

int writer::after_wal_commit(void* self, sqlite3* db, const char* name, int frames) noexcept {
    auto* w = static_cast<writer*>(self);
    if (frames < w->checkpoint_frames_) {
        return SQLITE_OK;
    }
    const int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    // Any I/O error here: the database file's state is unknown (the WAL still holds the
    // commit). Busy (a reader in the way) is routine: the next commit tries again.
    if ((rc & 0xff) == SQLITE_IOERR) {
        w->exit_if_unknown_on_disk("COMMIT (its checkpoint)", rc);
    }
    return SQLITE_OK;
}

writer::~writer() {
    close();
}

void writer::submit(std::unique_ptr<operation> op) {
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

void writer::close() {
    {
        const std::lock_guard lock(mu_);
        closing_ = true;
    }
    cv_.notify_all();
    // A completion may call close() on the writer thread: it cannot join itself; the
    // destructor (on another thread) joins later.
    const std::lock_guard join_lock(join_mu_);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        thread_.join();
    }
}

void writer::beat() noexcept {
    heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count());
}

void writer::run() {
    std::vector<std::unique_ptr<operation>> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            // Bounded waits: an idle writer keeps its heartbeat fresh, so only a batch
            // that runs long (or a dead thread) makes it old.
            while (!cv_.wait_for(lock, idle_heartbeat,
                                 [this] { return !queue_.empty() || closing_; })) {
                beat();
            }
            beat();
            if (queue_.empty()) {
                return;  // closing, and everything queued before close() has run
            }
            // No waiting for a batch to fill: while one fsync runs, the next batch
            // accumulates by itself.
            const auto n = std::min(queue_.size(), max_batch_);
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        run_batch(batch);
        batch.clear();
        beat();
    }
}

core::status writer::exec_cached(const char* sql) {
    auto q = db_.prepare(sql);
    if (!q) {
        return q.err();
    }
    auto done = q->run();
    if (!done) {
        exit_if_unknown_on_disk(sql, sqlite3_extended_errcode(db_.get()));
    }
    return done;
}

// After a failed COMMIT or fsync SQLite cannot say what reached the disk: the WAL may hold
// the whole transaction, part of it, or none, and the kernel may have dropped the dirty
// pages it could not write (so a later fsync "succeeds" without them). Neither "failed"
// nor "done" is true for the batch's operations, and carrying on would acknowledge later
// ones on top of an unknown state. So: one line, then exit at once, completing nothing;
// systemd restarts the daemon and SQLite recovers from the WAL (a client that got no
// answer retries, and a committed report then answers as a duplicate). SQLITE_FULL is not
// this: nothing was written, the batch fails and is retried.
void writer::exit_if_unknown_on_disk(const char* statement, int rc) {
    const bool on_commit = std::string_view(statement).starts_with("COMMIT");
    if ((rc & 0xff) != SQLITE_IOERR || (!on_commit && !is_failed_sync(rc))) {
        return;
    }
    spdlog::critical(
        "store: {} failed with an I/O error ({}, code {}): what is on disk is unknown; exiting "
        "with status {} so that a restart recovers from the WAL",
        statement, io_error_name(rc), rc, io_error_exit_code);
    spdlog::default_logger_raw()->flush();
    std::_Exit(io_error_exit_code);
}

void writer::fail_batch(std::vector<std::unique_ptr<operation>>& batch, const core::error& e) {
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

// Savepoints copy every page an op touches into the sub-journal, which halved
// throughput. So a batch first runs without them; if an op fails, the whole
// transaction is rolled back and the batch runs again with one savepoint per op, so
// that only the failing op is lost. Ops are re-runnable (they do not consume their
// inputs) and nothing of the first run has been committed or reported.
void writer::run_batch(std::vector<std::unique_ptr<operation>>& batch) {
    const auto started = std::chrono::steady_clock::now();
    const auto changes_before = sqlite3_total_changes64(db_.get());
    auto outcome = attempt_batch(batch, false);
    if (outcome == batch_outcome::op_failed) {
        outcome = attempt_batch(batch, true);
    }
    beat();  // before the completions: whoever they wake sees a writer that is alive
    if (outcome != batch_outcome::committed) {
        return;  // attempt_batch failed every op
    }
    // synchronous=FULL: the batch is on disk now, so completions may acknowledge.
    // Only a batch that changed rows proves the store can write again: a read-only one
    // (a due scan, the gauges) commits on a full disk too, and must not turn /readyz
    // green while every write still fails (issue 7, fault 1).
    if (sqlite3_total_changes64(db_.get()) != changes_before) {
        writable_.store(true);
    }
    if (metrics_ != nullptr) {
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
        metrics_->observe(batch_size_metric, {}, static_cast<double>(batch.size()));
        metrics_->observe(batch_latency_metric, {}, took.count());
    }
    spdlog::debug("store: batch committed ops={}", batch.size());
    for (auto& op : batch) {
        op->finish();
    }
}

writer::batch_outcome writer::attempt_batch(std::vector<std::unique_ptr<operation>>& batch,
                                            bool isolate) {
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
        const core::error* failed = op->execute(db_);
        if (failed != nullptr) {
            exit_if_unknown_on_disk("a statement", sqlite3_extended_errcode(db_.get()));
        }
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
            fail_batch(batch,
                       failed != nullptr
                           ? *failed
                           : core::make_error("io_error", "SQLite rolled back the transaction"));
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

}  // namespace hotline::store::sqlite
