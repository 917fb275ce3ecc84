#include "store/sqlite/timers.hpp"

#include <algorithm>

namespace hotline::store::sqlite {
namespace {

core::error invalid(std::string message) {
    return core::make_error("invalid_argument", std::move(message));
}

}  // namespace

core::result<std::vector<std::int64_t>> insert_timers(connection& db,
                                                      const std::vector<new_timer>& timers,
                                                      std::string_view default_subject,
                                                      std::int64_t now) {
    std::vector<std::int64_t> ids;
    ids.reserve(timers.size());
    for (const auto& t : timers) {
        const std::string_view subject = t.subject.empty() ? default_subject : t.subject;
        if (t.kind.empty()) {
            return invalid("a timer needs a kind");
        }
        if (subject.empty()) {
            return invalid("a timer needs a subject");
        }
        auto q = db.prepare(
            "INSERT INTO timers(due_at, kind, subject, payload, created_at) "
            "VALUES(?, ?, ?, ?, ?) RETURNING id");
        if (!q) {
            return q.err();
        }
        q->bind(1, t.due_at)
            .bind(2, t.kind)
            .bind(3, subject)
            .bind(4, t.payload.empty() ? std::string_view("{}") : std::string_view(t.payload))
            .bind(5, now);
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return core::make_error("storage", "timer insert returned no id");
        }
        ids.push_back(q->int64(0));
        if (auto rest = q->run(); !rest) {
            return rest.err();
        }
    }
    return ids;
}

core::result<std::vector<timer>> claim_timers(connection& db, std::int64_t now,
                                              std::string_view owner, std::int64_t lease_ms,
                                              std::size_t limit) {
    std::vector<timer> out;
    if (owner.empty()) {
        return invalid("a timer claim needs an owner");
    }
    if (lease_ms <= 0) {
        return invalid("a timer claim needs a positive lease");
    }
    if (limit == 0) {
        return out;
    }
    // One statement inside the writer's transaction (BEGIN IMMEDIATE holds the database's
    // write lock), so no other claimer, in this process or another, sees these rows free.
    auto q = db.prepare(
        "UPDATE timers SET claimed_by = ?, lease_until = ? WHERE id IN ("
        "SELECT id FROM timers WHERE fired_at IS NULL AND due_at <= ? "
        "AND (claimed_by IS NULL OR lease_until <= ?) ORDER BY due_at, id LIMIT ?) "
        "RETURNING id, due_at, kind, subject, payload, created_at, claimed_by, lease_until");
    if (!q) {
        return q.err();
    }
    q->bind(1, owner)
        .bind(2, now + lease_ms)
        .bind(3, now)
        .bind(4, now)
        .bind(5, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    if (auto walked = q->each_row([&] {
            timer t;
            t.id = q->int64(0);
            t.due_at = q->int64(1);
            t.kind = q->text(2);
            t.subject = q->text(3);
            t.payload = q->text(4);
            t.created_at = q->int64(5);
            t.claimed_by = q->text(6);
            t.lease_until = q->int64(7);
            out.push_back(std::move(t));
        });
        !walked) {
        return walked.err();
    }
    // RETURNING comes in no defined order.
    std::sort(out.begin(), out.end(), [](const timer& a, const timer& b) {
        return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id;
    });
    return out;
}

core::result<timer_completion> complete_timer(connection& db, std::int64_t id,
                                              std::string_view owner, std::int64_t now) {
    {
        auto q = db.prepare("SELECT claimed_by, fired_at, cancelled_at FROM timers WHERE id = ?");
        if (!q) {
            return q.err();
        }
        q->bind(1, id);
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return core::make_error("not_found", "no timer with id " + std::to_string(id));
        }
        if (!q->is_null(2)) {
            return timer_completion::cancelled;
        }
        if (!q->is_null(1)) {
            return timer_completion::already_fired;
        }
        if (q->is_null(0) || q->text(0) != owner) {
            return timer_completion::not_owner;
        }
    }
    auto q = db.prepare("UPDATE timers SET fired_at = ? WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, now).bind(2, id);
    if (auto done = q->run(); !done) {
        return done.err();
    }
    return timer_completion::fired;
}

core::result<std::int64_t> cancel_timers(connection& db, std::string_view subject,
                                         std::string_view kind, std::int64_t now) {
    auto q = db.prepare(
        "UPDATE timers SET fired_at = ?, cancelled_at = ? WHERE subject = ? "
        "AND (? = '' OR kind = ?) AND fired_at IS NULL RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, now).bind(2, now).bind(3, subject).bind(4, kind).bind(5, kind);
    std::int64_t n = 0;
    if (auto walked = q->each_row([&] { ++n; }); !walked) {
        return walked.err();
    }
    return n;
}

core::result<std::optional<std::int64_t>> next_timer_due(connection& db) {
    return optional_scalar(
        db,
        "SELECT MIN(CASE WHEN claimed_by IS NULL THEN due_at ELSE MAX(due_at, lease_until) END) "
        "FROM timers WHERE fired_at IS NULL");
}

}  // namespace hotline::store::sqlite
