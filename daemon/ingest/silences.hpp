// The silences in force, compiled for matching (docs/escalation.md, "Silences"): a report
// that every matcher of a silence matches, received in [starts_at, ends_at) of one not
// expired, is stored and gets its case but pages nobody (ingest/pipeline). Pure: built
// from the store's list, asked per report.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class pipeline;

// Parses one silence matcher (the routing tree's syntax). An error names the matcher's
// index and the column (1-based) where it goes wrong: "matchers[2], column 6: unknown
// operator..." with code "bad_matcher".
[[nodiscard]] core::result<rules::matcher> parse_silence_matcher(const std::string& text,
                                                                 std::size_t index);

class silence_set {
public:
    silence_set() = default;

    // Compiles `list` (store::list_silences). A silence whose matchers no longer parse (a
    // newer hotline wrote them, or retention emptied them) is left out with an error
    // logged by id: it then silences nothing, so reports page rather than vanish.
    [[nodiscard]] static silence_set compile(const std::vector<store::silence>& list);

    // The id of the first silence (lowest id) that silences `r` at r.received_at, if any.
    [[nodiscard]] std::optional<std::int64_t> match(const domain::report& r) const;

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        std::int64_t id{};
        std::int64_t starts_at{};
        std::int64_t ends_at{};
        std::vector<rules::matcher> matchers;  // all must hold; never empty
    };
    std::vector<entry> entries_;
};

// Reads the silences not over from `db` and hands them, compiled, to `p` on `io` (p's
// executor); then `done` runs there with the store's status. At start and after each add
// or expire. `db` and `p` must outlive the call.
void reload_silences(store::store& db, pipeline& p, asio::any_io_executor io,
                     std::function<void(core::status)> done);

}  // namespace hotline::ingest
