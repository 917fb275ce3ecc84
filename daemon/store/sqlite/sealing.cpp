#include "store/sqlite/sealing.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace hotline::store::sqlite {
namespace {

constexpr std::string_view canary_text = "hotline sealed canary v1";
constexpr const char* canary_ad = "seal_meta.canary";
constexpr std::int64_t seal_batch_rows = 1000;

core::result<bool> has_seal_meta(connection& db) {
    auto q = db.prepare(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'seal_meta'");
    if (!q) {
        return q.err();
    }
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    return *row && q->int64(0) > 0;
}

std::vector<const char*> columns_of(const sealed_table& t) {
    std::vector<const char*> out;
    for (const char* c : t.columns) {
        if (c != nullptr) {
            out.push_back(c);
        }
    }
    return out;
}

// Seals the clear values of one table, a thousand rows at a time (inside the caller's
// transaction, so memory stays bounded on a big database).
core::status seal_table(connection& db, const sealer& s, const sealed_table& t) {
    const auto cols = columns_of(t);
    std::string select = "SELECT id";
    std::string clear;
    for (const char* c : cols) {
        select += std::string(", ") + c;
        clear += std::string(clear.empty() ? "" : " OR ") + "typeof(" + c + ") = 'text'";
    }
    select += std::string(" FROM ") + t.table + " WHERE id > ? AND (" + clear +
              ") ORDER BY id LIMIT " + std::to_string(seal_batch_rows);
    std::int64_t after = 0;
    std::size_t sealed = 0;
    for (;;) {
        struct pending {
            std::int64_t id;
            std::vector<std::optional<std::string>> values;  // nullopt = already sealed
        };
        std::vector<pending> rows;
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
                pending p{q->int64(0), {}};
                for (std::size_t i = 0; i < cols.size(); ++i) {
                    const int index = static_cast<int>(i) + 1;
                    p.values.push_back(q->is_blob(index) ? std::nullopt
                                                         : std::optional(q->text(index)));
                }
                rows.push_back(std::move(p));
            }
        }
        if (rows.empty()) {
            break;
        }
        for (const auto& p : rows) {
            for (std::size_t i = 0; i < cols.size(); ++i) {
                if (!p.values[i]) {
                    continue;
                }
                const auto sql =
                    std::string("UPDATE ") + t.table + " SET " + cols[i] + " = ? WHERE id = ?";
                auto u = db.prepare(sql.c_str());
                if (!u) {
                    return u.err();
                }
                s.bind(*u, 1, t.table, cols[i], p.id, *p.values[i]);
                u->bind(2, p.id);
                if (auto done = u->run(); !done) {
                    return done;
                }
            }
            ++sealed;
        }
        after = rows.back().id;
    }
    if (sealed > 0) {
        spdlog::info("store: sealed {} {} rows written before sealing", sealed, t.table);
    }
    return core::ok();
}

}  // namespace

core::result<std::optional<std::string>> meta(connection& db, const char* name) {
    auto q = db.prepare("SELECT value FROM seal_meta WHERE name = ?");
    if (!q) {
        return q.err();
    }
    q->bind(1, std::string_view(name));
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<std::string>{};
    }
    return std::optional<std::string>(q->bytes(0));
}

std::string associated_data(const char* table, const char* column, std::int64_t id) {
    std::string ad(table);
    ad += '.';
    ad += column;
    ad += ':';
    ad += std::to_string(id);
    return ad;
}

sealer::sealer(std::shared_ptr<const core::crypto::keyring> keys, core::metrics* metrics)
    : keys_(std::move(keys)), metrics_(metrics) {}

void sealer::describe_metrics() const {
    if (metrics_ != nullptr) {
        metrics_->describe_counter(unreadable_metric,
                                   "Stored values that failed to open (corrupt on disk), by table");
    }
}

void sealer::bind(query& q, int index, const char* table, const char* column, std::int64_t id,
                  std::string_view plain) const {
    if (!keys_) {
        q.bind(index, plain);
        return;
    }
    q.bind_blob(index, core::crypto::seal(*keys_, plain, associated_data(table, column, id)));
}

core::result<std::string> sealer::open(const query& q, int index, const char* table,
                                       const char* column, std::int64_t id) const {
    if (!q.is_blob(index)) {
        return q.text(index);
    }
    if (keys_) {
        auto opened =
            core::crypto::open(*keys_, q.bytes(index), associated_data(table, column, id));
        if (opened) {
            return opened;
        }
        spdlog::error("store: unreadable row table={} id={} column={}: {}", table, id, column,
                      opened.err().message);
    } else {
        spdlog::error("store: unreadable row table={} id={} column={}: sealed, and no key loaded",
                      table, id, column);
    }
    if (metrics_ != nullptr) {
        metrics_->counter_add(unreadable_metric, {{"table", table}});
    }
    return core::make_error("unreadable", std::string(table) + " row " + std::to_string(id) +
                                              " is unreadable: its " + column +
                                              " failed to open (corrupt on disk?)");
}

core::status check_key(connection& db, const sealer& s) {
    auto present = has_seal_meta(db);
    if (!present) {
        return present.err();
    }
    if (!*present) {
        return core::ok();
    }
    auto target = meta(db, "rekey_target");
    if (!target) {
        return target.err();
    }
    if (*target) {
        return core::make_error(
            "rekey_incomplete",
            "a rekey to key id " + **target +
                " was interrupted; run `hotlinectl rekey --config FILE --new-key FILE` again "
                "with the same new key to finish it (docs/operations.md)");
    }
    auto canary = meta(db, "canary");
    if (!canary) {
        return canary.err();
    }
    if (!*canary) {
        return core::ok();
    }
    if (!s.enabled()) {
        return core::make_error("wrong_key", "this database is sealed and no key is loaded");
    }
    auto opened = core::crypto::open(*s.keys(), **canary, canary_ad);
    if (opened && *opened == canary_text) {
        return core::ok();
    }
    if (!core::crypto::looks_sealed(**canary)) {
        return core::make_error("corrupt", "the key check value in seal_meta is damaged");
    }
    const auto sealed_under = core::crypto::to_hex(core::crypto::sealed_key_id(**canary));
    return core::make_error(
        "wrong_key", "storage key " + s.keys()->current().id_hex() +
                         " does not open this database: it is sealed under key id " + sealed_under +
                         "; point storage.key_file at that key (e.g. from the backup made with "
                         "the database). Nothing was changed");
}

core::status seal_existing(connection& db, const sealer& s) {
    if (!s.enabled()) {
        return core::ok();
    }
    if (auto existing = meta(db, "canary"); !existing) {
        return existing.err();
    } else if (*existing) {
        return core::ok();
    }
    if (auto begin = db.exec("BEGIN IMMEDIATE"); !begin) {
        return begin;
    }
    core::status step = core::ok();
    for (const auto& t : sealed_tables) {
        step = seal_table(db, s, t);
        if (!step) {
            break;
        }
    }
    if (step) {
        auto q = db.prepare("INSERT OR REPLACE INTO seal_meta(name, value) VALUES('canary', ?)");
        step = q ? core::status(core::ok()) : core::status(q.err());
        if (step) {
            q->bind_blob(1, core::crypto::seal(*s.keys(), canary_text, canary_ad));
            step = q->run();
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
        err.message = "sealing the existing rows failed: " + err.message;
        return err;
    }
    return core::ok();
}

std::string canary_value(const core::crypto::keyring& keys) {
    return core::crypto::seal(keys, canary_text, canary_ad);
}

core::result<db_lock> db_lock::acquire(const std::string& db_path) {
    const auto path = db_path + ".lock";
    db_lock lock;
    lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.fd_ < 0) {
        return core::make_error(
            "readonly", "cannot open the lock file: " + std::string(std::strerror(errno)), path);
    }
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        if (e == EWOULDBLOCK) {
            return core::make_error("locked",
                                    "the database is in use by another process (hotlined, or "
                                    "hotlinectl rekey); stop it first",
                                    path);
        }
        return core::make_error("storage", "cannot lock: " + std::string(std::strerror(e)), path);
    }
    return lock;
}

db_lock::db_lock(db_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

db_lock& db_lock::operator=(db_lock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

db_lock::~db_lock() {
    if (fd_ >= 0) {
        ::close(fd_);  // releases the flock
    }
}

}  // namespace hotline::store::sqlite
