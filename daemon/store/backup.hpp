// An online copy of the store (hotlinectl backup): SQLite's backup API, in one step under
// one read transaction, so the copy is one consistent snapshot while hotlined keeps
// writing (WAL: the reader does not block the writer). Pages are copied as they are, so
// the copy stays sealed: it is useless without the storage key, which it does not contain.
#pragma once
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace hotline::store {

struct backup_options {
    std::string path;  // the live database
    std::string to;    // the copy to write; must not exist
    int busy_timeout_ms{5000};
};

struct backup_report {
    std::int64_t pages{};
    std::int64_t bytes{};
    std::int64_t reports{};  // rows of the copy
    std::int64_t notifications{};
    std::string key_id;  // hex id of the key the copy is sealed under; empty if not sealed
};

// Writes `to` (mode 0600) through "<to>.partial", checks the copy (PRAGMA quick_check),
// fsyncs it and renames it into place, so `to` is either absent or a whole, checked copy.
// Error codes: "not_found" (no database at path), "exists" (`to` exists), "storage" (the
// copy could not be written or failed its check), and the store's storage errors.
[[nodiscard]] core::result<backup_report> backup(const backup_options& opts);

}  // namespace hotline::store
