// JSON text columns: what goes in is nlohmann::json::dump() text, what comes out is parsed
// without throwing (a hand-edited row must not stop the store).
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace hotline::store::sqlite {

using json = nlohmann::json;

// Replaces invalid UTF-8 instead of throwing: the store must not fail on it.
[[nodiscard]] inline std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// An object column's value; anything else (a hand-edited row) reads as {}.
[[nodiscard]] inline json parse_object(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    return j.is_object() ? j : json::object();
}

[[nodiscard]] inline json labels_json(const std::map<std::string, std::string>& labels) {
    json j = json::object();
    for (const auto& [k, v] : labels) {
        j[k] = v;
    }
    return j;
}

}  // namespace hotline::store::sqlite
