#include "store/sqlite/checkins.hpp"

#include "store/sqlite/audit.hpp"
#include "store/sqlite/json_column.hpp"
#include "store/sqlite/timers.hpp"

namespace hotline::store::sqlite {

namespace {

// Statements are cached by their text's address: literals only.
#define HOTLINE_CHECKIN_COLUMNS                                                           \
    "SELECT id, active, interval_ms, grace_ms, started_at, last_at, due_at, updated_at, " \
    "updated_by FROM checkins"
constexpr const char* select_by_id = HOTLINE_CHECKIN_COLUMNS " WHERE id = ?";
constexpr const char* select_all = HOTLINE_CHECKIN_COLUMNS " ORDER BY id";
#undef HOTLINE_CHECKIN_COLUMNS

checkin_state read_row(const query& q) {
    checkin_state s;
    s.id = q.text(0);
    s.active = q.int64(1) != 0;
    s.interval_ms = q.int64(2);
    s.grace_ms = q.int64(3);
    s.started_at = q.int64(4);
    s.last_at = q.int64(5);
    s.due_at = q.int64(6);
    s.updated_at = q.int64(7);
    s.updated_by = q.text(8);
    return s;
}

core::result<std::optional<checkin_state>> select_one(connection& db, const std::string& id) {
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
        return std::optional<checkin_state>{};
    }
    return std::optional<checkin_state>{read_row(*q)};
}

core::status upsert(connection& db, const checkin_state& s) {
    auto q = db.prepare(
        "INSERT INTO checkins(id, active, interval_ms, grace_ms, started_at, last_at, due_at, "
        "updated_at, updated_by) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET active = excluded.active, "
        "interval_ms = excluded.interval_ms, grace_ms = excluded.grace_ms, "
        "started_at = excluded.started_at, last_at = excluded.last_at, "
        "due_at = excluded.due_at, updated_at = excluded.updated_at, "
        "updated_by = excluded.updated_by");
    if (!q) {
        return q.err();
    }
    q->bind(1, s.id)
        .bind(2, std::int64_t{s.active ? 1 : 0})
        .bind(3, s.interval_ms)
        .bind(4, s.grace_ms)
        .bind(5, s.started_at)
        .bind(6, s.last_at)
        .bind(7, s.due_at)
        .bind(8, s.updated_at)
        .bind(9, s.updated_by);
    return q->run();
}

}  // namespace

std::string checkin_subject(const std::string& id) {
    return "checkin:" + id;
}

core::result<checkin_result> apply_checkin(connection& db, const checkin_change& c,
                                           std::int64_t now) {
    using kind = checkin_change::kind;
    if (c.id.empty()) {
        return core::make_error("invalid_argument", "a check-in needs a defender id");
    }
    if (c.grace_ms < 0 || (c.what == kind::start && c.interval_ms <= 0)) {
        return core::make_error("invalid_argument",
                                "a check-in period must be above zero and its grace not negative");
    }
    auto found = select_one(db, c.id);
    if (!found) {
        return found.err();
    }
    checkin_result out;
    checkin_state s = found->value_or(checkin_state{});
    s.id = c.id;
    s.updated_at = now;
    s.updated_by = c.actor;
    std::string_view audit_kind;
    if (c.what == kind::refused) {
        audit_event e;
        e.at = now;
        e.actor = c.actor;
        e.kind = "checkin_refused";
        e.detail = json{{"checkin", c.id}, {"channel", c.channel}, {"reason", c.reason}};
        if (auto a = insert_audit_event(db, e); !a) {
            return a.err();
        }
        out.state = found->value_or(checkin_state{});
        out.state.id = c.id;
        return out;
    }
    switch (c.what) {
        case kind::start:
            s.active = true;
            s.interval_ms = c.interval_ms;
            s.grace_ms = c.grace_ms;
            s.started_at = now;
            s.due_at = now + c.interval_ms;
            out.changed = true;
            audit_kind = "checkin_started";
            break;
        case kind::checkin:
            s.last_at = now;
            out.changed = s.active;
            if (s.active) {
                s.grace_ms = c.grace_ms;
                s.due_at = now + s.interval_ms;
            }
            audit_kind = "checkin";
            break;
        case kind::stop:
            out.changed = true;
            s.active = false;
            s.due_at = 0;
            audit_kind = "checkin_stopped";
            break;
        case kind::refused: break;  // answered above
    }
    if (auto up = upsert(db, s); !up) {
        return up.err();
    }
    const std::string subject = checkin_subject(c.id);
    if (c.what == kind::stop || out.changed) {
        if (auto cancelled = cancel_timers(db, subject, "checkin_due", now); !cancelled) {
            return cancelled.err();
        }
    }
    if (s.active && out.changed) {
        new_timer t;
        t.due_at = s.due_at + s.grace_ms;
        t.kind = "checkin_due";
        t.subject = subject;
        t.payload = dump(json{{"id", c.id}, {"due_at", s.due_at}});
        auto ids = insert_timers(db, {t}, subject, now);
        if (!ids) {
            return ids.err();
        }
        out.timer_id = ids->front();
        out.timer_due_at = t.due_at;
    }
    audit_event e;
    e.at = now;
    e.actor = c.actor;
    e.kind = audit_kind;
    e.detail = json{{"checkin", c.id}, {"channel", c.channel}, {"due_at", s.due_at}};
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    out.state = std::move(s);
    return out;
}

core::result<std::vector<checkin_state>> select_checkins(connection& db) {
    std::vector<checkin_state> out;
    auto q = db.prepare(select_all);
    if (!q) {
        return q.err();
    }
    auto walked = q->each_row([&]() -> core::status {
        out.push_back(read_row(*q));
        return core::ok();
    });
    if (!walked) {
        return walked.err();
    }
    return out;
}

}  // namespace hotline::store::sqlite
