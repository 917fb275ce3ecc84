// config::yaml_reader on its own, as a new section reader uses it: typed reads over one
// in-memory document, each reporting "file:line:column: path: message" and reading on.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_reader.hpp"

using hotline::config::budget_exceeded;
using hotline::config::document;
using hotline::config::key_span;
using hotline::config::max_node_visits;
using hotline::config::yaml_reader;

namespace {

document doc(const std::string& text) {
    return document{"t.yaml", "/etc/hotline", YAML::Load(text)};
}

std::vector<std::string> messages(yaml_reader& y) {
    std::vector<std::string> out;
    for (const auto& e : y.take_errors()) {
        out.push_back(e.describe());
    }
    return out;
}

}  // namespace

TEST_CASE("read_map: known keys kept; unknown, duplicate, inline secret and null reported") {
    yaml_reader y;
    const auto d = doc("pot: 1\nport: 2\ntoken: x\nname:\nzzz: 3\n");
    const auto f = y.read_map(d, d.root, "s", {"port", "name", "token_file"});
    REQUIRE(f.has_value());
    CHECK(f->size() == 1);
    CHECK(f->at("port").second.Scalar() == "2");
    CHECK(messages(y) == std::vector<std::string>{
                             "t.yaml:1:1: s.pot: unknown key; did you mean \"port\"?",
                             "t.yaml:3:1: s.token: secrets must come from a file: use token_file",
                             "t.yaml:4:1: s.name: missing value (write [] or {} for an empty "
                             "list or map)",
                             "t.yaml:5:1: s.zzz: unknown key (expected one of: port name "
                             "token_file)",
                         });
    const auto list = doc("[1]");
    CHECK_FALSE(y.read_map(list, list.root, "s", {"a"}).has_value());
    CHECK(messages(y) == std::vector<std::string>{"t.yaml:1:1: s: expected a map, got a list"});
}

TEST_CASE("scalars: integer ranges, sizes, durations, enums from a span, identifiers") {
    yaml_reader y;
    const auto d = doc("{a: 70000, b: 64KiB, c: 2GiB, e: 90s, f: 0s, g: hihg, h: a/b, i: x.y-z}");
    const auto& r = d.root;
    CHECK_FALSE(y.read_integer(d, r["a"], "a", 0, 65535).has_value());
    CHECK(y.read_size(d, r["b"], "b") == 64U * 1024U);
    CHECK_FALSE(y.read_size(d, r["c"], "c").has_value());
    CHECK(y.read_duration(d, r["e"], "e") == std::chrono::seconds(90));
    CHECK_FALSE(y.read_duration(d, r["f"], "f").has_value());
    constexpr std::array<std::string_view, 3> levels{"high", "low", "mid"};
    CHECK_FALSE(y.read_enum(d, r["g"], "g", key_span(levels)).has_value());
    CHECK_FALSE(y.read_identifier(d, r["h"], "h").has_value());
    CHECK(y.read_identifier(d, r["i"], "i") == "x.y-z");
    CHECK(y.error_count() == 5);
    CHECK(
        messages(y) ==
        std::vector<std::string>{
            "t.yaml:1:5: a: expected an integer from 0 to 65535, got 70000",
            "t.yaml:1:25: c: size too large (limit 1GiB), got \"2GiB\"",
            "t.yaml:1:42: f: expected a duration above zero, got \"0s\"",
            "t.yaml:1:49: g: expected one of high, low, mid; got \"hihg\"; did you mean \"high\"?",
            "t.yaml:1:58: h: expected a name of letters, digits, '_', '-' or '.', got \"a/b\"",
        });
    CHECK(y.error_count() == 0);  // taken
}

TEST_CASE("visit: the node budget stops any reader, however the tree was built") {
    yaml_reader y;
    for (std::size_t i = 0; i < max_node_visits; ++i) {
        y.visit();
    }
    CHECK_THROWS_AS(y.visit(), budget_exceeded);
}

TEST_CASE("resolve: relative to the document's folder, absolute kept") {
    const auto d = doc("{}");
    CHECK(yaml_reader::resolve(d, "var/../db/h.db") == "/etc/hotline/db/h.db");
    CHECK(yaml_reader::resolve(d, "/srv/h.db") == "/srv/h.db");
}
