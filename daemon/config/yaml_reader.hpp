// The YAML side of config loading, shared by every section reader: the files (main file,
// includes with globs, nesting and cycles), positions (file:line:column), typed reads that
// report their own errors, did-you-mean for unknown keys, the budgets that keep a hostile
// file cheap, and the list of errors found so far.
//
// yaml-cpp throws, so this is where exceptions are part of the flow; every problem becomes
// a positioned error and reading goes on, so an admin sees all mistakes at once. The one
// exception that escapes is budget_exceeded, caught by load_config.
#pragma once
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/model.hpp"

namespace hotline::config {

// One configuration file, parsed.
struct document {
    std::string file;  // as shown in messages: the main path as given, includes joined to it
    std::filesystem::path dir;  // absolute folder of the file: relative paths resolve against it
    YAML::Node root;
};

// Thrown by yaml_reader::visit when a file makes the loader visit too many nodes.
struct budget_exceeded {};
// Aliases let a small file describe an exponentially large tree (billion laughs);
// counting every node the loader visits bounds the work whatever the file says.
inline constexpr std::size_t max_node_visits = 1'000'000;

using key_list = std::initializer_list<std::string_view>;
using key_span = std::span<const std::string_view>;

// Key paths as shown in messages: "channels[2].retry.max_age".
[[nodiscard]] std::string join(const std::string& path, std::string_view key);
[[nodiscard]] std::string index(const std::string& path, std::size_t i);
// A node as quoted in a message: a scalar's first 40 bytes in quotes, else its kind.
[[nodiscard]] std::string describe(const YAML::Node& node);
// "; did you mean "x"?" for the closest candidate within edit distance 2 or sharing a
// prefix, else "".
[[nodiscard]] std::string suggest(std::string_view given,
                                  const std::vector<std::string>& candidates);
// token, secret, password, api_key: keys that would put a secret in the file itself; the
// value must come from the matching `*_file` key instead.
[[nodiscard]] bool is_inline_secret_key(std::string_view key);
// A plugin type becomes a file name (<plugin_dir>/<type>.so): no dots or slashes.
[[nodiscard]] bool is_plugin_type(std::string_view s);

// Stores a value the reader read; a value it could not read was reported already and
// leaves the default. The cast only narrows integers read_integer has bounded to the
// field's range.
template <class T, class U>
void assign_if(const std::optional<T>& read, U& field) {
    if (read) {
        field = static_cast<U>(*read);
    }
}

class yaml_reader {
public:
    // A map's entries by key: the key node (for positions) and the value.
    using fields = std::map<std::string, std::pair<YAML::Node, YAML::Node>>;

    // --- errors and positions
    void fail(const mark& at, const std::string& path, const std::string& message);
    // An error positioned by someone else (rules::parse_matcher and friends).
    void add(error e) { errors_.push_back(std::move(e)); }
    [[nodiscard]] std::size_t error_count() const { return errors_.size(); }
    [[nodiscard]] std::vector<error> take_errors() { return std::move(errors_); }
    [[nodiscard]] static mark at(const document& d, const YAML::Node& node);
    // Counts one node against max_node_visits; throws budget_exceeded past it.
    void visit();

    // --- files
    // Reads the main file and, depth first, every file it includes.
    void load(const std::string& path);
    [[nodiscard]] const std::vector<document>& documents() const { return docs_; }
    // A path written in `d`, made absolute against d's folder.
    [[nodiscard]] static std::string resolve(const document& d, const std::string& p);
    // Where relative `*_file` secrets are read from.
    void set_secrets_dir(std::string dir) { secrets_dir_ = std::move(dir); }
    [[nodiscard]] const std::string& secrets_dir() const { return secrets_dir_; }

    // --- typed reads; each reports its own error and returns nullopt
    // A map whose keys must be among `known` (unknown keys, duplicates and null values are
    // reported and left out).
    std::optional<fields> read_map(const document& d, const YAML::Node& node,
                                   const std::string& path, key_list known);
    std::optional<fields> read_map(const document& d, const YAML::Node& node,
                                   const std::string& path, key_span known);
    bool expect_list(const document& d, const YAML::Node& node, const std::string& path);
    std::optional<std::string> read_string(const document& d, const YAML::Node& node,
                                           const std::string& path, bool allow_empty = false);
    std::optional<long long> read_integer(const document& d, const YAML::Node& node,
                                          const std::string& path, long long min, long long max);
    std::optional<duration> read_duration(const document& d, const YAML::Node& node,
                                          const std::string& path);
    // 65536, 512B, 64KiB, 1MiB, 500KB; above zero, at most 1 GiB.
    std::optional<std::size_t> read_size(const document& d, const YAML::Node& node,
                                         const std::string& path);
    std::optional<bool> read_bool(const document& d, const YAML::Node& node,
                                  const std::string& path);
    std::optional<std::string> read_enum(const document& d, const YAML::Node& node,
                                         const std::string& path, key_list values);
    std::optional<std::string> read_enum(const document& d, const YAML::Node& node,
                                         const std::string& path, key_span values);
    // A name of letters, digits, '_', '-' or '.' (at most 128 bytes).
    std::optional<std::string> read_identifier(const document& d, const YAML::Node& node,
                                               const std::string& path);
    // The contents of the file the node names (relative to secrets_dir), trailing newlines cut.
    std::optional<secret> read_secret(const document& d, const YAML::Node& node,
                                      const std::string& path);

private:
    void load_file(const std::filesystem::path& file, const std::string& shown, const mark* from,
                   const std::string& from_path);
    void load_includes(std::size_t doc_index);

    std::vector<error> errors_;
    std::vector<document> docs_;
    std::vector<std::string> stack_;             // canonical paths of files being included
    std::map<std::string, std::string> loaded_;  // canonical path -> shown name
    std::size_t visits_{0};
    std::string secrets_dir_;
};

}  // namespace hotline::config
