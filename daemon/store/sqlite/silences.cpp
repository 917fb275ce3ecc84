#include "store/sqlite/silences.hpp"

#include "store/sqlite/audit.hpp"
#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

namespace {

constexpr const char* select_by_id =
    "SELECT id, matchers, starts_at, ends_at, author, comment, created_at, expired_at, "
    "expired_by FROM silences WHERE id = ?";
constexpr const char* select_all =
    "SELECT id, matchers, starts_at, ends_at, author, comment, created_at, expired_at, "
    "expired_by FROM silences ORDER BY id";
constexpr const char* select_live =
    "SELECT id, matchers, starts_at, ends_at, author, comment, created_at, expired_at, "
    "expired_by FROM silences WHERE expired_at = 0 AND ends_at > ? ORDER BY id";

// One row of the selects above; nothing when a sealed value does not open (counted and logged by
// the sealer): such a silence silences nothing, which pages rather than hides.
core::result<std::optional<silence>> read_row(const query& q, const sealer& s) {
    silence out;
    out.id = q.int64(0);
    auto matchers = s.open(q, 1, "silences", "matchers", out.id);
    auto comment = s.open(q, 5, "silences", "comment", out.id);
    if (!matchers || !comment) {
        return std::optional<silence>{};
    }
    // A purged silence (retention) has "[]": listed, with no matchers.
    const json list = json::parse(*matchers, nullptr, /*allow_exceptions=*/false);
    if (!list.is_array()) {
        return core::make_error("corrupt", "silences.matchers of silence " +
                                               std::to_string(out.id) + " is not a JSON list");
    }
    for (const auto& m : list) {
        if (m.is_string()) {
            out.matchers.push_back(m.get<std::string>());
        }
    }
    out.starts_at = q.int64(2);
    out.ends_at = q.int64(3);
    out.author = q.text(4);
    out.comment = std::move(*comment);
    out.created_at = q.int64(6);
    out.expired_at = q.int64(7);
    out.expired_by = q.text(8);
    return std::optional<silence>{std::move(out)};
}

core::result<std::optional<silence>> select_one(connection& db, const sealer& s, std::int64_t id) {
    auto q = db.prepare(select_by_id);
    if (!q) {
        return q.err();
    }
    q->bind(1, id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<silence>{};
    }
    return read_row(*q, s);
}

json times(const silence& x) {
    return json{{"silence_id", x.id}, {"starts_at", x.starts_at}, {"ends_at", x.ends_at}};
}

}  // namespace

core::result<silence> insert_silence(connection& db, const sealer& s, const new_silence& n,
                                     std::int64_t now) {
    if (n.matchers.empty() || n.matchers.size() > max_silence_matchers) {
        return core::make_error(
            "invalid_argument",
            "a silence needs 1 to " + std::to_string(max_silence_matchers) + " matchers");
    }
    if (n.ends_at <= n.starts_at) {
        return core::make_error("invalid_argument", "a silence must end after it starts");
    }
    if (n.author.empty()) {
        return core::make_error("invalid_argument", "a silence needs an author");
    }
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM silences");
    if (!max_id) {
        return max_id.err();
    }
    silence out;
    out.id = *max_id + 1;
    out.matchers = n.matchers;
    out.starts_at = n.starts_at;
    out.ends_at = n.ends_at;
    out.author = n.author;
    out.comment = n.comment;
    out.created_at = now;
    auto q = db.prepare(
        "INSERT INTO silences(id, matchers, starts_at, ends_at, author, comment, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!q) {
        return q.err();
    }
    q->bind(1, out.id).bind(3, out.starts_at).bind(4, out.ends_at).bind(5, out.author).bind(7, now);
    s.bind(*q, 2, "silences", "matchers", out.id, dump(json(out.matchers)));
    s.bind(*q, 6, "silences", "comment", out.id, out.comment);
    if (auto ran = q->run(); !ran) {
        return ran.err();
    }
    audit_event e;
    e.at = now;
    e.actor = out.author;
    e.kind = "silence_added";
    e.detail = times(out);
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    return out;
}

core::result<std::vector<silence>> select_silences(connection& db, const sealer& s,
                                                   bool include_expired, std::int64_t now) {
    std::vector<silence> out;
    auto q = db.prepare(include_expired ? select_all : select_live);
    if (!q) {
        return q.err();
    }
    if (!include_expired) {
        q->bind(1, now);
    }
    auto walked = q->each_row([&]() -> core::status {
        auto row = read_row(*q, s);
        if (!row) {
            return row.err();
        }
        if (*row) {
            out.push_back(std::move(**row));
        }
        return core::ok();
    });
    if (!walked) {
        return walked.err();
    }
    return out;
}

core::result<silence_expiry> update_silence_expired(connection& db, const sealer& s,
                                                    std::int64_t id, const std::string& by,
                                                    std::int64_t now) {
    if (by.empty()) {
        return core::make_error("invalid_argument", "expiring a silence needs who expires it");
    }
    auto q = db.prepare(
        "UPDATE silences SET expired_at = ?, expired_by = ? "
        "WHERE id = ? AND expired_at = 0 AND ends_at > ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, now).bind(2, by).bind(3, id).bind(4, now);
    if (auto ran = q->run(); !ran) {
        return ran.err();
    }
    const bool changed = sqlite3_changes(db.get()) > 0;
    auto row = select_one(db, s, id);
    if (!row) {
        return row.err();
    }
    if (!*row) {
        // Unknown, or its sealed values do not open (then it silences nothing anyway).
        return core::make_error("not_found", "no silence " + std::to_string(id));
    }
    silence_expiry out{std::move(**row), changed};
    if (changed) {
        audit_event e;
        e.at = now;
        e.actor = by;
        e.kind = "silence_expired";
        e.detail = times(out.record);
        if (auto a = insert_audit_event(db, e); !a) {
            return a.err();
        }
    }
    return out;
}

}  // namespace hotline::store::sqlite
