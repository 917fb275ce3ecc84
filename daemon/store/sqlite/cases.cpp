#include "store/sqlite/cases.hpp"

#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

core::result<std::int64_t> insert_case(connection& db, std::int64_t case_id, std::int64_t report_id,
                                       const domain::case_info& c, std::int64_t now) {
    auto q = db.prepare(
        "INSERT INTO cases(id, report_id, state, severity, route, labels, created_at) "
        "VALUES(?, ?, 'open', ?, ?, ?, ?) RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, case_id)
        .bind(2, report_id)
        .bind(3, c.severity)
        .bind(4, c.route)
        .bind(5, dump(c.labels.is_null() ? json::object() : c.labels))
        .bind(6, now);
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

}  // namespace hotline::store::sqlite
