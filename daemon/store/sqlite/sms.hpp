// The SMS state tables (schema step 7 in the plan; see schema.cpp): sms_parts holds the parts
// of a concatenated SMS until they are joined into one report (text sealed, the group keyed
// by a keyed hash of sender, reference and total, never the number in clear); sms_opt_outs
// holds the responder numbers that sent STOP (number sealed, keyed by a keyed hash). The
// hash key is a random 32-byte value sealed in seal_meta ("hash_key"), so a rekey keeps
// every key the same.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.hpp"
#include "core/result.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// The associated data of seal_meta's hash_key.
inline constexpr const char* hash_key_ad = "seal_meta.hash_key";

// The store's hash key: opened from seal_meta, or made and recorded there (sealed) when
// there is none. Sealing off (tests): a fixed key, nothing recorded.
[[nodiscard]] core::result<core::crypto::key> load_hash_key(connection& db, const sealer& s);

[[nodiscard]] std::string sms_hash(const core::crypto::key& k, std::string_view purpose,
                                   std::string_view value);

[[nodiscard]] core::result<sms_part_added> insert_sms_part(connection& db, const sealer& s,
                                                           const new_sms_part& p, std::int64_t now);
[[nodiscard]] core::result<std::vector<sms_part>> select_sms_parts(connection& db, const sealer& s,
                                                                   std::string_view source,
                                                                   std::string_view group_key);
[[nodiscard]] core::result<std::int64_t> remove_sms_parts(connection& db, std::string_view source,
                                                          std::string_view group_key,
                                                          std::int64_t now);

// "sms:<source>:<group_key>"
[[nodiscard]] std::string sms_parts_subject(std::string_view source, std::string_view group_key);

[[nodiscard]] core::result<bool> set_opt_out(connection& db, const sealer& s,
                                             const std::string& key, std::string_view number,
                                             std::string_view responder, std::int64_t now);
[[nodiscard]] core::result<bool> clear_opt_out(connection& db, const std::string& key,
                                               std::string_view responder, std::int64_t now);
[[nodiscard]] core::result<std::vector<sms_opt_out>> select_opt_outs(connection& db,
                                                                     const sealer& s);

}  // namespace hotline::store::sqlite
