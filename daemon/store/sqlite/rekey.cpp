#include "store/rekey.hpp"

#include <filesystem>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/sealing.hpp"
#include "store/sqlite/sms.hpp"

namespace hotline::store {
namespace {

using sqlite::connection;

using sqlite::meta;

// Runs `body` in one write transaction.
template <class Body>
core::status in_transaction(connection& db, Body body) {
    if (auto begin = db.exec("BEGIN IMMEDIATE"); !begin) {
        return begin;
    }
    core::status step = body();
    if (step) {
        step = db.exec("COMMIT");
    }
    if (!step && db.in_transaction()) {
        (void)db.exec("ROLLBACK");
    }
    return step;
}

struct row_values {
    std::int64_t id{};
    std::vector<std::optional<std::string>> values;  // nullopt: NULL
    std::vector<bool> sealed;
};

// One batch of one table: rows with id > after, re-sealed in one transaction. Returns the
// last id seen, or 0 when the table is done.
core::result<std::int64_t> rekey_batch(connection& db, const sqlite::sealer& s,
                                       const sqlite::sealed_table& t, std::int64_t after,
                                       std::size_t limit, rekey_report& report) {
    std::vector<const char*> cols;
    for (const char* c : t.columns) {
        if (c != nullptr) {
            cols.push_back(c);
        }
    }
    std::string select = "SELECT id";
    for (const char* c : cols) {
        select += std::string(", ") + c;
    }
    select += std::string(" FROM ") + t.table + " WHERE id > ? ORDER BY id LIMIT " +
              std::to_string(limit);
    const auto& ring = *s.keys();
    const auto new_id = ring.current().id();
    std::int64_t last = 0;
    auto done = in_transaction(db, [&]() -> core::status {
        std::vector<row_values> rows;
        {
            auto q = db.prepare(select.c_str());
            if (!q) {
                return q.err();
            }
            q->bind(1, after);
            for (;;) {
                auto row = q->step();
                if (!row) {
                    return row.err();
                }
                if (!*row) {
                    break;
                }
                row_values r;
                r.id = q->int64(0);
                for (std::size_t i = 0; i < cols.size(); ++i) {
                    const int index = static_cast<int>(i) + 1;
                    const bool blob = q->is_blob(index);
                    r.sealed.push_back(blob);
                    r.values.push_back(
                        q->is_null(index) ? std::nullopt
                                          : std::optional(blob ? q->bytes(index) : q->text(index)));
                }
                rows.push_back(std::move(r));
            }
        }
        for (const auto& r : rows) {
            for (std::size_t i = 0; i < cols.size(); ++i) {
                if (!r.values[i]) {
                    continue;
                }
                const auto& value = *r.values[i];
                std::string plain;
                if (r.sealed[i]) {
                    if (core::crypto::looks_sealed(value) &&
                        core::crypto::sealed_key_id(value) == new_id) {
                        ++report.already;
                        continue;
                    }
                    auto opened = core::crypto::open(
                        ring, value, sqlite::associated_data(t.table, cols[i], r.id));
                    if (!opened) {
                        spdlog::error("rekey: unreadable row table={} id={} column={}: {}", t.table,
                                      r.id, cols[i], opened.err().message);
                        ++report.unreadable;
                        continue;
                    }
                    plain = std::move(*opened);
                } else {
                    plain = value;  // clear text from before sealing
                }
                const auto sql =
                    std::string("UPDATE ") + t.table + " SET " + cols[i] + " = ? WHERE id = ?";
                auto u = db.prepare(sql.c_str());
                if (!u) {
                    return u.err();
                }
                s.bind(*u, 1, t.table, cols[i], r.id, plain);
                u->bind(2, r.id);
                if (auto ran = u->run(); !ran) {
                    return ran;
                }
                ++report.resealed;
            }
        }
        last = rows.empty() ? 0 : rows.back().id;
        return core::ok();
    });
    if (!done) {
        return done.err();
    }
    return last;
}

core::status configure(connection& db, int busy_timeout_ms) {
    sqlite3_busy_timeout(db.get(), busy_timeout_ms);
    // Old ciphertext in freed pages would still open with the old key: overwrite it.
    for (const char* pragma :
         {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA secure_delete = ON"}) {
        auto q = db.prepare(pragma);
        if (!q) {
            return q.err();
        }
        if (auto ran = q->run(); !ran) {
            return ran;
        }
    }
    return core::ok();
}

}  // namespace

core::result<rekey_report> rekey(const rekey_options& opts) {
    if (!opts.keys) {
        return core::make_error("config", "rekey needs the old and the new key");
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(opts.path, ec)) {
        return core::make_error("not_found", "no database file", opts.path);
    }
    auto lock = sqlite::db_lock::acquire(opts.path);
    if (!lock) {
        return lock.err();
    }
    auto db = connection::open(opts.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!db) {
        return db.err();
    }
    if (auto c = configure(*db, opts.busy_timeout_ms); !c) {
        return c.err();
    }
    const sqlite::sealer s(opts.keys);
    const auto& ring = *opts.keys;
    const auto new_hex = ring.current().id_hex();
    {
        auto q = db->prepare(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'seal_meta'");
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row || q->int64(0) == 0) {
            return core::make_error("not_sealed",
                                    "this database is not sealed yet: start hotlined once with "
                                    "the current key, then rekey",
                                    opts.path);
        }
    }
    // The sealed columns are those of the current schema: an older database (an upgrade
    // not yet started once) lacks some, and re-sealing half of it helps nobody.
    if (auto version = sqlite::scalar(*db, "PRAGMA user_version"); !version) {
        return version.err();
    } else if (*version < sqlite::current_schema_version()) {
        return core::make_error("schema_old",
                                "this database has schema version " + std::to_string(*version) +
                                    "; start hotlined of this version once (it migrates the "
                                    "database), then rekey",
                                opts.path);
    }
    auto target = meta(*db, "rekey_target");
    if (!target) {
        return target.err();
    }
    if (*target && **target != new_hex) {
        return core::make_error("rekey_incomplete",
                                "an interrupted rekey to key id " + **target +
                                    " must be finished first (run it again with that key)",
                                opts.path);
    }
    auto canary = meta(*db, "canary");
    if (!canary) {
        return canary.err();
    }
    if (!*canary) {
        return core::make_error("not_sealed",
                                "this database has no key check value yet: start hotlined once "
                                "with the current key, then rekey",
                                opts.path);
    }
    if (!core::crypto::open(ring, **canary, "seal_meta.canary")) {
        return core::make_error(
            "wrong_key",
            "neither the configured key nor the new key opens this database (it is sealed under "
            "key id " +
                core::crypto::to_hex(core::crypto::sealed_key_id(**canary)) + ")",
            opts.path);
    }
    if (!*target) {
        if (core::crypto::sealed_key_id(**canary) == ring.current().id()) {
            spdlog::info("rekey: the database is already sealed under key id {}", new_hex);
        }
        auto marked = in_transaction(*db, [&]() -> core::status {
            auto q = db->prepare(
                "INSERT OR REPLACE INTO seal_meta(name, value) VALUES('rekey_target', ?)");
            if (!q) {
                return q.err();
            }
            q->bind_blob(1, new_hex);
            return q->run();
        });
        if (!marked) {
            return marked.err();
        }
    }
    rekey_report report;
    const auto limit = opts.batch_rows == 0 ? std::size_t{1} : opts.batch_rows;
    for (const auto& t : sqlite::sealed_tables) {
        std::int64_t after = 0;
        for (;;) {
            auto last = rekey_batch(*db, s, t, after, limit, report);
            if (!last) {
                return last.err();
            }
            if (*last == 0) {
                break;
            }
            after = *last;
            if (opts.after_batch) {
                opts.after_batch(report.resealed);
            }
        }
    }
    auto finished = in_transaction(*db, [&]() -> core::status {
        // The SMS hash key (store/sqlite/sms.hpp) keeps its value: only its seal changes.
        auto hash_key = sqlite::meta(*db, "hash_key");
        if (!hash_key) {
            return hash_key.err();
        }
        if (*hash_key && !(core::crypto::looks_sealed(**hash_key) &&
                           core::crypto::sealed_key_id(**hash_key) == ring.current().id())) {
            auto plain = core::crypto::open(ring, **hash_key, sqlite::hash_key_ad);
            if (!plain) {
                return plain.err();
            }
            auto h = db->prepare("UPDATE seal_meta SET value = ? WHERE name = 'hash_key'");
            if (!h) {
                return h.err();
            }
            h->bind_blob(1, core::crypto::seal(ring, *plain, sqlite::hash_key_ad));
            if (auto ran = h->run(); !ran) {
                return ran;
            }
        }
        auto q = db->prepare("INSERT OR REPLACE INTO seal_meta(name, value) VALUES('canary', ?)");
        if (!q) {
            return q.err();
        }
        q->bind_blob(1, sqlite::canary_value(ring));
        if (auto ran = q->run(); !ran) {
            return ran;
        }
        auto d = db->prepare("DELETE FROM seal_meta WHERE name = 'rekey_target'");
        if (!d) {
            return d.err();
        }
        return d->run();
    });
    if (!finished) {
        return finished.err();
    }
    // Fold the WAL (which holds the old ciphertext of every re-sealed page) into the file.
    (void)db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return report;
}

}  // namespace hotline::store
