// Opens a store backend from its type string (options.backend): "sqlite" today; a
// PostgreSQL backend will register here. A new backend is done when
// tests/unit/store_conformance.hpp passes against it.
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/store.hpp"

namespace hotline::store {

// The backend type strings open_store accepts.
[[nodiscard]] std::vector<std::string_view> backends();

// Opens opts.backend; an unknown type fails with code "config", naming the known ones.
[[nodiscard]] core::result<std::unique_ptr<store>> open_store(const options& opts);

}  // namespace hotline::store
