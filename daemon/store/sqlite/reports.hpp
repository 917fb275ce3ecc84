// The reports table: one row per report, unique per (source, external_id) and per
// (source, dedup_key) when it has one; and the attachments table, a report's files in order.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "domain/report.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"

namespace hotline::store::sqlite {

struct inserted_report {
    std::int64_t id{};       // 0: a report with the same external_id or dedup_key exists
    std::int64_t case_id{};  // the case the row names: join_case, or the next case id
};

// Inserts the report with `received_at` as its time; nothing is written when a report with
// the same (source, external_id) or (source, dedup_key) exists (id 0 then). The row names
// `join_case` as its case when it is > 0, else the id the next case inserted gets (the
// writer holds the write lock, so that is the id insert_case(..., case_id) then uses).
// The sender, subject, text, labels, details and raw are sealed (bound to the row id,
// which is allocated first); empty details and raw go in as clear "{}" and "".
[[nodiscard]] core::result<inserted_report> insert_report(connection& db, const sealer& s,
                                                          const domain::report& r,
                                                          std::int64_t received_at,
                                                          std::int64_t join_case);

// True when a case with this id exists.
[[nodiscard]] core::result<bool> case_exists(connection& db, std::int64_t case_id);

// Stores r's attachments for the report, one row each in order, name, type, hash and bytes
// sealed.
[[nodiscard]] core::status insert_attachments(connection& db, const sealer& s,
                                              std::int64_t report_id,
                                              const std::vector<domain::attachment>& files);

// The ids of the stored report with r's (source, external_id), or else with its
// (source, dedup_key), and of its case, with duplicate=true; "storage" if there is none.
[[nodiscard]] core::result<domain::report_ids> find_duplicate(connection& db,
                                                              const domain::report& r);

// "unreadable" when a sealed value does not open (counted and logged by the sealer).
// Attachments are not loaded (load_attachments).
[[nodiscard]] core::result<std::optional<domain::report>> load_report(connection& db,
                                                                      const sealer& s,
                                                                      std::int64_t report_id);

// The report's attachments in the order they were stored (none for an unknown report).
[[nodiscard]] core::result<std::vector<domain::attachment>> load_attachments(
    connection& db, const sealer& s, std::int64_t report_id);

// The distinct non-empty targets of the case's notifications in the order first notified;
// nullopt when the case does not exist.
[[nodiscard]] core::result<std::optional<std::vector<std::string>>> case_targets(
    connection& db, std::int64_t case_id);

// Which of `keys` are dedup keys of stored reports of `source`, in the order given, each
// once.
[[nodiscard]] core::result<std::vector<std::string>> known_dedup_keys(
    connection& db, const std::string& source, const std::vector<std::string>& keys);

// source_cursors: the value saved for a source, and replacing it.
[[nodiscard]] core::result<std::optional<std::string>> load_cursor(connection& db,
                                                                   const std::string& source);
[[nodiscard]] core::status save_cursor(connection& db, const std::string& source,
                                       const std::string& value, std::int64_t now);

}  // namespace hotline::store::sqlite
