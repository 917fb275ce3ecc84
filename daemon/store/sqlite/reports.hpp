// The reports table: one row per report, unique per (source, external_id).
#pragma once
#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "domain/report.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"

namespace hotline::store::sqlite {

// Inserts the report with `received_at` as its time; returns its id, or 0 when a report
// with the same (source, external_id) exists (nothing is written then).
// The sender, subject, text and labels are sealed (bound to the row id, which is allocated
// first: the writer holds the write lock).
[[nodiscard]] core::result<std::int64_t> insert_report(connection& db, const sealer& s,
                                                       const domain::report& r,
                                                       std::int64_t received_at);

// The ids of the stored report with r's (source, external_id) and of its first case,
// with duplicate=true; "storage" if there is none.
[[nodiscard]] core::result<domain::report_ids> find_duplicate(connection& db,
                                                              const domain::report& r);

// "unreadable" when a sealed value does not open (counted and logged by the sealer).
[[nodiscard]] core::result<std::optional<domain::report>> load_report(connection& db,
                                                                      const sealer& s,
                                                                      std::int64_t report_id);

}  // namespace hotline::store::sqlite
