#include "store/sqlite/audit.hpp"

namespace hotline::store::sqlite {

core::status insert_audit_event(connection& db, const audit_event& e) {
    auto q = db.prepare(
        "INSERT INTO audit_events(at, actor, kind, case_id, report_id, notification_id, "
        "detail) VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!q) {
        return q.err();
    }
    q->bind(1, e.at).bind(2, e.actor).bind(3, e.kind);
    const auto bind_id = [&](int index, std::int64_t id) {
        if (id > 0) {
            q->bind(index, id);
        } else {
            q->bind_null(index);
        }
    };
    bind_id(4, e.case_id);
    bind_id(5, e.report_id);
    bind_id(6, e.notification_id);
    q->bind(7, dump(e.detail));
    return q->run();
}

}  // namespace hotline::store::sqlite
