#include "store/sqlite/reports.hpp"

#include <unordered_set>

#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {
namespace {

// Keys per known_dedup_keys statement: one statement text (the last chunk is padded with
// NULLs, which match nothing), so the connection caches one prepared statement.
constexpr std::size_t dedup_chunk = 200;

std::string dedup_lookup_sql() {
    std::string sql = "SELECT dedup_key FROM reports WHERE source = ? AND dedup_key IN (";
    for (std::size_t i = 0; i < dedup_chunk; ++i) {
        sql += i == 0 ? "?" : ", ?";
    }
    sql += ")";
    return sql;
}

// Binds a sealed value, or clear `empty` when there is nothing to hide (saves a seal per
// webhook report, which has no details or raw bytes).
void bind_sealed_or_empty(const sealer& s, query& q, int index, const char* table,
                          const char* column, std::int64_t id, std::string_view plain,
                          std::string_view empty) {
    if (plain == empty) {
        q.bind(index, empty);
    } else {
        s.bind(q, index, table, column, id, plain);
    }
}

}  // namespace

core::result<inserted_report> insert_report(connection& db, const sealer& s,
                                            const domain::report& r, std::int64_t received_at,
                                            std::int64_t join_case) {
    // The id first, so the sealed values can be bound to their row in the one INSERT.
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM reports");
    if (!max_id) {
        return max_id.err();
    }
    const std::int64_t new_id = *max_id + 1;
    // No conflict target: either unique key makes the report a duplicate.
    auto q = db.prepare(
        "INSERT INTO reports(id, source, source_kind, external_id, sender, subject, text, "
        "labels, language, received_at, dedup_key, case_id, details, raw) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "CASE WHEN ?12 > 0 THEN ?12 ELSE (SELECT IFNULL(MAX(id), 0) + 1 FROM cases) END, "
        "?13, ?14) ON CONFLICT DO NOTHING RETURNING id, case_id");
    if (!q) {
        return q.err();
    }
    q->bind(1, new_id)
        .bind(2, r.source)
        .bind(3, r.source_kind)
        .bind(4, r.external_id)
        .bind(9, r.language)
        .bind(10, received_at)
        .bind_optional(11, r.dedup_key)
        .bind(12, join_case);
    s.bind(*q, 5, "reports", "sender", new_id, r.sender);
    s.bind(*q, 6, "reports", "subject", new_id, r.subject);
    s.bind(*q, 7, "reports", "text", new_id, r.text);
    s.bind(*q, 8, "reports", "labels", new_id, dump(labels_json(r.labels)));
    const auto details = r.details.is_null() || (r.details.is_object() && r.details.empty())
                             ? "{}"
                             : dump(r.details);
    bind_sealed_or_empty(s, *q, 13, "reports", "details", new_id, details, "{}");
    bind_sealed_or_empty(s, *q, 14, "reports", "raw", new_id, r.raw, "");
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return inserted_report{};
    }
    inserted_report out{q->int64(0), q->int64(1)};
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    return out;
}

core::result<bool> case_exists(connection& db, std::int64_t case_id) {
    auto q = db.prepare("SELECT 1 FROM cases WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, case_id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    return *row;
}

core::status insert_attachments(connection& db, const sealer& s, std::int64_t report_id,
                                const std::vector<domain::attachment>& files) {
    if (files.empty()) {
        return core::ok();
    }
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM attachments");
    if (!max_id) {
        return max_id.err();
    }
    std::int64_t id = *max_id;
    std::int64_t position = 0;
    for (const auto& f : files) {
        ++id;
        auto q = db.prepare(
            "INSERT INTO attachments(id, report_id, position, file_name, content_type, size, "
            "sha256, bytes, kept) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (!q) {
            return q.err();
        }
        q->bind(1, id)
            .bind(2, report_id)
            .bind(3, position++)
            .bind(6, static_cast<std::int64_t>(f.size))
            .bind(9, std::int64_t{f.kept ? 1 : 0});
        s.bind(*q, 4, "attachments", "file_name", id, f.file_name);
        s.bind(*q, 5, "attachments", "content_type", id, f.content_type);
        s.bind(*q, 7, "attachments", "sha256", id, f.sha256);
        bind_sealed_or_empty(s, *q, 8, "attachments", "bytes", id, f.bytes, "");
        if (auto ran = q->run(); !ran) {
            return ran;
        }
    }
    return core::ok();
}

core::result<domain::report_ids> find_duplicate(connection& db, const domain::report& r) {
    // A NULL dedup_key (none given) matches no row.
    auto q = db.prepare(
        "SELECT id, case_id FROM reports WHERE source = ?1 AND external_id = ?2 "
        "UNION ALL SELECT id, case_id FROM reports WHERE source = ?1 AND dedup_key = ?3 "
        "LIMIT 1");
    if (!q) {
        return q.err();
    }
    q->bind(1, r.source).bind(2, r.external_id).bind_optional(3, r.dedup_key);
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
        "received_at, dedup_key, case_id, details, raw FROM reports WHERE id = ?");
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
    auto details_text = s.open(*q, 11, "reports", "details", report_id);
    auto raw = s.open(*q, 12, "reports", "raw", report_id);
    for (const auto* part : {&sender, &subject, &text, &labels_text, &details_text, &raw}) {
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
    r.dedup_key = q->text(9);
    r.case_id = q->int64(10);
    auto details = json::parse(*details_text, nullptr, false);
    r.details = details.is_object() ? std::move(details) : json::object();
    r.raw = std::move(*raw);
    return std::optional<domain::report>(std::move(r));
}

core::result<std::vector<domain::attachment>> load_attachments(connection& db, const sealer& s,
                                                               std::int64_t report_id) {
    auto q = db.prepare(
        "SELECT id, file_name, content_type, size, sha256, bytes, kept FROM attachments "
        "WHERE report_id = ? ORDER BY position");
    if (!q) {
        return q.err();
    }
    q->bind(1, report_id);
    std::vector<domain::attachment> out;
    if (auto walked = q->each_row([&]() -> core::status {
            const std::int64_t id = q->int64(0);
            auto file_name = s.open(*q, 1, "attachments", "file_name", id);
            auto content_type = s.open(*q, 2, "attachments", "content_type", id);
            auto sha256 = s.open(*q, 4, "attachments", "sha256", id);
            auto bytes = s.open(*q, 5, "attachments", "bytes", id);
            for (const auto* part : {&file_name, &content_type, &sha256, &bytes}) {
                if (!*part) {
                    return core::status(part->err());
                }
            }
            domain::attachment a;
            a.file_name = std::move(*file_name);
            a.content_type = std::move(*content_type);
            a.size = static_cast<std::size_t>(q->int64(3));
            a.sha256 = std::move(*sha256);
            a.bytes = std::move(*bytes);
            a.kept = q->int64(6) != 0;
            out.push_back(std::move(a));
            return core::ok();
        });
        !walked) {
        return walked.err();
    }
    return out;
}

core::result<std::optional<std::vector<std::string>>> case_targets(connection& db,
                                                                   std::int64_t case_id) {
    auto exists = case_exists(db, case_id);
    if (!exists) {
        return exists.err();
    }
    if (!*exists) {
        return std::optional<std::vector<std::string>>{};
    }
    // Through reports_by_case and notifications_by_report: notifications have no index by
    // case, and one would cost every ingest a b-tree insert per notification.
    auto q = db.prepare(
        "SELECT n.target FROM reports r JOIN notifications n ON n.report_id = r.id "
        "WHERE r.case_id = ?1 AND n.case_id = ?1 AND n.target <> '' "
        "GROUP BY n.target ORDER BY MIN(n.id)");
    if (!q) {
        return q.err();
    }
    q->bind(1, case_id);
    std::vector<std::string> targets;
    if (auto walked = q->each_row([&] { targets.push_back(q->text(0)); }); !walked) {
        return walked.err();
    }
    return std::optional<std::vector<std::string>>(std::move(targets));
}

core::result<std::vector<std::string>> known_dedup_keys(connection& db, const std::string& source,
                                                        const std::vector<std::string>& keys) {
    static const std::string sql = dedup_lookup_sql();
    std::unordered_set<std::string> found;
    std::vector<std::string_view> wanted;
    wanted.reserve(keys.size());
    for (const auto& k : keys) {
        if (!k.empty()) {
            wanted.push_back(k);
        }
    }
    for (std::size_t start = 0; start < wanted.size(); start += dedup_chunk) {
        auto q = db.prepare(sql.c_str());
        if (!q) {
            return q.err();
        }
        q->bind(1, source);
        for (std::size_t i = 0; i < dedup_chunk; ++i) {
            const int index = static_cast<int>(i) + 2;
            if (start + i < wanted.size()) {
                q->bind(index, wanted[start + i]);
            } else {
                q->bind_null(index);
            }
        }
        if (auto walked = q->each_row([&] { found.insert(q->text(0)); }); !walked) {
            return walked.err();
        }
    }
    std::vector<std::string> out;
    for (const auto k : wanted) {
        if (auto it = found.find(std::string(k)); it != found.end()) {
            out.push_back(*it);
            found.erase(it);  // each key once
        }
    }
    return out;
}

core::result<std::optional<std::string>> load_cursor(connection& db, const std::string& source) {
    auto q = db.prepare("SELECT value FROM source_cursors WHERE source = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, source);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<std::string>{};
    }
    return std::optional<std::string>(q->text(0));
}

core::status save_cursor(connection& db, const std::string& source, const std::string& value,
                         std::int64_t now) {
    auto q = db.prepare(
        "INSERT INTO source_cursors(source, value, updated_at) VALUES(?, ?, ?) "
        "ON CONFLICT(source) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at");
    if (!q) {
        return q.err();
    }
    q->bind(1, source).bind(2, value).bind(3, now);
    return q->run();
}

}  // namespace hotline::store::sqlite
