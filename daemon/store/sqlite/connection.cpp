#include "store/sqlite/connection.hpp"

#include <utility>

namespace hotline::store::sqlite {

const char* error_code(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return "busy";
        case SQLITE_FULL: return "disk_full";
        case SQLITE_IOERR: return "io_error";
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB: return "corrupt";
        case SQLITE_CONSTRAINT: return "constraint";
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_CANTOPEN: return "readonly";
        default: return "storage";
    }
}

core::error make_error(sqlite3* db, int rc, std::string_view what) {
    std::string message(what);
    message += ": ";
    // errmsg describes the latest failure on this connection (with table/column names,
    // never values); errstr is the generic text when the handle is unusable.
    const char* detail =
        db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    message += detail != nullptr ? detail : "unknown error";
    return core::make_error(error_code(rc), std::move(message));
}

core::result<connection> connection::open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    connection c;
    c.db_.reset(raw);  // sqlite3_open_v2 allocates a handle even when it fails
    if (rc != SQLITE_OK) {
        return make_error(raw, rc, "cannot open database");
    }
    sqlite3_extended_result_codes(raw, 1);
    return c;
}

core::status connection::exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
    const core::c_handle<char, sqlite3_free> owned(message);
    if (rc != SQLITE_OK) {
        std::string text = "statement failed: ";
        text += owned ? owned.get() : sqlite3_errstr(rc);
        return core::make_error(error_code(rc), std::move(text));
    }
    return core::ok();
}

core::result<query> connection::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* raw = nullptr;
        const int rc =
            sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
        stmt_handle owned(raw);
        if (rc != SQLITE_OK) {
            return make_error(db_.get(), rc, "cannot prepare statement");
        }
        it = cache_.emplace(sql, std::move(owned)).first;
    }
    return query(db_.get(), it->second.get());
}

query::query(query&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

query::~query() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

void query::note_bind(int rc) {
    if (bind_rc_ == SQLITE_OK) {
        bind_rc_ = rc;
    }
}

query& query::bind(int index, std::int64_t value) {
    note_bind(sqlite3_bind_int64(stmt_, index, value));
    return *this;
}

query& query::bind(int index, std::string_view value) {
    note_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                  SQLITE_UTF8));
    return *this;
}

query& query::bind_null(int index) {
    note_bind(sqlite3_bind_null(stmt_, index));
    return *this;
}

query& query::bind_optional(int index, std::string_view value) {
    return value.empty() ? bind_null(index) : bind(index, value);
}

query& query::bind_blob(int index, std::string_view value) {
    note_bind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT));
    return *this;
}

core::result<bool> query::step() {
    if (bind_rc_ != SQLITE_OK) {
        return make_error(db_, bind_rc_, "cannot bind parameter");
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return make_error(db_, rc, "statement failed");
}

core::status query::run() {
    for (;;) {
        auto more = step();
        if (!more) {
            return more.err();
        }
        if (!*more) {
            return core::ok();
        }
    }
}

std::int64_t query::int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

std::string query::text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) {
        return {};
    }
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool query::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

bool query::is_blob(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_BLOB;
}

std::string query::bytes(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    if (data == nullptr) {
        return {};
    }
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

core::result<std::int64_t> scalar(connection& db, const char* sql) {
    auto q = db.prepare(sql);
    if (!q) {
        return q.err();
    }
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    return *row ? q->int64(0) : 0;
}

core::result<std::optional<std::int64_t>> optional_scalar(connection& db, const char* sql) {
    auto q = db.prepare(sql);
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

}  // namespace hotline::store::sqlite
