// Sealing at rest for the SQLite store: which columns are sealed, how a value is bound to
// its place (associated data "<table>.<column>:<row id>"), the key check at open (a sealed
// canary in seal_meta), sealing the clear rows of a database written before sealing, and
// rekeying. docs/operations.md says what is sealed and what stays in clear.
//
// Every column that holds what an outsider sent or whom we notify goes through
// sealer::bind/open; a new one is one more entry in sealed_tables and a bind() call where
// its INSERT is built (an empty value may go in as clear empty text: it tells nothing).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"

namespace hotline::core {
class metrics;
}

namespace hotline::store::sqlite {

struct sealed_table {
    const char* table;
    std::array<const char*, 6> columns;  // nullptr-terminated when shorter
};

// Report contents (a mail's details and raw bytes, its attachments' names, types, hashes
// and bytes included) and who is notified where; ids, times, statuses, severities, channel
// names, targets, routes, case labels (from the config), dedup keys (hashes), attachment
// sizes and source cursors stay in clear for the indexes.
// The held parts of a concatenated SMS, the opted-out responder numbers and case notes too,
// and a silence's matchers and comment.
inline constexpr std::array<sealed_table, 7> sealed_tables{{
    {"reports", {"sender", "subject", "text", "labels", "details", "raw"}},
    {"notifications", {"address", "payload", nullptr, nullptr, nullptr, nullptr}},
    {"attachments", {"file_name", "content_type", "sha256", "bytes", nullptr, nullptr}},
    {"sms_parts", {"text", "meta", nullptr, nullptr, nullptr, nullptr}},
    {"sms_opt_outs", {"number", nullptr, nullptr, nullptr, nullptr, nullptr}},
    {"case_notes", {"text", nullptr, nullptr, nullptr, nullptr, nullptr}},
    {"silences", {"matchers", "comment", nullptr, nullptr, nullptr, nullptr}},
}};

inline constexpr const char* unreadable_metric = "hotline_store_unreadable_total";

// What an unreadable notification's last_error says; no contents, no key material.
inline constexpr const char* unreadable_error = "unreadable: sealed value failed authentication";

class sealer {
public:
    // Null keys: values are stored in clear (benchmarks and tests only; never from YAML).
    explicit sealer(std::shared_ptr<const core::crypto::keyring> keys,
                    core::metrics* metrics = nullptr);

    [[nodiscard]] bool enabled() const noexcept { return keys_ != nullptr; }
    [[nodiscard]] const core::crypto::keyring* keys() const noexcept { return keys_.get(); }

    // Binds `plain` for table.column of row `id` at `index`: sealed as a BLOB, or as TEXT
    // when sealing is off.
    void bind(query& q, int index, const char* table, const char* column, std::int64_t id,
              std::string_view plain) const;

    // Reads table.column of row `id` from result column `index`. A clear TEXT value (a row
    // from before sealing, or sealing off) comes back as it is. Errors: "unreadable" (it does
    // not open: corrupt, or sealed under a key that is not loaded), after counting it in
    // hotline_store_unreadable_total and logging the table, row id and column.
    [[nodiscard]] core::result<std::string> open(const query& q, int index, const char* table,
                                                 const char* column, std::int64_t id) const;

    // Declares the unreadable counter (once, when the store opens).
    void describe_metrics() const;

private:
    std::shared_ptr<const core::crypto::keyring> keys_;
    core::metrics* metrics_;
};

[[nodiscard]] std::string associated_data(const char* table, const char* column, std::int64_t id);

// Before migrations: fails (and writes nothing) when the database records a canary that the
// current key does not open (code "wrong_key"), or an interrupted rekey (code
// "rekey_incomplete"). A database without seal_meta, or without a canary, passes.
[[nodiscard]] core::status check_key(connection& db, const sealer& s);

// After migrations, when no canary is recorded yet: in one transaction, seals every clear
// value of the sealed columns and records the canary under the current key.
[[nodiscard]] core::status seal_existing(connection& db, const sealer& s);

// The value of a seal_meta row (e.g. "canary", "rekey_target"), if any.
[[nodiscard]] core::result<std::optional<std::string>> meta(connection& db, const char* name);

// The canary value for seal_meta, sealed under the ring's current key (rekey records it last).
[[nodiscard]] std::string canary_value(const core::crypto::keyring& keys);

// An exclusive advisory lock on "<db>.lock" (flock, non-blocking), held by an open store and
// by a rekey so that the two never run at once. Error code "locked".
class db_lock {
public:
    [[nodiscard]] static core::result<db_lock> acquire(const std::string& db_path);
    db_lock() = default;
    db_lock(db_lock&& other) noexcept;
    db_lock& operator=(db_lock&& other) noexcept;
    db_lock(const db_lock&) = delete;
    db_lock& operator=(const db_lock&) = delete;
    ~db_lock();

private:
    int fd_{-1};
};

}  // namespace hotline::store::sqlite
