#include "store/factory.hpp"

#include <string>

#include "store/sqlite/sqlite_store.hpp"

namespace hotline::store {

std::vector<std::string_view> backends() {
    return {"sqlite"};
}

core::result<std::unique_ptr<store>> open_store(const options& opts) {
    if (opts.backend == "sqlite") {
        return sqlite::sqlite_store::open(opts);
    }
    std::string known;
    for (const auto b : backends()) {
        known += known.empty() ? "" : ", ";
        known += b;
    }
    return core::make_error(
        "config", "unknown storage backend '" + opts.backend + "' (known: " + known + ")");
}

core::result<std::unique_ptr<store>> store::open(const options& opts) {
    return open_store(opts);
}

}  // namespace hotline::store
