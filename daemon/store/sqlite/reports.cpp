#include "store/sqlite/reports.hpp"

#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

core::result<std::int64_t> insert_report(connection& db, const domain::report& r,
                                         std::int64_t received_at) {
    auto q = db.prepare(
        "INSERT INTO reports(source, source_kind, external_id, sender, subject, text, "
        "labels, language, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(source, external_id) DO NOTHING RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, r.source)
        .bind(2, r.source_kind)
        .bind(3, r.external_id)
        .bind(4, r.sender)
        .bind(5, r.subject)
        .bind(6, r.text)
        .bind(7, dump(labels_json(r.labels)))
        .bind(8, r.language)
        .bind(9, received_at);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::int64_t{0};
    }
    const std::int64_t id = q->int64(0);
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    return id;
}

core::result<domain::report_ids> find_duplicate(connection& db, const domain::report& r) {
    auto q = db.prepare(
        "SELECT r.id, IFNULL((SELECT MIN(c.id) FROM cases c WHERE c.report_id = r.id), 0) "
        "FROM reports r WHERE r.source = ? AND r.external_id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, r.source).bind(2, r.external_id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return core::make_error("storage", "report conflicted but cannot be found");
    }
    domain::report_ids ids;
    ids.report_id = q->int64(0);
    ids.case_id = q->int64(1);
    ids.duplicate = true;
    return ids;
}

core::result<std::optional<domain::report>> load_report(connection& db, std::int64_t report_id) {
    auto q = db.prepare(
        "SELECT source, source_kind, external_id, sender, subject, text, labels, language, "
        "received_at FROM reports WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, report_id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<domain::report>{};
    }
    domain::report r;
    r.source = q->text(0);
    r.source_kind = q->text(1);
    r.external_id = q->text(2);
    r.sender = q->text(3);
    r.subject = q->text(4);
    r.text = q->text(5);
    const auto labels = json::parse(q->text(6), nullptr, false);
    if (labels.is_object()) {
        for (const auto& [k, v] : labels.items()) {
            r.labels[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
    }
    r.language = q->text(7);
    r.received_at = q->int64(8);
    return std::optional<domain::report>(std::move(r));
}

}  // namespace hotline::store::sqlite
