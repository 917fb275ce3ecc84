#include "store/sqlite/outbox.hpp"

#include "core/random.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

#include "domain/severity.hpp"
#include "store/sqlite/json_column.hpp"

namespace hotline::store::sqlite {
namespace {

using domain::notification;
using domain::notification_status;

notification_status status_from(const std::string& s) {
    if (s == "delivered") {
        return notification_status::delivered;
    }
    if (s == "failed") {
        return notification_status::failed;
    }
    if (s == "dead") {
        return notification_status::dead;
    }
    return notification_status::pending;
}

// Stable per notification and unguessable (a receiver may use it as a dedup key). The
// zero-padded id in front keeps inserts into the UNIQUE index at its right edge: a fully
// random key dirties one random index page per notification, which multiplied the WAL
// bytes per commit. Shape: "hl-" + 12 hex digits of the id + 32 random hex digits.
std::string new_idempotency_key(std::int64_t notification_id) {
    const auto hex = core::random_hex(16);
    char id_hex[13];
    std::snprintf(id_hex, sizeof id_hex, "%012llx",
                  static_cast<unsigned long long>(notification_id) & 0xffffffffffffULL);
    return std::string("hl-") + id_hex + hex;
}

// The clear rank the due scan orders by (0 = critical): the payload's severity, which
// the planner sets on every alert and dead letter; "normal" when it has none.
std::int64_t severity_rank_of(const json& payload) {
    const auto it = payload.find("severity");
    const std::string_view severity = it != payload.end() && it->is_string()
                                          ? std::string_view(it->get_ref<const std::string&>())
                                          : domain::default_severity;
    return static_cast<std::int64_t>(domain::severity_rank(severity));
}

// Columns of a notification row, in the order read_notification expects.
#define HOTLINE_NOTIFICATION_COLUMNS                                                       \
    "id, report_id, case_id, channel, address, target, contact_index, language, payload, " \
    "idempotency_key, attempts, next_attempt_at, created_at, last_error, status, provider_id"

// "unreadable" when the sealed address or payload does not open.
core::result<notification> read_notification(const query& q, const sealer& s) {
    notification n;
    n.id = q.int64(0);
    n.report_id = q.int64(1);
    n.case_id = q.int64(2);
    n.channel = q.text(3);
    auto address = s.open(q, 4, "notifications", "address", n.id);
    if (!address) {
        return address.err();
    }
    n.address = std::move(*address);
    n.target = q.text(5);
    n.contact_index = static_cast<int>(q.int64(6));
    n.language = q.text(7);
    auto payload = s.open(q, 8, "notifications", "payload", n.id);
    if (!payload) {
        return payload.err();
    }
    n.payload = json::parse(*payload, nullptr, false);
    if (n.payload.is_discarded()) {
        // Only a hand-edited row gets here; keep the job moving rather than block the outbox.
        spdlog::warn("store: notification payload is not valid JSON notification_id={}", n.id);
        n.payload = json::object();
    }
    n.idempotency_key = q.text(9);
    n.attempts = static_cast<int>(q.int64(10));
    n.next_attempt_at = q.int64(11);
    n.created_at = q.int64(12);
    n.last_error = q.text(13);
    n.status = status_from(q.text(14));
    n.provider_id = q.text(15);
    return n;
}

}  // namespace

// Ids are allocated up front (the writer holds the write lock) so the payload can carry
// its own notification_id in one INSERT.
core::result<std::vector<notification>> insert_notifications(
    connection& db, const sealer& s, std::int64_t report_id, std::int64_t case_id,
    const std::vector<domain::planned_notification>& planned, std::int64_t next_attempt_at,
    std::int64_t now) {
    std::vector<notification> stored;
    if (planned.empty()) {
        return stored;
    }
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM notifications");
    if (!max_id) {
        return max_id.err();
    }
    std::int64_t next_id = *max_id + 1;
    stored.reserve(planned.size());
    for (const auto& p : planned) {
        notification n;
        n.id = next_id++;
        n.report_id = report_id;
        n.case_id = case_id;
        n.channel = p.channel;
        n.address = p.address;
        n.target = p.target;
        n.contact_index = p.contact_index;
        n.language = p.language;
        n.payload = p.payload.is_null() ? json::object() : p.payload;
        if (!n.payload.is_object()) {
            return core::make_error("bad_payload", "notification payload must be an object");
        }
        // The schema's CHECK(length(address) > 0) cannot see through the seal.
        if (n.address.empty()) {
            return core::make_error("constraint", "notification address is empty");
        }
        n.payload["report_id"] = report_id;
        n.payload["case_id"] = case_id;
        n.payload["notification_id"] = n.id;
        n.idempotency_key = new_idempotency_key(n.id);
        n.next_attempt_at = next_attempt_at;
        n.created_at = now;
        auto q = db.prepare(
            "INSERT INTO notifications(id, report_id, case_id, channel, address, target, "
            "contact_index, language, payload, idempotency_key, attempts, next_attempt_at, "
            "created_at, status, updated_at, severity_rank) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 'pending', ?, ?)");
        if (!q) {
            return q.err();
        }
        q->bind(1, n.id)
            .bind(2, report_id)
            .bind(3, case_id)
            .bind(4, n.channel)
            .bind(6, n.target)
            .bind(7, static_cast<std::int64_t>(n.contact_index))
            .bind(8, n.language)
            .bind(10, n.idempotency_key)
            .bind(11, n.next_attempt_at)
            .bind(12, now)
            .bind(13, now)
            .bind(14, severity_rank_of(n.payload));
        s.bind(*q, 5, "notifications", "address", n.id, n.address);
        s.bind(*q, 9, "notifications", "payload", n.id, dump(n.payload));
        if (auto done = q->run(); !done) {
            return done.err();
        }
        stored.push_back(std::move(n));
    }
    return stored;
}

core::result<std::optional<outbox_row>> find_notification(connection& db, std::int64_t id) {
    auto q = db.prepare(
        "SELECT report_id, case_id, status, attempts, next_attempt_at "
        "FROM notifications WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, id);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<outbox_row>{};
    }
    outbox_row r;
    r.report_id = q->int64(0);
    r.case_id = q->int64(1);
    r.pending = q->text(2) == "pending";
    r.attempts = q->int64(3);
    r.next_attempt_at = q->int64(4);
    return std::optional<outbox_row>(r);
}

core::status mark_delivered(connection& db, std::int64_t id, std::int64_t attempts,
                            std::string_view provider_id, std::int64_t now) {
    auto q = db.prepare(
        "UPDATE notifications SET status = 'delivered', attempts = ?, provider_id = ?, "
        "last_error = NULL, updated_at = ? WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, attempts).bind_optional(2, provider_id).bind(3, now).bind(4, id);
    return q->run();
}

core::status mark_sms(connection& db, std::int64_t id, std::string_view encoding,
                      std::int64_t segments) {
    auto q = db.prepare("UPDATE notifications SET sms_encoding = ?, sms_segments = ? WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, encoding).bind(2, segments).bind(3, id);
    return q->run();
}

core::status mark_retry(connection& db, std::int64_t id, std::int64_t attempts,
                        std::int64_t next_attempt_at, std::string_view error, std::int64_t now) {
    auto q = db.prepare(
        "UPDATE notifications SET attempts = ?, next_attempt_at = ?, last_error = ?, "
        "updated_at = ? WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, attempts).bind(2, next_attempt_at).bind_optional(3, error).bind(4, now).bind(5, id);
    return q->run();
}

core::status mark_failed(connection& db, std::int64_t id, bool dead, std::int64_t attempts,
                         std::string_view error, std::int64_t now) {
    auto q = db.prepare(
        "UPDATE notifications SET status = ?, attempts = ?, last_error = ?, "
        "updated_at = ? WHERE id = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, std::string_view(dead ? "dead" : "failed"))
        .bind(2, attempts)
        .bind_optional(3, error)
        .bind(4, now)
        .bind(5, id);
    return q->run();
}

namespace {

// Up to `want` rows of one channel and severity, oldest due first, skipping the excluded
// ones before their sealed columns are opened.
core::status select_range(connection& db, const sealer& s, std::int64_t now,
                          const std::string& channel, std::int64_t rank, std::size_t want,
                          const std::unordered_set<std::int64_t>& exclude,
                          std::vector<notification>& out, std::vector<std::int64_t>& unreadable) {
    auto q = db.prepare("SELECT " HOTLINE_NOTIFICATION_COLUMNS
                        " FROM notifications WHERE status = 'pending' AND channel = ? AND "
                        "severity_rank = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id");
    if (!q) {
        return q.err();
    }
    q->bind(1, channel).bind(2, rank).bind(3, now);
    std::size_t got = 0;
    while (got < want) {
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            break;
        }
        if (exclude.contains(q->int64(0))) {
            continue;
        }
        if (auto n = read_notification(*q, s)) {
            out.push_back(std::move(*n));
            ++got;
        } else {
            unreadable.push_back(q->int64(0));
        }
    }
    return core::ok();
}

// The channels with pending rows: one walk of the index prefix, no table rows.
core::result<std::vector<std::string>> pending_channels(connection& db) {
    auto q = db.prepare("SELECT DISTINCT channel FROM notifications WHERE status = 'pending'");
    if (!q) {
        return q.err();
    }
    std::vector<std::string> out;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return out;
        }
        out.push_back(q->text(0));
    }
}

}  // namespace

core::result<std::vector<notification>> select_due(connection& db, const sealer& s,
                                                   std::int64_t now, const due_selection& sel) {
    std::vector<notification> out;
    if (sel.limit == 0) {
        return out;
    }
    std::vector<std::string> channels;
    if (!sel.channel.empty()) {
        channels.push_back(sel.channel);
    } else {
        auto found = pending_channels(db);
        if (!found) {
            return found.err();
        }
        for (auto& c : *found) {
            if (!sel.skip_channels.contains(c)) {
                channels.push_back(std::move(c));
            }
        }
    }
    std::vector<std::int64_t> unreadable;
    for (std::int64_t rank = 0;
         rank <= static_cast<std::int64_t>(domain::severities.size()) && out.size() < sel.limit;
         ++rank) {
        // Within a severity, channels merge by due time: each gives at most what is left.
        const auto first = out.size();
        const auto want = sel.limit - first;
        for (const auto& channel : channels) {
            if (auto r =
                    select_range(db, s, now, channel, rank, want, sel.exclude, out, unreadable);
                !r) {
                return r.err();
            }
        }
        const auto begin = out.begin() + static_cast<std::ptrdiff_t>(first);
        std::sort(begin, out.end(), [](const notification& a, const notification& b) {
            return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                          : a.id < b.id;
        });
        if (out.size() > sel.limit) {
            out.resize(sel.limit);
        }
    }
    for (const auto id : unreadable) {
        // It can never be sent: settle it, so it neither blocks the outbox nor is retried.
        // No admin dead-letter alert is raised for it (the error log and metric are the alert).
        auto u = db.prepare(
            "UPDATE notifications SET status = 'dead', last_error = ?, updated_at = ? "
            "WHERE id = ? AND status = 'pending'");
        if (!u) {
            return u.err();
        }
        u->bind(1, std::string_view(unreadable_error)).bind(2, now).bind(3, id);
        if (auto done = u->run(); !done) {
            return done.err();
        }
        spdlog::error("store: notification_id={} is unreadable, marked dead", id);
    }
    return out;
}

core::result<std::optional<std::int64_t>> next_due(connection& db) {
    return optional_scalar(
        db, "SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'pending'");
}

core::result<std::vector<notification>> notifications_for_report(connection& db, const sealer& s,
                                                                 std::int64_t report_id) {
    auto q = db.prepare("SELECT " HOTLINE_NOTIFICATION_COLUMNS
                        " FROM notifications WHERE report_id = ? ORDER BY id");
    if (!q) {
        return q.err();
    }
    q->bind(1, report_id);
    std::vector<notification> out;
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return out;
        }
        if (auto n = read_notification(*q, s)) {
            out.push_back(std::move(*n));
        }
    }
}

core::result<status_counts> count_by_status(connection& db) {
    status_counts s;
    auto q = db.prepare("SELECT status, COUNT(*) FROM notifications GROUP BY status");
    if (!q) {
        return q.err();
    }
    for (;;) {
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row) {
            return s;
        }
        const auto n = q->int64(1);
        switch (status_from(q->text(0))) {
            case notification_status::pending: s.pending = n; break;
            case notification_status::delivered: s.delivered = n; break;
            case notification_status::failed: s.failed = n; break;
            case notification_status::dead: s.dead = n; break;
        }
    }
}

core::result<outbox_gauges> read_outbox_gauges(connection& db, std::int64_t now) {
    outbox_gauges g;
    auto pending = scalar(db, "SELECT COUNT(*) FROM notifications WHERE status = 'pending'");
    if (!pending) {
        return pending.err();
    }
    g.pending = *pending;
    auto q = db.prepare(
        "SELECT IFNULL(MIN(next_attempt_at), 0) FROM notifications "
        "WHERE status = 'pending' AND next_attempt_at <= ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, now);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    g.oldest_due_at = *row ? q->int64(0) : 0;
    return g;
}

}  // namespace hotline::store::sqlite
