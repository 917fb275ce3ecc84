// Re-sealing a store under a new key (hotlinectl rekey). Resumable: values already under the
// new key are skipped, each batch is one transaction, and the new key becomes the recorded
// one (the canary) only at the end; until then the store refuses to open (code
// "rekey_incomplete"), so a daemon never runs on a half-rekeyed database.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/crypto.hpp"
#include "core/result.hpp"

namespace hotline::store {

struct rekey_options {
    std::string path;  // the database file
    // current() = the new key; the old key (the one the database is sealed under) as an
    // older key of the same ring.
    std::shared_ptr<const core::crypto::keyring> keys;
    std::size_t batch_rows{500};
    // Called after each committed batch with the running count of re-sealed values.
    std::function<void(std::int64_t)> after_batch;
    int busy_timeout_ms{5000};
};

struct rekey_report {
    std::int64_t resealed{};    // values sealed under the new key by this run
    std::int64_t already{};     // values that were under the new key already (resumed run)
    std::int64_t unreadable{};  // values that open under neither key, left as they were
};

// Error codes: "locked" (hotlined or another rekey has the database open), "not_found" (no
// database file), "not_sealed" (no canary yet: start hotlined once first), "wrong_key" (the
// old key does not open the database), "rekey_incomplete" (an interrupted rekey to a
// different key), and the store's storage errors.
[[nodiscard]] core::result<rekey_report> rekey(const rekey_options& opts);

}  // namespace hotline::store
