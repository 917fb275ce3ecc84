#include "store/sqlite/retention.hpp"

#include <vector>

#include "store/sqlite/audit.hpp"
#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {
namespace {

// A value counts as purged once it is the empty clear text a purge writes; anything else
// (a sealed BLOB, clear text from before sealing) still holds contents.
constexpr const char* purge_report_sql =
    "UPDATE reports SET sender = '', subject = '', text = '', labels = '{}', details = '{}', "
    "raw = '' "
    "WHERE id = ? AND NOT (typeof(sender) = 'text' AND sender = '' AND "
    "typeof(subject) = 'text' AND subject = '' AND typeof(text) = 'text' AND text = '' AND "
    "typeof(labels) = 'text' AND labels = '{}' AND typeof(details) = 'text' AND "
    "details = '{}' AND typeof(raw) = 'text' AND raw = '')";

// Size, position and the row stay (a case still shows how many files came, how big);
// kept goes to 0 with the bytes.
constexpr const char* purge_attachments_sql =
    "UPDATE attachments SET file_name = '', content_type = '', sha256 = '', bytes = '', "
    "kept = 0 "
    "WHERE report_id = ? AND NOT (typeof(file_name) = 'text' AND file_name = '' AND "
    "typeof(content_type) = 'text' AND content_type = '' AND typeof(sha256) = 'text' AND "
    "sha256 = '' AND typeof(bytes) = 'text' AND bytes = '')";

constexpr const char* purge_notifications_sql =
    "UPDATE notifications SET address = ?, payload = '', updated_at = ?, "
    "status = CASE status WHEN 'pending' THEN 'failed' ELSE status END, "
    "last_error = CASE status WHEN 'pending' THEN ? ELSE last_error END "
    "WHERE report_id = ? AND NOT (typeof(address) = 'text' AND address = ? AND "
    "typeof(payload) = 'text' AND payload = '')";

}  // namespace

core::result<purge_progress> purge_batch_of(connection& db, const purge_batch& b,
                                            std::int64_t now_ms) {
    purge_progress out;
    out.last_id = b.after_id;
    out.reports = b.reports;
    out.notifications = b.notifications;
    out.batches = b.batches + 1;
    std::vector<std::int64_t> old_ids;
    {
        auto q = db.prepare("SELECT id, received_at FROM reports WHERE id > ? ORDER BY id LIMIT ?");
        if (!q) {
            return q.err();
        }
        q->bind(1, b.after_id).bind(2, static_cast<std::int64_t>(b.limit));
        std::size_t seen = 0;
        if (auto walked = q->each_row([&] {
                ++seen;
                if (q->int64(1) >= b.received_before) {
                    out.done = true;  // this one and every later one is young enough
                    return false;
                }
                old_ids.push_back(q->int64(0));
                return true;
            });
            !walked) {
            return walked.err();
        }
        // limit 0 examines nothing and ends the sweep: how a stopping daemon still audits
        // what the batches before purged.
        out.done = out.done || seen < b.limit || b.limit == 0;
    }
    for (const auto id : old_ids) {
        auto report = db.prepare(purge_report_sql);
        if (!report) {
            return report.err();
        }
        report->bind(1, id);
        if (auto ran = report->run(); !ran) {
            return ran.err();
        }
        out.reports += sqlite3_changes(db.get());
        auto files = db.prepare(purge_attachments_sql);
        if (!files) {
            return files.err();
        }
        files->bind(1, id);
        if (auto ran = files->run(); !ran) {
            return ran.err();
        }
        auto notes = db.prepare(purge_notifications_sql);
        if (!notes) {
            return notes.err();
        }
        notes->bind(1, purged_address)
            .bind(2, now_ms)
            .bind(3, purged_error)
            .bind(4, id)
            .bind(5, purged_address);
        if (auto ran = notes->run(); !ran) {
            return ran.err();
        }
        out.notifications += sqlite3_changes(db.get());
        out.last_id = id;
    }
    if (out.done) {
        // Parts of a concatenated SMS older than the cut that no timer joined (their source
        // was removed from the config): nothing will ever join them.
        auto parts = db.prepare("DELETE FROM sms_parts WHERE received_at < ?");
        if (!parts) {
            return parts.err();
        }
        parts->bind(1, b.received_before);
        if (auto ran = parts->run(); !ran) {
            return ran.err();
        }
        // Silences over before the cut: what they matched (a number, a name) goes too.
        auto silences = db.prepare(
            "UPDATE silences SET matchers = '[]', comment = '' "
            "WHERE (ends_at < ?1 OR (expired_at > 0 AND expired_at < ?1)) "
            "AND NOT (typeof(matchers) = 'text' AND matchers = '[]' AND "
            "typeof(comment) = 'text' AND comment = '')");
        if (!silences) {
            return silences.err();
        }
        silences->bind(1, b.received_before);
        if (auto ran = silences->run(); !ran) {
            return ran.err();
        }
        // Case notes (and remarks) written before the cut: a note can hold as much as a report.
        auto case_notes = db.prepare(
            "UPDATE case_notes SET text = '' WHERE created_at < ?1 "
            "AND NOT (typeof(text) = 'text' AND text = '')");
        if (!case_notes) {
            return case_notes.err();
        }
        case_notes->bind(1, b.received_before);
        if (auto ran = case_notes->run(); !ran) {
            return ran.err();
        }
        const auto notes_purged = sqlite3_changes(db.get());
        audit_event e;
        e.at = now_ms;
        e.actor = "retention";
        e.kind = "retention_sweep";
        e.detail = json{{"received_before", b.received_before},
                        {"reports", out.reports},
                        {"notifications", out.notifications},
                        {"batches", out.batches},
                        {"case_notes", notes_purged}};
        if (auto written = insert_audit_event(db, e); !written) {
            return written.err();
        }
    }
    return out;
}

}  // namespace hotline::store::sqlite
