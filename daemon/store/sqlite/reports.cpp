#include "store/sqlite/reports.hpp"

#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {

core::result<std::int64_t> insert_report(connection& db, const sealer& s, const domain::report& r,
                                         std::int64_t received_at) {
    // The id first, so the sealed values can be bound to their row in the one INSERT.
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM reports");
    if (!max_id) {
        return max_id.err();
    }
    const std::int64_t new_id = *max_id + 1;
    auto q = db.prepare(
        "INSERT INTO reports(id, source, source_kind, external_id, sender, subject, text, "
        "labels, language, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(source, external_id) DO NOTHING RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, new_id)
        .bind(2, r.source)
        .bind(3, r.source_kind)
        .bind(4, r.external_id)
        .bind(9, r.language)
        .bind(10, received_at);
    s.bind(*q, 5, "reports", "sender", new_id, r.sender);
    s.bind(*q, 6, "reports", "subject", new_id, r.subject);
    s.bind(*q, 7, "reports", "text", new_id, r.text);
    s.bind(*q, 8, "reports", "labels", new_id, dump(labels_json(r.labels)));
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

core::result<std::optional<domain::report>> load_report(connection& db, const sealer& s,
                                                        std::int64_t report_id) {
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
    auto sender = s.open(*q, 3, "reports", "sender", report_id);
    auto subject = s.open(*q, 4, "reports", "subject", report_id);
    auto text = s.open(*q, 5, "reports", "text", report_id);
    auto labels_text = s.open(*q, 6, "reports", "labels", report_id);
    for (const auto* part : {&sender, &subject, &text, &labels_text}) {
        if (!*part) {
            return part->err();
        }
    }
    r.sender = std::move(*sender);
    r.subject = std::move(*subject);
    r.text = std::move(*text);
    const auto labels = json::parse(*labels_text, nullptr, false);
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
