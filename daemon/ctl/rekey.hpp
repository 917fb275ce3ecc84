// hotlinectl rekey: re-seal the store under a new key (store/rekey.hpp does the work).
#pragma once
#include <string>

#include "app/validate.hpp"
#include "core/result.hpp"
#include "store/rekey.hpp"

namespace hotline::ctl {

// Re-seals every sealed value of the configured database under the key in `new_key_path`;
// the old key is the config's storage.key_file. Safe to run again after a crash or kill -9:
// it resumes. Refuses while hotlined has the database open (code "locked"), and a new key
// that is the old one (code "same_key").
//
// Test hooks (environment): HOTLINE_TEST_REKEY_BATCH = rows per transaction (default 500),
// HOTLINE_TEST_REKEY_PAUSE_MS = a pause after each committed batch.
[[nodiscard]] core::result<store::rekey_report> rekey(const app::loaded_config& loaded,
                                                      const std::string& new_key_path);

}  // namespace hotline::ctl
