#include "store/sqlite/sms.hpp"

#include <array>

#include "core/random.hpp"
#include "store/sqlite/audit.hpp"
#include "store/sqlite/json_column.hpp"
#include "store/sqlite/timers.hpp"

namespace hotline::store::sqlite {

core::result<core::crypto::key> load_hash_key(connection& db, const sealer& s) {
    if (!s.enabled()) {
        const std::array<unsigned char, core::crypto::key_bytes> fixed{};
        return core::crypto::key::from_bytes(fixed);
    }
    auto existing = meta(db, "hash_key");
    if (!existing) {
        return existing.err();
    }
    if (*existing) {
        auto opened = core::crypto::open(*s.keys(), **existing, hash_key_ad);
        if (!opened) {
            return core::make_error("wrong_key",
                                    "seal_meta.hash_key does not open: " + opened.err().message);
        }
        if (opened->size() != core::crypto::key_bytes) {
            return core::make_error("corrupt", "seal_meta.hash_key has the wrong size");
        }
        return core::crypto::key::from_bytes(
            std::span(reinterpret_cast<const unsigned char*>(opened->data()), opened->size()));
    }
    std::array<unsigned char, core::crypto::key_bytes> raw{};
    core::random_bytes(raw);
    const std::string_view plain(reinterpret_cast<const char*>(raw.data()), raw.size());
    auto q = db.prepare("INSERT INTO seal_meta(name, value) VALUES('hash_key', ?)");
    if (!q) {
        return q.err();
    }
    q->bind_blob(1, core::crypto::seal(*s.keys(), plain, hash_key_ad));
    if (auto ran = q->run(); !ran) {
        return ran.err();
    }
    auto k = core::crypto::key::from_bytes(raw);
    raw.fill(0);
    return k;
}

std::string sms_hash(const core::crypto::key& k, std::string_view purpose, std::string_view value) {
    std::string data(purpose);
    data += '\0';
    data += value;
    return core::crypto::keyed_hash_hex(k, data);
}

std::string sms_parts_subject(std::string_view source, std::string_view group_key) {
    return "sms:" + std::string(source) + ":" + std::string(group_key);
}

namespace {

core::result<std::vector<unsigned>> held_parts(connection& db, std::string_view source,
                                               std::string_view group_key) {
    std::vector<unsigned> parts;
    auto q =
        db.prepare("SELECT part FROM sms_parts WHERE source = ? AND group_key = ? ORDER BY part");
    if (!q) {
        return q.err();
    }
    q->bind(1, source).bind(2, group_key);
    if (auto walked = q->each_row([&] { parts.push_back(static_cast<unsigned>(q->int64(0))); });
        !walked) {
        return walked.err();
    }
    return parts;
}

}  // namespace

core::result<sms_part_added> insert_sms_part(connection& db, const sealer& s, const new_sms_part& p,
                                             std::int64_t now) {
    if (p.source.empty() || p.group_key.empty() || p.total < 2 || p.part == 0 || p.part > p.total) {
        return core::make_error("invalid_argument", "not a part of a concatenated SMS");
    }
    sms_part_added out;
    out.total = p.total;
    auto before = held_parts(db, p.source, p.group_key);
    if (!before) {
        return before.err();
    }
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM sms_parts");
    if (!max_id) {
        return max_id.err();
    }
    const std::int64_t id = *max_id + 1;
    auto q = db.prepare(
        "INSERT INTO sms_parts(id, source, group_key, part, total, text, message_id, "
        "received_at, created_at, meta) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO "
        "NOTHING "
        "RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, id)
        .bind(2, p.source)
        .bind(3, p.group_key)
        .bind(4, static_cast<std::int64_t>(p.part))
        .bind(5, static_cast<std::int64_t>(p.total))
        .bind(7, p.message_id)
        .bind(8, p.received_at > 0 ? p.received_at : now)
        .bind(9, now);
    s.bind(*q, 6, "sms_parts", "text", id, p.text);
    s.bind(*q, 10, "sms_parts", "meta", id, p.meta.empty() ? std::string_view("{}") : p.meta);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    out.duplicate = !*row;
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    auto after = held_parts(db, p.source, p.group_key);
    if (!after) {
        return after.err();
    }
    out.parts = std::move(*after);
    if (!out.duplicate && before->empty()) {
        new_timer t;
        t.due_at = p.timeout_at > 0 ? p.timeout_at : now;
        t.kind = "sms_parts";
        t.subject = sms_parts_subject(p.source, p.group_key);
        t.payload = dump(json{{"source", p.source}, {"group_key", p.group_key}});
        auto ids = insert_timers(db, {t}, {}, now);
        if (!ids) {
            return ids.err();
        }
        out.timer_id = ids->front();
    }
    return out;
}

core::result<std::vector<sms_part>> select_sms_parts(connection& db, const sealer& s,
                                                     std::string_view source,
                                                     std::string_view group_key) {
    std::vector<sms_part> out;
    auto q = db.prepare(
        "SELECT id, part, total, text, message_id, received_at, meta FROM sms_parts "
        "WHERE source = ? AND group_key = ? ORDER BY part");
    if (!q) {
        return q.err();
    }
    q->bind(1, source).bind(2, group_key);
    auto walked = q->each_row([&]() -> core::status {
        const auto id = q->int64(0);
        sms_part p;
        p.part = static_cast<unsigned>(q->int64(1));
        p.total = static_cast<unsigned>(q->int64(2));
        auto text = s.open(*q, 3, "sms_parts", "text", id);
        if (!text) {
            return core::ok();  // counted and logged by the sealer: joined as a missing part
        }
        p.text = std::move(*text);
        p.message_id = q->text(4);
        p.received_at = q->int64(5);
        auto meta = s.open(*q, 6, "sms_parts", "meta", id);
        p.meta = meta ? std::move(*meta) : std::string("{}");
        out.push_back(std::move(p));
        return core::ok();
    });
    if (!walked) {
        return walked.err();
    }
    return out;
}

core::result<std::int64_t> remove_sms_parts(connection& db, std::string_view source,
                                            std::string_view group_key, std::int64_t now) {
    auto q = db.prepare("DELETE FROM sms_parts WHERE source = ? AND group_key = ? RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, source).bind(2, group_key);
    std::int64_t n = 0;
    if (auto walked = q->each_row([&] { ++n; }); !walked) {
        return walked.err();
    }
    if (auto c = cancel_timers(db, sms_parts_subject(source, group_key), "sms_parts", now); !c) {
        return c.err();
    }
    return n;
}

core::result<bool> set_opt_out(connection& db, const sealer& s, const std::string& key,
                               std::string_view number, std::string_view responder,
                               std::int64_t now) {
    auto max_id = scalar(db, "SELECT IFNULL(MAX(id), 0) FROM sms_opt_outs");
    if (!max_id) {
        return max_id.err();
    }
    const std::int64_t id = *max_id + 1;
    auto q = db.prepare(
        "INSERT INTO sms_opt_outs(id, number_key, number, responder, created_at) "
        "VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, id).bind(2, key).bind(4, responder).bind(5, now);
    s.bind(*q, 3, "sms_opt_outs", "number", id, number);
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    const bool inserted = *row;
    if (auto rest = q->run(); !rest) {
        return rest.err();
    }
    audit_event e;
    e.at = now;
    e.actor = "sms";
    e.kind = inserted ? "sms_opt_out" : "sms_opt_out_repeated";
    e.detail = {{"responder", std::string(responder)}};
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    return inserted;
}

core::result<bool> clear_opt_out(connection& db, const std::string& key, std::string_view responder,
                                 std::int64_t now) {
    auto q = db.prepare("DELETE FROM sms_opt_outs WHERE number_key = ? RETURNING id");
    if (!q) {
        return q.err();
    }
    q->bind(1, key);
    std::int64_t n = 0;
    if (auto walked = q->each_row([&] { ++n; }); !walked) {
        return walked.err();
    }
    audit_event e;
    e.at = now;
    e.actor = "sms";
    e.kind = n > 0 ? "sms_opt_in" : "sms_opt_in_repeated";
    e.detail = {{"responder", std::string(responder)}};
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    return n > 0;
}

core::result<std::vector<sms_opt_out>> select_opt_outs(connection& db, const sealer& s) {
    std::vector<sms_opt_out> out;
    auto q = db.prepare("SELECT id, number, responder, created_at FROM sms_opt_outs ORDER BY id");
    if (!q) {
        return q.err();
    }
    auto walked = q->each_row([&]() -> core::status {
        const auto id = q->int64(0);
        auto number = s.open(*q, 1, "sms_opt_outs", "number", id);
        if (!number) {
            return core::ok();  // counted and logged by the sealer; the rest still load
        }
        out.push_back(sms_opt_out{std::move(*number), q->text(2), q->int64(3)});
        return core::ok();
    });
    if (!walked) {
        return walked.err();
    }
    return out;
}

}  // namespace hotline::store::sqlite
