// Helpers shared by the store tests: temp dirs, blocking wrappers over the async API,
// and direct SQL reads (the tests check what is on disk, not only what the API says).
#pragma once
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <array>
#include <filesystem>
#include <future>
#include <string>

#include "core/c_handle.hpp"
#include "core/crypto.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace hotline::store::testing {

// One fixed storage key, so a store reopened in a test (or in a forked child) opens its rows.
inline std::shared_ptr<const core::crypto::keyring> test_keys() {
    static const auto keys = [] {
        const std::array<unsigned char, core::crypto::key_bytes> bytes{0x42, 0x17, 0x99};
        return std::make_shared<const core::crypto::keyring>(core::crypto::key::from_bytes(bytes));
    }();
    return keys;
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "hotline-store-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] std::string db() const { return (path / "var" / "hotline.db").string(); }
};

template <class T, class Start>
core::result<T> wait_for(Start start) {
    auto p = std::make_shared<std::promise<core::result<T>>>();
    auto f = p->get_future();
    start([p](core::result<T> r) { p->set_value(std::move(r)); });
    return f.get();
}

inline domain::report make_report(const std::string& external_id,
                                  std::int64_t received_at = 1'700'000'000'000) {
    domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.external_id = external_id;
    r.sender = "+79001234567";
    r.subject = "Задержание";
    r.text = "Detained at the station " + external_id;
    r.labels = {{"region", "north"}};
    r.language = "ru";
    r.received_at = received_at;
    return r;
}

inline case_info make_case() {
    case_info c;
    c.severity = "critical";
    c.route = "root/detention";
    c.labels = {{"kind", "detention"}};
    return c;
}

inline planned_notification make_planned(const std::string& target = "responder:alice",
                                         const std::string& channel = "ops-webhook",
                                         int contact_index = 0) {
    planned_notification p;
    p.channel = channel;
    p.address = "http://127.0.0.1:9000/hook";
    p.target = target;
    p.contact_index = contact_index;
    p.language = "en";
    p.payload = {{"kind", "alert"}, {"severity", "critical"}, {"target", target}};
    return p;
}

inline core::result<ingest_result> ingest_sync(
    store& s, domain::report r, std::vector<planned_notification> planned = {make_planned()},
    case_info c = make_case()) {
    return wait_for<ingest_result>([&](auto done) {
        s.ingest(std::move(r), std::move(c), std::move(planned), std::move(done));
    });
}

inline core::result<attempt_record> attempt_sync(store& s, std::int64_t id, attempt_result a) {
    return wait_for<attempt_record>(
        [&](auto done) { s.record_attempt(id, std::move(a), std::move(done)); });
}

inline core::result<std::vector<notification>> due_sync(store& s, std::int64_t now,
                                                        std::size_t limit,
                                                        std::vector<std::int64_t> exclude = {},
                                                        std::string channel = {},
                                                        std::vector<std::string> skip = {}) {
    due_query q;
    q.channel = std::move(channel);
    q.skip_channels = std::move(skip);
    q.limit = limit;
    q.exclude = std::move(exclude);
    return wait_for<std::vector<notification>>(
        [&](auto done) { s.due(now, std::move(q), std::move(done)); });
}

inline core::result<std::optional<std::int64_t>> next_due_sync(store& s) {
    return wait_for<std::optional<std::int64_t>>([&](auto done) { s.next_due(std::move(done)); });
}

inline core::result<stats> stats_sync(store& s, std::int64_t now) {
    return wait_for<stats>([&](auto done) { s.get_stats(now, std::move(done)); });
}

// A separate connection, like the system tests' python sqlite3.
class raw_db {
public:
    explicit raw_db(const std::string& path) {
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
        db_.reset(raw);
        REQUIRE(rc == SQLITE_OK);
        sqlite3_busy_timeout(raw, 5000);
    }

    // First column of the first row, as int64 (0 when no row).
    std::int64_t scalar(const std::string& sql) {
        auto st = prepare(sql);
        return sqlite3_step(st.get()) == SQLITE_ROW ? sqlite3_column_int64(st.get(), 0) : 0;
    }
    std::string text(const std::string& sql) {
        auto st = prepare(sql);
        if (sqlite3_step(st.get()) != SQLITE_ROW || sqlite3_column_text(st.get(), 0) == nullptr) {
            return {};
        }
        return reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
    }
    int exec(const std::string& sql) {
        return sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
    }
    // The raw bytes of a column (a sealed BLOB or clear TEXT).
    std::string bytes(const std::string& sql) {
        auto st = prepare(sql);
        if (sqlite3_step(st.get()) != SQLITE_ROW) {
            return {};
        }
        const auto* data = static_cast<const char*>(sqlite3_column_blob(st.get(), 0));
        return data == nullptr
                   ? std::string()
                   : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0)));
    }
    // A sealed column of one row, opened with test_keys() ("" when it does not open).
    std::string opened(const std::string& table, const std::string& column, std::int64_t id) {
        const auto value =
            bytes("SELECT " + column + " FROM " + table + " WHERE id = " + std::to_string(id));
        auto plain = core::crypto::open(*test_keys(), value,
                                        table + "." + column + ":" + std::to_string(id));
        return plain ? *plain : std::string();
    }

private:
    core::c_handle<sqlite3_stmt, sqlite3_finalize> prepare(const std::string& sql) {
        sqlite3_stmt* raw = nullptr;
        const int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
        core::c_handle<sqlite3_stmt, sqlite3_finalize> st(raw);
        REQUIRE_MESSAGE(rc == SQLITE_OK, sqlite3_errmsg(db_.get()));
        return st;
    }

    core::c_handle<sqlite3, sqlite3_close_v2> db_;
};

}  // namespace hotline::store::testing
