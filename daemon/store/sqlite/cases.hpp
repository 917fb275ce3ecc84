// The cases table: a case per report that opens one (reports that join a case name it in
// reports.case_id; cases.report_id is the first), state open/acknowledged/resolved, the
// policy it escalates by, who acknowledged or resolved it, its group key (schema 8); and
// case_notes (sealed text) and case_action_keys (single-use keys of actions).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "domain/case.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

// Inserts an open case with id `case_id` (the one insert_report put in the report's row)
// for the report; returns its id.
[[nodiscard]] core::result<std::int64_t> insert_case(connection& db, std::int64_t case_id,
                                                     std::int64_t report_id,
                                                     const domain::case_info& c, std::int64_t now);

// The case with its report count, latest report time and latest report id.
struct case_row {
    case_record record;
    std::int64_t first_report_id{};
    std::int64_t latest_report_id{};
};
[[nodiscard]] core::result<std::optional<case_row>> load_case(connection& db, std::int64_t id);

[[nodiscard]] core::result<std::vector<case_record>> list_cases(connection& db,
                                                                const case_query& q);

// The case's audit events, oldest first; a note event's detail gets its opened "text".
[[nodiscard]] core::result<std::vector<case_event>> case_events(connection& db, const sealer& s,
                                                                std::int64_t case_id);

// Sets the state (and acked_by/at or resolved_by/at for those states).
[[nodiscard]] core::status set_case_state(connection& db, std::int64_t id, case_state to,
                                          const std::string& actor, std::int64_t now);

// Inserts a note (text sealed); returns its id.
[[nodiscard]] core::result<std::int64_t> insert_case_note(
    connection& db, const sealer& s, std::int64_t case_id, const std::string& author,
    const std::string& channel, const std::string& text, std::int64_t now);

// Records a single-use key; false when it was used before.
[[nodiscard]] core::result<bool> use_action_key(connection& db, const std::string& key,
                                                std::int64_t case_id, std::int64_t now);

[[nodiscard]] core::result<std::optional<std::int64_t>> find_group_case(connection& db,
                                                                        const std::string& key,
                                                                        std::int64_t now);

}  // namespace hotline::store::sqlite
