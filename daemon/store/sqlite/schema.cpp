#include "store/sqlite/schema.hpp"

#include "store/sqlite/checkins.hpp"
#include "store/sqlite/silences.hpp"

#include <array>
#include <string>

namespace hotline::store::sqlite {
namespace {

// Append only: a released step is never edited, a change is a new step.
// JSON columns hold text produced by nlohmann::json::dump(). Optional text (last_error,
// provider_id) is NULL when absent. Times are unix milliseconds.
constexpr std::array migrations{
    // 1: the initial schema.
    R"sql(
CREATE TABLE reports(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  source_kind TEXT NOT NULL,
  external_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  language TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL,
  UNIQUE(source, external_id)
);
CREATE TABLE cases(
  id INTEGER PRIMARY KEY,
  report_id INTEGER NOT NULL REFERENCES reports(id),
  state TEXT NOT NULL DEFAULT 'open' CHECK(state IN ('open', 'acknowledged', 'resolved')),
  severity TEXT NOT NULL,
  route TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX cases_by_report ON cases(report_id);
CREATE TABLE notifications(
  id INTEGER PRIMARY KEY,
  report_id INTEGER NOT NULL REFERENCES reports(id),
  case_id INTEGER NOT NULL REFERENCES cases(id),
  channel TEXT NOT NULL CHECK(length(channel) > 0),
  address TEXT NOT NULL CHECK(length(address) > 0),
  target TEXT NOT NULL,
  contact_index INTEGER NOT NULL DEFAULT 0,
  language TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_error TEXT,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK(status IN ('pending', 'delivered', 'failed', 'dead')),
  provider_id TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
CREATE INDEX notifications_by_report ON notifications(report_id);
CREATE TABLE audit_events(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  case_id INTEGER,
  report_id INTEGER,
  notification_id INTEGER,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_case ON audit_events(case_id);
)sql",
    // 2: durable timers (escalation steps, check-in deadlines, SMS part timeouts, retries).
    // fired_at is set when a timer is settled: fired, or cancelled (then cancelled_at too),
    // so "fired_at IS NULL" alone selects the live rows through timers_due.
    R"sql(
CREATE TABLE timers(
  id INTEGER PRIMARY KEY,
  due_at INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK(length(kind) > 0),
  subject TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  claimed_by TEXT,
  lease_until INTEGER,
  fired_at INTEGER,
  cancelled_at INTEGER
);
CREATE INDEX timers_due ON timers(fired_at, due_at);
CREATE INDEX timers_by_subject ON timers(subject, kind);
)sql",
    // 3: sealing at rest. The clear rows of versions 1-2 are sealed after this step, in C++
    // (store/sqlite/sealing.cpp, seal_existing), since that needs the key. seal_meta holds
    // "canary" (a fixed text sealed under the current key: a wrong key fails it before
    // anything is written) and, during a rekey, "rekey_target" (the new key id).
    R"sql(
CREATE TABLE seal_meta(
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
)sql",
    // 4: severity-ordered, per-channel due scans (issue 7): the rank of the notification's
    // severity in clear (0 = critical ... 3 = low, 4 = other; domain/severity.hpp), set at
    // insert from the payload. Existing rows take their case's severity, which is what
    // the planner put in their payloads. The index serves one (channel, severity) range
    // per query, so a scan reads what it returns, not the whole backlog.
    R"sql(
ALTER TABLE notifications ADD COLUMN severity_rank INTEGER NOT NULL DEFAULT 2;
UPDATE notifications SET severity_rank = IFNULL((
  SELECT CASE c.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2
                         WHEN 'low' THEN 3 ELSE 4 END
  FROM cases c WHERE c.id = notifications.case_id), 2);
CREATE INDEX notifications_due_by_channel
  ON notifications(status, channel, severity_rank, next_attempt_at);
)sql",
    // 5: email intake (issue 8). dedup_key: a second per-source key (a mail's Message-ID
    // hash), clear, NULL when none, so the partial index costs a webhook report nothing.
    // case_id: the case a report belongs to, several reports per case once replies join
    // one; no REFERENCES, since a new report's row goes in before its case's. details
    // (JSON) and raw (the message's bytes) are sealed, like the attachments' name, type,
    // hash and bytes; an empty value is stored as clear empty text. Cursors hold where a
    // pulling source stands (an IMAP mailbox's UIDVALIDITY and last UID): no contents.
    R"sql(
ALTER TABLE reports ADD COLUMN dedup_key TEXT;
ALTER TABLE reports ADD COLUMN case_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
ALTER TABLE reports ADD COLUMN raw BLOB NOT NULL DEFAULT '';
UPDATE reports SET case_id = IFNULL((
  SELECT MIN(c.id) FROM cases c WHERE c.report_id = reports.id), 0);
CREATE UNIQUE INDEX reports_by_dedup_key ON reports(source, dedup_key)
  WHERE dedup_key IS NOT NULL;
CREATE INDEX reports_by_case ON reports(case_id);
CREATE TABLE attachments(
  id INTEGER PRIMARY KEY,
  report_id INTEGER NOT NULL REFERENCES reports(id),
  position INTEGER NOT NULL,
  file_name TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL DEFAULT '',
  bytes BLOB NOT NULL DEFAULT '',
  kept INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX attachments_by_report ON attachments(report_id, position);
CREATE TABLE source_cursors(
  source TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql",
    // 6: SMS channels (issue 9). How an SMS went out (encoding "gsm7"/"ucs2" and segments,
    // dispatch/sms_text) and what the provider's delivery-status callback said later
    // (delivery_status "delivered"/"failed", a short reason, when): clear, no contents.
    R"sql(
ALTER TABLE notifications ADD COLUMN sms_encoding TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN sms_segments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN delivery_detail TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN delivery_at INTEGER NOT NULL DEFAULT 0;
)sql",
    // 7: SMS state (issue 9). sms_parts holds
    // the parts of a concatenated SMS until they are joined into one report: group_key is
    // a keyed hash of sender, reference and total (store::sms_key); text and meta (sender,
    // recipient, country, gateway facts: what the joined report needs) are sealed.
    // sms_opt_outs: the responder numbers that sent STOP, keyed by a keyed hash of the
    // number (number_key), the number sealed.
    R"sql(
CREATE TABLE sms_parts(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  group_key TEXT NOT NULL,
  part INTEGER NOT NULL CHECK(part >= 1),
  total INTEGER NOT NULL CHECK(total >= 2 AND part <= total),
  text TEXT NOT NULL DEFAULT '',
  message_id TEXT NOT NULL DEFAULT '',
  meta TEXT NOT NULL DEFAULT '{}',
  received_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE(source, group_key, part)
);
CREATE TABLE sms_opt_outs(
  id INTEGER PRIMARY KEY,
  number_key TEXT NOT NULL UNIQUE,
  number TEXT NOT NULL,
  responder TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql",
    // 8: cases that escalate until acknowledged (issue 10). The policy a case follows,
    // who acknowledged or resolved it and when (targets, clear), updated_at (the last
    // state change); group_key (a keyed hash of a route's group_by values, clear) and
    // group_until: a later report with that key joins the case while it is open. Notes
    // (a responder's text, sealed) and the single-use keys of actions (a signed link's
    // token hash, clear) are rows of their own. reports_by_case serves a case's reports.
    R"sql(
ALTER TABLE cases ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN acked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN resolved_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN group_key TEXT;
ALTER TABLE cases ADD COLUMN group_until INTEGER NOT NULL DEFAULT 0;
UPDATE cases SET updated_at = created_at;
CREATE INDEX cases_by_group ON cases(group_key, group_until) WHERE group_key IS NOT NULL;
CREATE INDEX cases_by_state ON cases(state, id);
CREATE TABLE case_notes(
  id INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  author TEXT NOT NULL,
  channel TEXT NOT NULL,
  text TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes(case_id);
CREATE TABLE case_action_keys(
  key TEXT PRIMARY KEY,
  case_id INTEGER NOT NULL,
  used_at INTEGER NOT NULL
);
)sql",
    // 9: silences (issue 10): store/sqlite/silences.hpp, silences_migration.
    silences_migration,
    // 10: check-ins (issue 10): store/sqlite/checkins.hpp, checkins_migration.
    checkins_migration,
};

core::result<int> user_version(connection& db) {
    auto q = db.prepare("PRAGMA user_version");
    if (!q) {
        return q.err();
    }
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    return *row ? static_cast<int>(q->int64(0)) : 0;
}

core::status apply(connection& db, int version) {
    if (auto begin = db.exec("BEGIN IMMEDIATE"); !begin) {
        return begin;
    }
    // Another process may have migrated while we waited for the write lock.
    auto now = user_version(db);
    core::status step = now ? core::ok() : core::status(now.err());
    if (step && *now < version) {
        step = db.exec(migrations[static_cast<std::size_t>(version - 1)]);
        if (step) {
            step = db.exec(("PRAGMA user_version = " + std::to_string(version)).c_str());
        }
    }
    if (step) {
        step = db.exec("COMMIT");
    }
    if (!step) {
        if (db.in_transaction()) {
            (void)db.exec("ROLLBACK");
        }
        auto err = step.err();
        err.message =
            "migration to schema version " + std::to_string(version) + " failed: " + err.message;
        return err;
    }
    return core::ok();
}

}  // namespace

int current_schema_version() {
    return static_cast<int>(migrations.size());
}

core::status migrate(connection& db) {
    auto version = user_version(db);
    if (!version) {
        return version.err();
    }
    if (*version > current_schema_version()) {
        return core::make_error("schema_too_new",
                                "database schema version " + std::to_string(*version) +
                                    " is newer than this hotline supports (" +
                                    std::to_string(current_schema_version()) +
                                    "); upgrade hotline or restore a matching database");
    }
    for (int v = *version + 1; v <= current_schema_version(); ++v) {
        if (auto applied = apply(db, v); !applied) {
            return applied;
        }
    }
    return core::ok();
}

}  // namespace hotline::store::sqlite
