// The cases table: one case per report for now, state open/acknowledged/resolved.
#pragma once
#include <cstdint>

#include "core/result.hpp"
#include "domain/case.hpp"
#include "store/sqlite/connection.hpp"

namespace hotline::store::sqlite {

// Inserts an open case for the report; returns its id.
[[nodiscard]] core::result<std::int64_t> insert_case(connection& db, std::int64_t report_id,
                                                     const domain::case_info& c, std::int64_t now);

}  // namespace hotline::store::sqlite
