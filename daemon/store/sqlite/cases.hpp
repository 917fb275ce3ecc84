// The cases table: a case per report that opens one (reports that join a case name it in
// reports.case_id; cases.report_id is the first), state open/acknowledged/resolved.
#pragma once
#include <cstdint>

#include "core/result.hpp"
#include "domain/case.hpp"
#include "store/sqlite/connection.hpp"

namespace hotline::store::sqlite {

// Inserts an open case with id `case_id` (the one insert_report put in the report's row)
// for the report; returns its id.
[[nodiscard]] core::result<std::int64_t> insert_case(connection& db, std::int64_t case_id,
                                                     std::int64_t report_id,
                                                     const domain::case_info& c, std::int64_t now);

}  // namespace hotline::store::sqlite
