// The store against the outside world: kill -9, garbage and future files, other
// processes holding locks. Plus a throughput printout (skipped unless --no-skip).
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
#include "store/store.hpp"
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

// Runs in a child (the file size limit is per process). Returns 0 or the failed step.
int write_error_child(const std::string& path) {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of dying
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
    const auto limit = std::max(file_size(path), file_size(path + "-wal")) + 4096;
    rlimit lim{static_cast<rlim_t>(limit), RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) {
        return 12;
    }
    auto big = make_report("big");
    big.text = std::string(300'000, 'b');
    auto failed = ingest_sync(s, big);
    if (failed.ok()) {
        return 13;
    }
    if (failed.err().code != "disk_full" && failed.err().code != "io_error") {
        return 14;
    }
    if (s.writable()) {
        return 15;
    }
    lim.rlim_cur = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) {
        return 16;
    }
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

}  // namespace

TEST_CASE("a write error fails the batch, the store keeps running and recovers") {
    temp_dir dir;
    std::fflush(nullptr);  // or the child repeats buffered output
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        _exit(write_error_child(dir.db()));
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    raw_db raw(dir.db());
    CHECK(raw.text("PRAGMA integrity_check") == "ok");
    CHECK(raw.scalar("SELECT COUNT(*) FROM reports") == 2);
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
