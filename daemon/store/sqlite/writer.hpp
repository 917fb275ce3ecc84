// The writer thread: operations queued by any thread run in batches on the one write
// connection, one transaction and one fsync per batch (group commit), and each
// operation's completion runs only after its batch is durable (or failed). A failing
// operation is rolled back alone: the batch is re-run with one savepoint per operation.
// An I/O error on COMMIT (or a failed fsync) ends the process (io_error_exit_code): what
// reached the disk is unknown, so nothing may be acknowledged; a restart recovers from
// the WAL. The thread heartbeats (heartbeat()) so that a stuck batch can be noticed.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/asio.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace hotline::core {
class metrics;
}  // namespace hotline::core

namespace hotline::store::sqlite {

// One queued operation. execute() runs on the writer thread inside the operation's
// transaction (or savepoint), possibly twice (see writer::run_batch); finish() or fail()
// runs once, after the batch's COMMIT (or its failure).
class operation {
public:
    virtual ~operation() = default;
    // Null on success; otherwise the op's error, and this op alone is rolled back.
    [[nodiscard]] virtual const core::error* execute(connection& db) noexcept = 0;
    virtual void finish() noexcept = 0;
    virtual void fail(core::error e) noexcept = 0;
};

// Runs a completion, logging (never propagating) what it throws: a completion must not
// take the writer thread or the caller's io_context down.
template <class T>
void run_completion(std::function<void(core::result<T>)>& done, core::result<T> r) noexcept {
    try {
        done(std::move(r));
    } catch (const std::exception& e) {
        spdlog::error("store: completion threw: {}", e.what());
    } catch (...) {
        spdlog::error("store: completion threw an unknown exception");
    }
}

template <class T>
class typed_operation final : public operation {
public:
    using body_type = std::function<core::result<T>(connection&)>;
    using done_type = std::function<void(core::result<T>)>;

    // `completions` empty: done runs on the thread that finishes the op (the writer).
    typed_operation(body_type body, done_type done, asio::any_io_executor completions)
        : body_(std::move(body)), done_(std::move(done)), completions_(std::move(completions)) {}

    const core::error* execute(connection& db) noexcept override {
        try {
            outcome_.emplace(body_(db));
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
        if (!completions_) {
            run_completion(done_, std::move(r));
            return;
        }
        try {
            asio::post(completions_, [done = std::move(done_), r = std::move(r)]() mutable {
                run_completion(done, std::move(r));
            });
        } catch (const std::exception& e) {
            // Only allocation can fail here; the caller never hears back, so say so.
            spdlog::error("store: cannot post a completion: {}", e.what());
        }
    }

    body_type body_;
    done_type done_;
    asio::any_io_executor completions_;
    std::optional<core::result<T>> outcome_;
};

// The exit status after an I/O error on COMMIT or a failed fsync: EX_IOERR (sysexits.h).
// Not 0, so systemd's Restart=on-failure restarts the daemon.
inline constexpr int io_error_exit_code = 74;

class writer {
public:
    // How long the idle thread waits for work before it heartbeats again.
    static constexpr std::chrono::milliseconds idle_heartbeat{250};

    // Takes the write connection and starts the thread. metrics may be null.
    writer(connection db, std::size_t max_batch, core::metrics* metrics);
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;
    ~writer();

    // Queues an op; after close() it fails at once (on the calling thread) with "closed".
    void submit(std::unique_ptr<operation> op);

    // False from a failed batch until a batch that changed rows commits (for /readyz).
    [[nodiscard]] bool writable() const { return writable_.load(); }

    // When the thread last showed life: it beats when it starts and finishes a batch and at
    // least every idle_heartbeat while idle, so an old heartbeat means a batch that has been
    // running that long (a stalled fsync, a lock never released) or a dead thread.
    [[nodiscard]] std::chrono::steady_clock::time_point heartbeat() const {
        return std::chrono::steady_clock::time_point(
            std::chrono::steady_clock::duration(heartbeat_.load()));
    }

    // Finishes queued operations, then stops the thread. Idempotent; callable from a
    // completion on the writer thread (the destructor joins then).
    void close();

private:
    enum class batch_outcome { committed, op_failed, failed };

    void run();
    void run_batch(std::vector<std::unique_ptr<operation>>& batch);
    batch_outcome attempt_batch(std::vector<std::unique_ptr<operation>>& batch, bool isolate);
    void fail_batch(std::vector<std::unique_ptr<operation>>& batch, const core::error& e);
    // Exits the process when the latest failure on the connection was an I/O error on
    // COMMIT or a failed fsync (anywhere); otherwise returns.
    void exit_if_unknown_on_disk(const char* statement, int rc);
    // The WAL hook (in place of SQLite's autocheckpoint, which ignores a failed checkpoint).
    static int after_wal_commit(void* self, sqlite3* db, const char* name, int frames) noexcept;
    void beat() noexcept;
    core::status exec_cached(const char* sql);

    connection db_;  // writer thread only, once it runs
    std::size_t max_batch_;
    int checkpoint_frames_{0};  // PRAGMA wal_autocheckpoint as configured; 0 = none
    core::metrics* metrics_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<operation>> queue_;
    bool closing_{false};

    std::atomic<bool> writable_{true};
    std::atomic<std::chrono::steady_clock::rep> heartbeat_{
        std::chrono::steady_clock::now().time_since_epoch().count()};
    std::mutex join_mu_;
    std::thread thread_;  // last: starts after everything it uses exists
};

[[nodiscard]] core::error closed_error();

}  // namespace hotline::store::sqlite
