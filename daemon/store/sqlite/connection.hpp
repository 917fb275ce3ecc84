// A thin layer over the SQLite C API: an owned connection with a per-connection cache of
// prepared statements, and a query cursor that resets its statement when it goes away.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include <sqlite3.h>

#include "core/c_handle.hpp"
#include "core/result.hpp"

namespace hotline::store::sqlite {

using db_handle = core::c_handle<sqlite3, sqlite3_close_v2>;
using stmt_handle = core::c_handle<sqlite3_stmt, sqlite3_finalize>;

// Maps an SQLite result code to an error code callers can act on: "busy", "disk_full",
// "io_error", "corrupt", "constraint", "readonly" or "storage".
[[nodiscard]] const char* error_code(int rc);
[[nodiscard]] core::error make_error(sqlite3* db, int rc, std::string_view what);

class query;

class connection {
public:
    connection() = default;
    [[nodiscard]] static core::result<connection> open(const std::string& path, int flags);

    [[nodiscard]] sqlite3* get() const noexcept { return db_.get(); }
    [[nodiscard]] bool in_transaction() const noexcept {
        return db_ && sqlite3_get_autocommit(db_.get()) == 0;
    }

    // Runs one or more statements that return no rows (DDL, BEGIN, PRAGMA x = y).
    [[nodiscard]] core::status exec(const char* sql);

    // A cached prepared statement wrapped in a cursor. Statement text is the cache key.
    [[nodiscard]] core::result<query> prepare(const char* sql);

private:
    // Declared first so it is destroyed last: statements are finalized before the handle closes.
    db_handle db_;
    std::unordered_map<std::string, stmt_handle> cache_;
};

// A cursor over a cached statement: bind, step, read columns. Resets and clears the
// statement on destruction so the next user starts fresh. Text binds are copied
// (SQLITE_TRANSIENT), so temporaries are safe to pass.
class query {
public:
    query(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}
    query(query&& other) noexcept;
    query& operator=(query&&) = delete;
    query(const query&) = delete;
    query& operator=(const query&) = delete;
    ~query();

    query& bind(int index, std::int64_t value);
    query& bind(int index, std::string_view value);
    query& bind_null(int index);
    // Binds NULL for an empty string (optional text columns such as last_error).
    query& bind_optional(int index, std::string_view value);
    // Bytes that are not text (sealed values): stored and read back unchanged.
    query& bind_blob(int index, std::string_view value);

    // true = a row is available, false = done.
    [[nodiscard]] core::result<bool> step();
    // Steps to the end, for statements whose rows (if any) are not needed.
    [[nodiscard]] core::status run();
    // Steps through the rows, calling `row()` on each: until the rows end, `row()` returns
    // false (a bool callback: stop early) or an error (a core::status callback).
    template <class Fn>
    [[nodiscard]] core::status each_row(Fn&& row) {
        for (;;) {
            auto more = step();
            if (!more) {
                return more.err();
            }
            if (!*more) {
                return core::ok();
            }
            using out = std::invoke_result_t<Fn&>;
            if constexpr (std::is_same_v<out, bool>) {
                if (!row()) {
                    return core::ok();
                }
            } else if constexpr (std::is_same_v<out, core::status>) {
                if (auto s = row(); !s) {
                    return s;
                }
            } else {
                row();
            }
        }
    }

    [[nodiscard]] std::int64_t int64(int column) const;
    [[nodiscard]] std::string text(int column) const;
    [[nodiscard]] bool is_null(int column) const;
    [[nodiscard]] bool is_blob(int column) const;
    // The column's bytes, whatever its type (a sealed BLOB or clear TEXT).
    [[nodiscard]] std::string bytes(int column) const;

private:
    void note_bind(int rc);

    sqlite3* db_;
    sqlite3_stmt* stmt_;
    int bind_rc_{SQLITE_OK};
};

// First column of the first row of a one-value query (0 when there is no row).
[[nodiscard]] core::result<std::int64_t> scalar(connection& db, const char* sql);
// The one integer a query returns, or nothing when it returns no row or NULL (MIN over no
// rows).
[[nodiscard]] core::result<std::optional<std::int64_t>> optional_scalar(connection& db,
                                                                        const char* sql);

}  // namespace hotline::store::sqlite
