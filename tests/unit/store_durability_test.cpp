// The store against the outside world: kill -9, garbage and future files, other
// processes holding locks, a full disk, I/O errors on COMMIT. Plus a throughput printout
// (skipped unless --no-skip).
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "core/metrics.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store.hpp"
#include "store_fault_vfs.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace hotline::store;
using namespace hotline::store::testing;

namespace {

struct ack {
    std::int64_t report_id;
    std::int64_t tag;  // thread * 1e6 + sequence, names the external id
};

std::string external_id_of(std::int64_t tag) {
    return "crash-" + std::to_string(tag / 1'000'000) + "-" + std::to_string(tag % 1'000'000);
}

// The child: ingest from several threads as fast as acknowledgements come back, and write
// each acknowledgement to the pipe from the completion (i.e. after the commit), until killed.
[[noreturn]] void crash_child(const std::string& path, int fd) {
    options o;
    o.keys = test_keys();
    o.path = path;
    auto opened = store::store::open(o);
    if (!opened.ok()) {
        _exit(2);
    }
    auto* s = opened->release();  // never closed: the parent kills us
    for (int t = 0; t < 8; ++t) {
        std::thread([s, fd, t] {
            for (std::int64_t i = 0;; ++i) {
                const std::int64_t tag = t * 1'000'000 + i;
                std::promise<void> done;
                s->ingest(make_report(external_id_of(tag)), make_case(), {make_planned()},
                          [&](core::result<ingest_result> r) {
                              if (r.ok()) {
                                  const ack a{r->ids.report_id, tag};
                                  // Below PIPE_BUF: atomic, never interleaved.
                                  if (::write(fd, &a, sizeof a) != sizeof a) {
                                      _exit(3);
                                  }
                              }
                              done.set_value();
                          });
                done.get_future().wait();
            }
        }).detach();
    }
    for (;;) {
        ::pause();
    }
}

bool read_ack(int fd, ack& a, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) {
        return false;
    }
    // A record is written atomically, so a readable pipe holds whole records.
    return ::read(fd, &a, sizeof a) == static_cast<ssize_t>(sizeof a);
}

}  // namespace

TEST_CASE("kill -9 mid-run loses no acknowledged report") {
    temp_dir dir;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);  // or the child repeats buffered output
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        crash_child(dir.db(), fds[1]);
    }
    ::close(fds[1]);
    std::vector<ack> acks;
    ack a{};
    while (acks.size() < 3000 && read_ack(fds[0], a, 30'000)) {
        acks.push_back(a);
    }
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // Whatever the child acknowledged before dying is still in the pipe.
    while (read_ack(fds[0], a, 5'000)) {
        acks.push_back(a);
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    REQUIRE(acks.size() >= 3000);
    MESSAGE(acks.size() << " acknowledged before kill -9");

    options o;
    o.keys = test_keys();
    o.path = dir.db();
    auto opened = store::store::open(o);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.err().describe()));
    auto& s = **opened;
    std::size_t missing = 0;
    for (const auto& ack : acks) {
        auto r = s.load_report(ack.report_id);
        REQUIRE(r.ok());
        if (!r->has_value() || (*r)->external_id != external_id_of(ack.tag)) {
            ++missing;
            continue;
        }
        auto ns = s.notifications_for_report(ack.report_id);
        REQUIRE(ns.ok());
        CHECK(ns->size() == 1);  // never a report without its notifications
    }
    CHECK(missing == 0);
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports r WHERE NOT EXISTS "
                     "(SELECT 1 FROM notifications n WHERE n.report_id = r.id)") == 0);
    // And the store still works.
    auto more = ingest_sync(s, make_report("after-crash"));
    CHECK(more.ok());
}

TEST_CASE("a garbage file at the path is a clean error") {
    temp_dir dir;
    std::filesystem::create_directories(dir.path / "var");
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    SUBCASE("random bytes") {
        std::ofstream(dir.db(), std::ios::binary) << std::string(8192, '\x5a');
    }
    SUBCASE("an SQLite header followed by garbage") {
        std::string bytes("SQLite format 3\0", 16);
        bytes += std::string("\x10\x00\x01\x01\x00\x40\x20\x20", 8);
        bytes += std::string(8192 - bytes.size(), '\xee');
        std::ofstream(dir.db(), std::ios::binary) << bytes;
    }
    SUBCASE("a text file") {
        std::ofstream(dir.db()) << "storage:\n  path: oops\n";
    }
    auto s = store::store::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.err().code == "corrupt");
    CHECK(s.err().context == dir.db());
    MESSAGE(s.err().describe());
}

TEST_CASE("a directory at the path, or an unusable parent, is a clean error") {
    temp_dir dir;
    std::filesystem::create_directories(dir.db());
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    auto s = store::store::open(o);
    REQUIRE_FALSE(s.ok());
    o.path = (dir.path / "afile" / "sub" / "x.db").string();
    std::ofstream(dir.path / "afile") << "x";
    auto t = store::store::open(o);
    REQUIRE_FALSE(t.ok());
}

TEST_CASE("a database from a newer hotline is refused") {
    temp_dir dir;
    {
        options o;
        o.keys = test_keys();
        o.path = dir.db();
        auto s = store::store::open(o);
        REQUIRE(s.ok());
        REQUIRE(ingest_sync(**s, make_report("old")).ok());
    }
    {
        raw_db raw(dir.db());
        REQUIRE(raw.exec("PRAGMA user_version = " +
                         std::to_string(sqlite::current_schema_version() + 1)) == SQLITE_OK);
    }
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    auto s = store::store::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.err().code == "schema_too_new");
    CHECK(s.err().message.find("newer") != std::string::npos);
    // Refusing did not touch the data.
    raw_db raw(dir.db());
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 1);
}

TEST_CASE("a foreign SQLite database with clashing tables is refused, not clobbered") {
    temp_dir dir;
    std::filesystem::create_directories(dir.path / "var");
    {
        core::c_handle<sqlite3, sqlite3_close_v2> db;
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(dir.db().c_str(), &raw) == SQLITE_OK);
        db.reset(raw);
        REQUIRE(sqlite3_exec(raw, "CREATE TABLE reports(x); INSERT INTO reports VALUES (1);",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    auto s = store::store::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.err().message.find("migration") != std::string::npos);
    raw_db raw(dir.db());
    CHECK(raw.scalar("PRAGMA user_version") == 0);
    CHECK(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'cases'") == 0);
}

TEST_CASE("another process holding the write lock: wait, then fail the batch, then recover") {
    temp_dir dir;
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    o.busy_timeout_ms = 300;
    auto opened = store::store::open(o);
    REQUIRE(opened.ok());
    auto& s = **opened;
    REQUIRE(ingest_sync(s, make_report("before")).ok());
    raw_db other(dir.db());

    SUBCASE("a short lock is waited out") {
        REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
        auto p = std::make_shared<std::promise<core::result<ingest_result>>>();
        auto f = p->get_future();
        s.ingest(make_report("waits"), make_case(), {make_planned()},
                 [p](core::result<ingest_result> r) { p->set_value(std::move(r)); });
        CHECK(f.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
        REQUIRE(other.exec("COMMIT") == SQLITE_OK);
        auto r = f.get();
        CHECK(r.ok());
        CHECK(s.writable());
    }
    SUBCASE("a long lock fails the batch with busy; the store recovers after") {
        REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
        auto r = ingest_sync(s, make_report("blocked"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "busy");
        CHECK_FALSE(s.writable());
        REQUIRE(other.exec("COMMIT") == SQLITE_OK);
        auto again = ingest_sync(s, make_report("blocked"));
        REQUIRE(again.ok());
        CHECK_FALSE(again->ids.duplicate);  // the failed attempt left nothing behind
        CHECK(s.writable());
    }
    SUBCASE("a reader in another process does not block commits (WAL)") {
        REQUIRE(other.exec("BEGIN") == SQLITE_OK);
        CHECK(other.scalar("SELECT COUNT(*) FROM reports") == 1);
        auto r = ingest_sync(s, make_report("concurrent"));
        CHECK(r.ok());
        CHECK(other.scalar("SELECT COUNT(*) FROM reports") == 1);  // snapshot
        REQUIRE(other.exec("COMMIT") == SQLITE_OK);
        CHECK(other.scalar("SELECT COUNT(*) FROM reports") == 2);
    }
}

namespace {

std::int64_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Runs in a child (the fault VFS is process-wide). Returns 0 or the failed step. A full
// disk (SQLITE_FULL: nothing was written) fails the batch and is transient; an I/O error
// on COMMIT is not (see the tests below).
int disk_full_child(const std::string& path) {
    fault_vfs::install();
    options o;
    o.keys = test_keys();
    o.path = path;
    auto opened = store::store::open(o);
    if (!opened.ok()) {
        return 10;
    }
    auto& s = **opened;
    if (!ingest_sync(s, make_report("small")).ok()) {
        return 11;
    }
    fault_vfs::set(vfs_fault::write_full);
    auto big = make_report("big");
    big.text = std::string(300'000, 'b');
    auto failed = ingest_sync(s, big);
    if (fault_vfs::injected() == 0) {
        return 12;
    }
    if (failed.ok()) {
        return 13;
    }
    if (failed.err().code != "disk_full") {
        return 14;
    }
    if (s.writable()) {
        return 15;
    }
    fault_vfs::set(vfs_fault::none);
    auto again = ingest_sync(s, big);
    if (!again.ok() || again->ids.duplicate) {
        return 17;  // the failed batch left nothing behind
    }
    if (!s.writable()) {
        return 18;
    }
    auto small = ingest_sync(s, make_report("small"));
    if (!small.ok() || !small->ids.duplicate) {
        return 19;  // committed data survived the failed batch
    }
    s.close();
    return 0;
}

// What a child that must die of an I/O error reports through a pipe: 'a' when the first
// report was acknowledged, 'b' if the second (whose COMMIT fails) ever completed.
enum class io_fault { fsync, write_too_big, checkpoint_fsync };

[[noreturn]] void io_error_child(const std::string& path, int fd, io_fault fault) {
    ::alarm(30);  // a child that neither exits nor completes must not hang the test
    fault_vfs::install();
    ::signal(SIGXFSZ, SIG_IGN);  // EFBIG from write() instead of dying of the signal
    options o;
    o.keys = test_keys();
    o.path = path;
    auto opened = store::store::open(o);
    if (!opened.ok()) {
        _exit(2);
    }
    auto& s = **opened;
    if (!ingest_sync(s, make_report("first")).ok() || ::write(fd, "a", 1) != 1) {
        _exit(3);
    }
    auto second = make_report("second");
    if (fault == io_fault::checkpoint_fsync) {
        // WAL syncs succeed, the database file's fail: the first checkpoint (inside a
        // COMMIT, after wal_autocheckpoint frames) must end the process. Big reports get
        // there in a few hundred commits; each acknowledged one writes 'a'.
        fault_vfs::set(vfs_fault::db_sync_io_error);
        for (int i = 0; i < 2000; ++i) {
            auto r = make_report("more-" + std::to_string(i));
            r.text = std::string(200'000, 'm');
            if (!ingest_sync(s, r).ok() || ::write(fd, "a", 1) != 1) {
                _exit(5);
            }
        }
        _exit(6);  // never checkpointed
    }
    if (fault == io_fault::fsync) {
        fault_vfs::set(vfs_fault::sync_io_error);
    } else {
        // The WAL cannot grow: write() fails with EFBIG, which SQLite reports as
        // SQLITE_IOERR_WRITE on COMMIT.
        const auto limit = std::max(file_size(path), file_size(path + "-wal")) + 4096;
        const rlimit lim{static_cast<rlim_t>(limit), RLIM_INFINITY};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) {
            _exit(4);
        }
        second.text = std::string(300'000, 'b');
    }
    (void)ingest_sync(s, second);
    (void)!::write(fd, "b", 1);  // the completion ran: it must not
    _exit(0);
}

// Forks io_error_child; returns its exit status and what it wrote to the pipe.
std::pair<int, std::string> run_io_error_child(const std::string& path, io_fault fault) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);  // or the child repeats buffered output
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        io_error_child(path, fds[1], fault);
    }
    ::close(fds[1]);
    std::string written;
    char c = 0;
    while (::read(fds[0], &c, 1) == 1) {
        written += c;
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return {WEXITSTATUS(status), written};
}

}  // namespace

TEST_CASE("a full disk fails the batch, the store keeps running and recovers") {
    temp_dir dir;
    std::fflush(nullptr);  // or the child repeats buffered output
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        _exit(disk_full_child(dir.db()));
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 2);
}

// Issue 7, item 2: after a failed fsync nobody knows what is on disk, so the process ends
// at once with io_error_exit_code and completes nothing; reopening recovers from the WAL.
TEST_CASE("an fsync error on COMMIT exits at once and acknowledges nothing") {
    temp_dir dir;
    const auto [status, written] = run_io_error_child(dir.db(), io_fault::fsync);
    CHECK(status == sqlite::io_error_exit_code);
    CHECK(written == "a");
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports WHERE external_id = 'first'") == 1);
}

TEST_CASE("a failed fsync in the checkpoint that a COMMIT runs exits too") {
    temp_dir dir;
    const auto [status, written] = run_io_error_child(dir.db(), io_fault::checkpoint_fsync);
    CHECK(status == sqlite::io_error_exit_code);
    REQUIRE(written.size() > 1);
    CHECK(written.find_first_not_of('a') == std::string::npos);
    // Every acknowledged report is in the WAL, which reopening recovers.
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") >= static_cast<std::int64_t>(written.size()));
}

TEST_CASE("any other I/O error on COMMIT (EFBIG: SQLITE_IOERR_WRITE) exits too") {
    temp_dir dir;
    const auto [status, written] = run_io_error_child(dir.db(), io_fault::write_too_big);
    CHECK(status == sqlite::io_error_exit_code);
    CHECK(written == "a");
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports WHERE external_id = 'first'") == 1);
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports WHERE external_id = 'second'") == 0);
}

// Throughput, printed not asserted: build-b/store_durability_test -tc='*throughput*' --no-skip
TEST_CASE("ingest throughput with 64 submitters" * doctest::skip()) {
    temp_dir dir;
    core::metrics m;
    options o;
    o.keys = test_keys();
    o.path = dir.db();
    o.metrics = &m;
    auto opened = store::store::open(o);
    REQUIRE(opened.ok());
    auto& s = **opened;
    constexpr int submitters = 64;
    constexpr int per_submitter = 1000;
    std::atomic<int> failed{0};
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_submitter; ++i) {
                auto r =
                    ingest_sync(s, make_report("p-" + std::to_string(t) + "-" + std::to_string(i)),
                                {make_planned(), make_planned("partner:ngo", "email")});
                if (!r.ok()) {
                    failed.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    const double total = submitters * per_submitter;
    const auto batches = m.value("hotline_commit_batch_size", {});
    MESSAGE(total << " ingests (2 notifications each) in " << took.count()
                  << " s = " << total / took.count() << "/s, " << batches << " commits, mean batch "
                  << total / batches);
    const auto text = m.render();
    const auto at = text.find("hotline_commit_latency_seconds_sum");
    MESSAGE(text.substr(at, text.find('\n', at) - at));
    CHECK(failed.load() == 0);
}
