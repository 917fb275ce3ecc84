#include "store/sqlite/cases.hpp"

#include <algorithm>

#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

core::result<std::int64_t> insert_case(connection& db, std::int64_t case_id, std::int64_t report_id,
                                       const domain::case_info& c, std::int64_t now) {
    auto q = db.prepare(
        "INSERT INTO cases(id, report_id, state, severity, route, labels, created_at, policy, "
        "updated_at, group_key, group_until) "
        "VALUES(?1, ?2, 'open', ?3, ?4, ?5, ?6, ?7, ?6, ?8, ?9) RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, case_id)
        .bind(2, report_id)
        .bind(3, c.severity)
        .bind(4, c.route)
        .bind(5, dump(c.labels.is_null() ? json::object() : c.labels))
        .bind(6, now)
        .bind(7, c.policy)
        .bind_optional(8, c.group_key)
        .bind(9, c.group_key.empty() ? 0 : c.group_until);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return core::make_error("storage", "case insert returned no id");
    }
    const std::int64_t id = q->int64(0);
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    return id;
}

namespace {

constexpr const char* case_columns =
    "c.id, c.state, c.severity, c.route, c.labels, c.policy, c.created_at, c.updated_at, "
    "c.acked_by, c.acked_at, c.resolved_by, c.resolved_at, c.report_id, "
    "(SELECT COUNT(*) FROM reports r WHERE r.case_id = c.id), "
    "(SELECT MAX(r.received_at) FROM reports r WHERE r.case_id = c.id), "
    "(SELECT MAX(r.id) FROM reports r WHERE r.case_id = c.id)";

case_row read_case(const query& q) {
    case_row out;
    auto& c = out.record;
    c.id = q.int64(0);
    c.state = domain::parse_case_state(q.text(1)).value_or(case_state::open);
    c.severity = q.text(2);
    c.route = q.text(3);
    c.labels = parse_object(q.text(4));
    c.policy = q.text(5);
    c.created_at = q.int64(6);
    c.updated_at = std::max(q.int64(7), c.created_at);
    c.acked_by = q.text(8);
    c.acked_at = q.int64(9);
    c.resolved_by = q.text(10);
    c.resolved_at = q.int64(11);
    out.first_report_id = q.int64(12);
    c.reports = q.int64(13);
    c.last_report_at = q.is_null(14) ? 0 : q.int64(14);
    out.latest_report_id = q.is_null(15) ? out.first_report_id : q.int64(15);
    return out;
}

}  // namespace

core::result<std::optional<case_row>> load_case(connection& db, std::int64_t id) {
    static const std::string sql =
        std::string("SELECT ") + case_columns + " FROM cases c WHERE c.id = ?1";
    auto q = db.prepare(sql.c_str());
    if (!q) {
        return q.err();
    }
    q->bind(1, id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<case_row>{};
    }
    return std::optional<case_row>(read_case(*q));
}

core::result<std::vector<case_record>> list_cases(connection& db, const case_query& cq) {
    // One statement per shape keeps the statement cache small and the plans simple.
    std::string sql = std::string("SELECT ") + case_columns + " FROM cases c WHERE c.id < ?1";
    if (cq.state) {
        sql += " AND c.state = ?2";
    }
    if (!cq.target.empty()) {
        sql +=
            " AND EXISTS (SELECT 1 FROM reports r JOIN notifications n ON n.report_id = r.id "
            "WHERE r.case_id = c.id AND n.case_id = c.id AND n.target = ?3)";
    }
    sql += " ORDER BY c.id DESC LIMIT ?4";
    auto q = db.prepare(sql.c_str());
    if (!q) {
        return q.err();
    }
    const std::size_t limit = std::clamp<std::size_t>(cq.limit, 1, 1000);
    q->bind(1, cq.before_id > 0 ? cq.before_id : INT64_MAX);
    if (cq.state) {
        q->bind(2, std::string(domain::to_string(*cq.state)));
    }
    if (!cq.target.empty()) {
        q->bind(3, cq.target);
    }
    q->bind(4, static_cast<std::int64_t>(limit));
    std::vector<case_record> out;
    if (auto walked = q->each_row([&] { out.push_back(read_case(*q).record); }); !walked) {
        return walked.err();
    }
    return out;
}

core::result<std::vector<case_event>> case_events(connection& db, const sealer& s,
                                                  std::int64_t case_id) {
    auto q = db.prepare(
        "SELECT id, at, actor, kind, detail FROM audit_events WHERE case_id = ?1 ORDER BY id");
    if (!q) {
        return q.err();
    }
    q->bind(1, case_id);
    std::vector<case_event> out;
    if (auto walked = q->each_row([&] {
            out.push_back(case_event{q->int64(0), q->int64(1), q->text(2), q->text(3),
                                     parse_object(q->text(4))});
        });
        !walked) {
        return walked.err();
    }
    for (auto& e : out) {
        const auto note = e.detail.find("note_id");
        if (note == e.detail.end() || !note->is_number_integer()) {
            continue;
        }
        const auto note_id = note->get<std::int64_t>();
        auto n = db.prepare("SELECT text FROM case_notes WHERE id = ?1");
        if (!n) {
            return n.err();
        }
        n->bind(1, note_id);
        auto row = n->step();
        if (!row) {
            return row.err();
        }
        if (*row) {
            auto text = s.open(*n, 0, "case_notes", "text", note_id);
            e.detail["note"] = text ? *text : std::string{};
        }
        if (auto rest = n->run(); !rest) {
            return rest.err();
        }
    }
    return out;
}

core::status set_case_state(connection& db, std::int64_t id, case_state to,
                            const std::string& actor, std::int64_t now) {
    const char* sql = nullptr;
    switch (to) {
        case case_state::acknowledged:
            sql =
                "UPDATE cases SET state = 'acknowledged', updated_at = ?2, acked_by = ?3, "
                "acked_at = ?2 WHERE id = ?1";
            break;
        case case_state::resolved:
            sql =
                "UPDATE cases SET state = 'resolved', updated_at = ?2, resolved_by = ?3, "
                "resolved_at = ?2 WHERE id = ?1";
            break;
        case case_state::open:
            sql = "UPDATE cases SET state = 'open', updated_at = ?2 WHERE id = ?1 AND ?3 = ?3";
            break;
    }
    auto q = db.prepare(sql);
    if (!q) {
        return q.err();
    }
    q->bind(1, id).bind(2, now).bind(3, actor);
    return q->run();
}

core::result<std::int64_t> insert_case_note(connection& db, const sealer& s, std::int64_t case_id,
                                            const std::string& author, const std::string& channel,
                                            const std::string& text, std::int64_t now) {
    // The row id is known before the insert so the seal binds to it.
    auto next = db.prepare("SELECT IFNULL(MAX(id), 0) + 1 FROM case_notes");
    if (!next) {
        return next.err();
    }
    auto row = next->step();
    if (!row) {
        return row.err();
    }
    const std::int64_t id = next->int64(0);
    if (auto rest = next->run(); !rest) {
        return rest.err();
    }
    auto q = db.prepare(
        "INSERT INTO case_notes(id, case_id, author, channel, text, created_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!q) {
        return q.err();
    }
    q->bind(1, id).bind(2, case_id).bind(3, author).bind(4, channel).bind(6, now);
    if (text.empty()) {
        q->bind(5, std::string_view{});
    } else {
        s.bind(*q, 5, "case_notes", "text", id, text);
    }
    if (auto done = q->run(); !done) {
        return done.err();
    }
    return id;
}

core::result<bool> use_action_key(connection& db, const std::string& key, std::int64_t case_id,
                                  std::int64_t now) {
    auto q = db.prepare(
        "INSERT INTO case_action_keys(key, case_id, used_at) VALUES(?1, ?2, ?3) "
        "ON CONFLICT DO NOTHING RETURNING 1");
    if (!q) {
        return q.err();
    }
    q->bind(1, key).bind(2, case_id).bind(3, now);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    const bool fresh = *row;
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    return fresh;
}

core::result<std::optional<std::int64_t>> find_group_case(connection& db, const std::string& key,
                                                          std::int64_t now) {
    auto q = db.prepare(
        "SELECT id FROM cases WHERE group_key = ?1 AND group_until > ?2 AND state = 'open' "
        "ORDER BY id DESC LIMIT 1");
    if (!q) {
        return q.err();
    }
    q->bind(1, key).bind(2, now);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    std::optional<std::int64_t> out;
    if (*row) {
        out = q->int64(0);
    }
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    return out;
}

}  // namespace hotline::store::sqlite
