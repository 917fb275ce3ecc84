// Loads conf/hotline.yaml and its includes into config::config (notes/schema.md).
// yaml-cpp throws, so this is the one place exceptions are part of the flow; every problem
// becomes a positioned error and loading goes on, so an admin sees all mistakes at once.
#include "config/model.hpp"
#include "config/paths.hpp"
#include "core/text.hpp"

#include <glob.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

namespace hotline::config {

using core::edit_distance;
using core::format_duration;
using core::make_error;
using core::parse_duration;

namespace {

namespace fs = std::filesystem;

// A configuration is a few kilobytes; megabytes mean a wrong file or an attack.
constexpr std::uintmax_t max_config_file_size = 4U << 20U;
constexpr std::size_t max_config_files = 256;
// Aliases let a small file describe an exponentially large tree (billion laughs);
// counting every node the loader visits bounds the work whatever the file says.
constexpr std::size_t max_node_visits = 1'000'000;
constexpr int max_route_depth = 32;
constexpr std::uintmax_t max_secret_size = 64U << 10U;
constexpr std::uintmax_t max_body_limit = 1U << 30U;

struct budget_exceeded {};

// Stores a value the loader read; a value it could not read was reported already and
// leaves the default. The cast only narrows integers read_integer has bounded to the
// field's range.
template <class T, class U>
void assign_if(const std::optional<T>& read, U& field) {
    if (read) {
        field = static_cast<U>(*read);
    }
}

// "; did you mean "x"?" for the closest candidate within edit distance 2 or sharing a
// prefix, else "".
std::string suggest(std::string_view given, const std::vector<std::string>& candidates) {
    const std::string* best = nullptr;
    std::size_t best_distance = 3;
    for (const auto& c : candidates) {
        if (given.size() > 64 || c == given) {
            continue;
        }
        std::size_t dist = edit_distance(given, c);
        const bool prefix = given.size() >= 2 && (c.rfind(given, 0) == 0 || given.rfind(c, 0) == 0);
        if (prefix && dist > 2) {
            dist = 2;
        }
        if (dist < best_distance) {
            best_distance = dist;
            best = &c;
        }
    }
    return best == nullptr ? std::string() : "; did you mean \"" + *best + "\"?";
}

struct document {
    std::string file;  // as shown in messages: the main path as given, includes joined to it
    fs::path dir;      // absolute folder of the file: relative paths inside resolve against it
    YAML::Node root;
};

using key_list = std::initializer_list<std::string_view>;

const std::array<std::string_view, 4> inline_secret_keys{"token", "secret", "password", "api_key"};

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar: {
            std::string text = node.Scalar();
            if (text.size() > 40) {
                text = text.substr(0, 40) + "...";
            }
            return "\"" + text + "\"";
        }
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Null: return "nothing (null)";
        case YAML::NodeType::Undefined: break;
    }
    return "nothing";
}

bool is_identifier(std::string_view s) {
    if (s.empty() || s.size() > 128) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '_' || c == '-' || c == '.';
    });
}

bool is_plugin_type(std::string_view s) {
    // Becomes a file name (<plugin_dir>/<type>.so): no dots or slashes.
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '_' || c == '-';
    });
}

bool is_label_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front())) != 0) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    });
}

bool has_glob_chars(std::string_view s) {
    return s.find_first_of("*?[") != std::string_view::npos;
}

// YAML forbids most control characters and yaml-cpp does not check encodings, so a
// binary file would otherwise turn into strange keys. Returns the offset of the first
// bad byte, if any.
std::optional<std::size_t> first_invalid_byte(std::string_view s) {
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    while (i < s.size()) {
        const unsigned char c = byte(i);
        if (c < 0x80U) {
            if ((c < 0x20U && c != '\t' && c != '\n' && c != '\r') || c == 0x7FU) {
                return i;
            }
            ++i;
            continue;
        }
        std::size_t length = 0;
        unsigned char low = 0x80U;
        unsigned char high = 0xBFU;
        if (c >= 0xC2U && c <= 0xDFU) {
            length = 2;
        } else if (c >= 0xE0U && c <= 0xEFU) {
            length = 3;
            low = c == 0xE0U ? 0xA0U : 0x80U;
            high = c == 0xEDU ? 0x9FU : 0xBFU;
        } else if (c >= 0xF0U && c <= 0xF4U) {
            length = 4;
            low = c == 0xF0U ? 0x90U : 0x80U;
            high = c == 0xF4U ? 0x8FU : 0xBFU;
        } else {
            return i;
        }
        if (i + length > s.size() || byte(i + 1) < low || byte(i + 1) > high) {
            return i;
        }
        for (std::size_t k = 2; k < length; ++k) {
            if ((byte(i + k) & 0xC0U) != 0x80U) {
                return i;
            }
        }
        i += length;
    }
    return std::nullopt;
}

mark position_of(const std::string& file, std::string_view text, std::size_t offset) {
    const std::string_view before = text.substr(0, offset);
    const auto newline = before.rfind('\n');
    const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const int column =
        1 + static_cast<int>(newline == std::string_view::npos ? offset : offset - newline - 1);
    return mark{file, line, column};
}

std::string strip_trailing_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
        s.pop_back();
    }
    return s;
}

class loader {
public:
    load_result run(const std::string& path);

private:
    struct reference {
        std::string name;
        std::string path;  // key path, for the message
        mark at;
    };
    struct notify_reference {
        domain::target target;
        std::string path;
    };

    // --- errors and positions
    void fail(const mark& at, const std::string& path, const std::string& message) {
        errors_.push_back(
            make_error("config", path.empty() ? message : path + ": " + message, at.str()));
    }
    [[nodiscard]] static mark at(const document& d, const YAML::Node& node) {
        const YAML::Mark m = node.Mark();
        if (m.is_null()) {
            return mark{d.file, 1, 1};
        }
        return mark{d.file, m.line + 1, m.column + 1};
    }
    void visit() {
        if (++visits_ > max_node_visits) {
            throw budget_exceeded{};
        }
    }

    // --- files
    void load_file(const fs::path& file, const std::string& shown, const mark* from,
                   const std::string& from_path);
    void load_includes(std::size_t doc_index);
    [[nodiscard]] std::string resolve(const document& d, const std::string& p) const {
        const fs::path given(p);
        return (given.is_absolute() ? given : d.dir / given).lexically_normal().string();
    }

    // --- typed reads; each reports its own error and returns nullopt
    using fields = std::map<std::string, std::pair<YAML::Node, YAML::Node>>;
    std::optional<fields> read_map(const document& d, const YAML::Node& node,
                                   const std::string& path, key_list known);
    bool expect_list(const document& d, const YAML::Node& node, const std::string& path);
    std::optional<std::string> read_string(const document& d, const YAML::Node& node,
                                           const std::string& path, bool allow_empty = false);
    std::optional<long long> read_integer(const document& d, const YAML::Node& node,
                                          const std::string& path, long long min, long long max);
    std::optional<duration> read_duration(const document& d, const YAML::Node& node,
                                          const std::string& path);
    std::optional<std::size_t> read_size(const document& d, const YAML::Node& node,
                                         const std::string& path);
    std::optional<bool> read_bool(const document& d, const YAML::Node& node,
                                  const std::string& path);
    std::optional<std::string> read_enum(const document& d, const YAML::Node& node,
                                         const std::string& path, key_list values);
    std::optional<std::string> read_identifier(const document& d, const YAML::Node& node,
                                               const std::string& path);
    std::optional<secret> read_secret(const document& d, const YAML::Node& node,
                                      const std::string& path);

    // --- sections
    void read_top(const document& d);
    bool claim(const document& d, const std::string& key, const YAML::Node& key_node);
    void read_server(const document& d, const YAML::Node& node);
    void read_storage(const document& d, const YAML::Node& node);
    void read_logging(const document& d, const YAML::Node& node);
    void read_sources(const document& d, const YAML::Node& node);
    void read_channels(const document& d, const YAML::Node& node);
    std::optional<channel_config> read_channel(const document& d, const YAML::Node& node,
                                               const std::string& path);
    void read_retry(const document& d, const YAML::Node& node, const std::string& path,
                    retry_policy& out);
    void read_options(const document& d, const YAML::Node& node, const std::string& path,
                      channel_config& out);
    void read_people(const document& d, const YAML::Node& node, const std::string& section,
                     std::vector<person>& out);
    void read_templates(const document& d, const YAML::Node& node);
    std::optional<rules::route_node> read_route(const document& d, const YAML::Node& node,
                                                const std::string& path, int depth, bool is_root);

    // --- after all files
    void check_references();
    static void name_routes(rules::route_node& node);

    std::vector<error> errors_;
    std::vector<document> docs_;
    std::vector<std::string> stack_;             // canonical paths of files being included
    std::map<std::string, std::string> loaded_;  // canonical path -> shown name
    std::size_t visits_{0};
    config cfg_;
    std::map<std::string, mark> claimed_;  // top-level settings that may appear once
    std::optional<rules::route_node> root_;
    std::vector<rules::route_node> extra_routes_;
    std::vector<reference> contact_refs_;
    std::vector<notify_reference> notify_refs_;
    std::map<std::pair<std::string, std::string>, mark> template_marks_;
    std::map<std::string, mark> source_names_, channel_names_;
    // Ids as written, valid or not, so one bad responder does not also break every reference.
    std::map<std::string, std::map<std::string, mark>> declared_ids_;
};

// ----------------------------------------------------------------------------- files

void loader::load_file(const fs::path& file, const std::string& shown, const mark* from,
                       const std::string& from_path) {
    const auto report = [&](const std::string& message) {
        if (from != nullptr) {
            fail(*from, from_path, message);
        } else {
            errors_.push_back(make_error("config", message, shown));
        }
    };
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(file, ec);
    const std::string key = ec ? file.lexically_normal().string() : canonical.string();
    if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
        std::string chain;
        for (auto it = std::find(stack_.begin(), stack_.end(), key); it != stack_.end(); ++it) {
            chain += loaded_[*it] + " -> ";
        }
        report("include cycle: " + chain + shown);
        return;
    }
    if (const auto it = loaded_.find(key); it != loaded_.end()) {
        report("\"" + shown + "\" is already included (as \"" + it->second + "\")");
        return;
    }
    if (docs_.size() >= max_config_files) {
        report("too many configuration files (limit " + std::to_string(max_config_files) + ")");
        return;
    }
    if (!fs::is_regular_file(file, ec)) {
        report("cannot read \"" + shown + "\": " +
               (fs::exists(file, ec) ? std::string("not a regular file") : std::strerror(ENOENT)));
        return;
    }
    const std::uintmax_t size = fs::file_size(file, ec);
    if (ec) {
        report("cannot read \"" + shown + "\": " + ec.message());
        return;
    }
    if (size > max_config_file_size) {
        errors_.push_back(make_error("config",
                                     "file too large (" + std::to_string(size) +
                                         " bytes; the limit is " +
                                         std::to_string(max_config_file_size >> 20U) + " MiB)",
                                     mark{shown, 1, 1}.str()));
        return;
    }
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
        report("cannot read \"" + shown + "\": " + std::strerror(errno));
        return;
    }
    if (const auto bad = first_invalid_byte(text)) {
        const auto c = static_cast<unsigned char>(text[*bad]);
        errors_.push_back(make_error(
            "config",
            c < 0x80U ? "control character " + std::to_string(c) + " is not allowed in YAML"
                      : std::string("invalid UTF-8"),
            position_of(shown, text, *bad).str()));
        return;
    }
    std::vector<YAML::Node> parsed;
    try {
        parsed = YAML::LoadAll(text);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp stops at 2000 levels (its DepthGuard) with an unhelpful message.
        const mark m =
            e.mark.is_null() ? mark{shown, 1, 1} : mark{shown, e.mark.line + 1, e.mark.column + 1};
        errors_.push_back(make_error("config", "invalid YAML: nested too deeply", m.str()));
        return;
    } catch (const YAML::Exception& e) {
        const mark m =
            e.mark.is_null() ? mark{shown, 1, 1} : mark{shown, e.mark.line + 1, e.mark.column + 1};
        errors_.push_back(make_error("config", "invalid YAML: " + e.msg, m.str()));
        return;
    }
    document d;
    d.file = shown;
    d.dir = fs::absolute(file, ec).parent_path();
    if (parsed.size() > 1) {
        errors_.push_back(make_error("config", "more than one YAML document in one file",
                                     at(d, parsed[1]).str()));
        return;
    }
    d.root = parsed.empty() ? YAML::Node() : parsed.front();
    loaded_[key] = shown;
    docs_.push_back(std::move(d));
    stack_.push_back(key);
    load_includes(docs_.size() - 1);
    stack_.pop_back();
}

void loader::load_includes(std::size_t doc_index) {
    const YAML::Node root = docs_[doc_index].root;
    if (!root.IsMap()) {
        return;  // read_top reports it
    }
    YAML::Node list;
    bool found = false;
    for (const auto& entry : root) {
        if (entry.first.IsScalar() && entry.first.Scalar() == "include") {
            list = entry.second;
            found = true;
            break;
        }
    }
    if (!found || list.IsNull()) {
        return;  // a null include is reported by read_top
    }
    // Copies: load_file appends to docs_, which may move the document.
    const std::string file = docs_[doc_index].file;
    const fs::path dir = docs_[doc_index].dir;
    const document& d = docs_[doc_index];
    if (!expect_list(d, list, "include")) {
        return;
    }
    std::vector<std::pair<std::string, mark>> items;
    std::size_t i = 0;
    for (const auto& item : list) {
        visit();
        const std::string path = index("include", i++);
        if (auto name = read_string(docs_[doc_index], item, path)) {
            items.emplace_back(*name, at(docs_[doc_index], item));
        }
    }
    i = 0;
    for (const auto& [pattern, where] : items) {
        const std::string path = index("include", i++);
        const fs::path given(pattern);
        const fs::path shown_base = fs::path(file).parent_path();
        if (!has_glob_chars(pattern)) {
            const fs::path real = given.is_absolute() ? given : dir / given;
            const fs::path shown = given.is_absolute() ? given : shown_base / given;
            load_file(real, shown.lexically_normal().string(), &where, path);
            continue;
        }
        const fs::path real_pattern = given.is_absolute() ? given : dir / given;
        glob_t found{};
        const int rc = ::glob(real_pattern.c_str(), 0, nullptr, &found);
        std::vector<std::string> matches;
        for (std::size_t k = 0; rc == 0 && k < found.gl_pathc; ++k) {
            matches.emplace_back(found.gl_pathv[k]);
        }
        ::globfree(&found);
        if (matches.empty()) {
            // A typo in a glob would silently drop every rule behind it.
            fail(where, path, "\"" + pattern + "\" matches no file");
            continue;
        }
        std::sort(matches.begin(), matches.end());
        for (const auto& match : matches) {
            const fs::path relative = fs::path(match).lexically_relative(dir);
            const fs::path shown =
                given.is_absolute() || relative.empty() ? fs::path(match) : shown_base / relative;
            load_file(match, shown.lexically_normal().string(), &where, path);
        }
    }
}

// ----------------------------------------------------------------------------- typed reads

std::optional<loader::fields> loader::read_map(const document& d, const YAML::Node& node,
                                               const std::string& path, key_list known) {
    visit();
    if (!node.IsMap()) {
        fail(at(d, node), path, "expected a map, got " + describe(node));
        return std::nullopt;
    }
    fields out;
    for (const auto& entry : node) {
        visit();
        const YAML::Node& key_node = entry.first;
        if (!key_node.IsScalar()) {
            fail(at(d, key_node), path, "expected a key name, got " + describe(key_node));
            continue;
        }
        const std::string& key = key_node.Scalar();
        const std::string key_path = join(path, key);
        if (const auto it = out.find(key); it != out.end()) {
            fail(at(d, key_node), key_path,
                 "duplicate key (first at " + at(d, it->second.first).str() + ")");
            continue;
        }
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            if (std::find(inline_secret_keys.begin(), inline_secret_keys.end(), key) !=
                    inline_secret_keys.end() &&
                std::find(known.begin(), known.end(), key + "_file") != known.end()) {
                fail(at(d, key_node), key_path,
                     "secrets must come from a file: use " + key + "_file");
                continue;
            }
            std::vector<std::string> candidates(known.begin(), known.end());
            std::string hint = suggest(key, candidates);
            if (hint.empty()) {
                hint = " (expected one of:";
                for (const auto k : known) {
                    hint += " " + std::string(k);
                }
                hint += ")";
            }
            fail(at(d, key_node), key_path, "unknown key" + hint);
            continue;
        }
        if (entry.second.IsNull()) {
            // yaml-cpp places an empty value at the next token, often on the next line;
            // the key is where the admin should look.
            fail(at(d, key_node), key_path,
                 "missing value (write [] or {} for an empty list or map)");
            continue;
        }
        out.emplace(key, std::make_pair(key_node, entry.second));
    }
    return out;
}

bool loader::expect_list(const document& d, const YAML::Node& node, const std::string& path) {
    visit();
    if (!node.IsSequence()) {
        fail(at(d, node), path, "expected a list, got " + describe(node));
        return false;
    }
    return true;
}

std::optional<std::string> loader::read_string(const document& d, const YAML::Node& node,
                                               const std::string& path, bool allow_empty) {
    visit();
    if (!node.IsScalar()) {
        fail(at(d, node), path, "expected a string, got " + describe(node));
        return std::nullopt;
    }
    if (!allow_empty && node.Scalar().empty()) {
        fail(at(d, node), path, "must not be empty");
        return std::nullopt;
    }
    return node.Scalar();
}

std::optional<long long> loader::read_integer(const document& d, const YAML::Node& node,
                                              const std::string& path, long long min,
                                              long long max) {
    visit();
    if (!node.IsScalar()) {
        fail(at(d, node), path, "expected an integer, got " + describe(node));
        return std::nullopt;
    }
    const std::string& s = node.Scalar();
    long long value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        fail(at(d, node), path, "expected an integer, got " + describe(node));
        return std::nullopt;
    }
    if (value < min || value > max) {
        fail(at(d, node), path,
             "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", got " + s);
        return std::nullopt;
    }
    return value;
}

std::optional<duration> loader::read_duration(const document& d, const YAML::Node& node,
                                              const std::string& path) {
    visit();
    if (!node.IsScalar()) {
        fail(at(d, node), path, "expected a duration like 90s, 15m or 6h, got " + describe(node));
        return std::nullopt;
    }
    auto parsed = parse_duration(node.Scalar());
    if (!parsed) {
        fail(at(d, node), path, parsed.err().message);
        return std::nullopt;
    }
    if (parsed->count() <= 0) {
        fail(at(d, node), path, "expected a duration above zero, got \"" + node.Scalar() + "\"");
        return std::nullopt;
    }
    return *parsed;
}

std::optional<std::size_t> loader::read_size(const document& d, const YAML::Node& node,
                                             const std::string& path) {
    visit();
    const std::string expected = "expected a size like 65536, 512B, 64KiB, 1MiB or 500KB, got ";
    if (!node.IsScalar()) {
        fail(at(d, node), path, expected + describe(node));
        return std::nullopt;
    }
    const std::string& s = node.Scalar();
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
    if (s.empty() || ec != std::errc{} || end == s.data()) {
        fail(at(d, node), path, expected + describe(node));
        return std::nullopt;
    }
    const std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
    static const std::array<std::pair<std::string_view, std::uint64_t>, 8> units{
        {{"", 1},
         {"B", 1},
         {"KB", 1000},
         {"MB", 1000 * 1000},
         {"GB", 1000 * 1000 * 1000},
         {"KiB", 1024},
         {"MiB", 1024 * 1024},
         {"GiB", 1024 * 1024 * 1024}}};
    const auto it =
        std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == unit; });
    if (it == units.end()) {
        fail(at(d, node), path, expected + describe(node));
        return std::nullopt;
    }
    if (number > max_body_limit / it->second || number * it->second > max_body_limit) {
        fail(at(d, node), path, "size too large (limit 1GiB), got \"" + s + "\"");
        return std::nullopt;
    }
    if (number == 0) {
        fail(at(d, node), path, "expected a size above zero, got \"" + s + "\"");
        return std::nullopt;
    }
    return static_cast<std::size_t>(number * it->second);
}

std::optional<bool> loader::read_bool(const document& d, const YAML::Node& node,
                                      const std::string& path) {
    visit();
    if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
        return node.Scalar() == "true";
    }
    fail(at(d, node), path, "expected true or false, got " + describe(node));
    return std::nullopt;
}

std::optional<std::string> loader::read_enum(const document& d, const YAML::Node& node,
                                             const std::string& path, key_list values) {
    std::string expected = "expected one of";
    for (const auto v : values) {
        expected += std::string(v == *values.begin() ? " " : ", ") + std::string(v);
    }
    visit();
    if (!node.IsScalar()) {
        fail(at(d, node), path, expected + "; got " + describe(node));
        return std::nullopt;
    }
    const std::string& s = node.Scalar();
    if (std::find(values.begin(), values.end(), s) == values.end()) {
        fail(at(d, node), path,
             expected + "; got " + describe(node) +
                 suggest(s, std::vector<std::string>(values.begin(), values.end())));
        return std::nullopt;
    }
    return s;
}

std::optional<std::string> loader::read_identifier(const document& d, const YAML::Node& node,
                                                   const std::string& path) {
    auto s = read_string(d, node, path);
    if (!s) {
        return std::nullopt;
    }
    if (!is_identifier(*s)) {
        fail(at(d, node), path,
             "expected a name of letters, digits, '_', '-' or '.', got " + describe(node));
        return std::nullopt;
    }
    return s;
}

std::optional<secret> loader::read_secret(const document& d, const YAML::Node& node,
                                          const std::string& path) {
    auto name = read_string(d, node, path);
    if (!name) {
        return std::nullopt;
    }
    const fs::path given(*name);
    const fs::path file = given.is_absolute() ? given : fs::path(cfg_.secrets_dir) / given;
    const auto cannot = [&](const std::string& why) {
        fail(at(d, node), path, "cannot read secret file \"" + file.string() + "\": " + why);
        return std::nullopt;
    };
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        return cannot(std::strerror(ENOENT));
    }
    if (!fs::is_regular_file(file, ec)) {
        return cannot("not a regular file");
    }
    if (fs::file_size(file, ec) > max_secret_size) {
        return cannot("larger than 64 KiB");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return cannot(std::strerror(errno));
    }
    std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        return cannot(std::strerror(errno));
    }
    value = strip_trailing_newlines(std::move(value));
    if (value.empty()) {
        fail(at(d, node), path, "secret file \"" + file.string() + "\" is empty");
        return std::nullopt;
    }
    return secret{std::move(value), file.string()};
}

// ----------------------------------------------------------------------------- sections

bool loader::claim(const document& d, const std::string& key, const YAML::Node& key_node) {
    const auto [it, fresh] = claimed_.emplace(key, at(d, key_node));
    if (!fresh) {
        fail(at(d, key_node), key,
             "already set at " + it->second.str() + "; set it in one file only");
    }
    return fresh;
}

void loader::read_top(const document& d) {
    if (!d.root.IsDefined() || d.root.IsNull()) {
        return;  // an empty file is allowed
    }
    const auto top = read_map(d, d.root, "",
                              {"include", "secrets_dir", "plugin_dir", "public_url", "server",
                               "storage", "logging", "sources", "channels", "responders",
                               "partners", "admins", "templates", "route", "routes"});
    if (!top) {
        return;
    }
    for (const auto& [key, entry] : *top) {
        const auto& [key_node, value] = entry;
        if (key == "include" || key == "secrets_dir") {
            continue;  // handled before
        }
        if (key == "plugin_dir") {
            if (claim(d, key, key_node)) {
                if (auto s = read_string(d, value, key)) {
                    cfg_.plugin_dir = resolve(d, *s);
                }
            }
        } else if (key == "public_url") {
            if (claim(d, key, key_node)) {
                if (auto s = read_string(d, value, key, true)) {
                    if (!s->empty() && s->rfind("http://", 0) != 0 &&
                        s->rfind("https://", 0) != 0) {
                        fail(at(d, value), key,
                             "expected an http:// or https:// URL, got " + describe(value));
                    } else {
                        cfg_.public_url = *s;
                    }
                }
            }
        } else if (key == "server") {
            if (claim(d, key, key_node)) {
                read_server(d, value);
            }
        } else if (key == "storage") {
            if (claim(d, key, key_node)) {
                read_storage(d, value);
            }
        } else if (key == "logging") {
            if (claim(d, key, key_node)) {
                read_logging(d, value);
            }
        } else if (key == "sources") {
            read_sources(d, value);
        } else if (key == "channels") {
            read_channels(d, value);
        } else if (key == "responders") {
            read_people(d, value, key, cfg_.responders);
        } else if (key == "partners") {
            read_people(d, value, key, cfg_.partners);
        } else if (key == "admins") {
            read_people(d, value, key, cfg_.admins);
        } else if (key == "templates") {
            read_templates(d, value);
        } else if (key == "route") {
            if (claim(d, key, key_node)) {
                root_ = read_route(d, value, "route", 0, true);
                if (!root_) {
                    root_.emplace();  // errors are reported; do not also say "missing"
                }
            }
        } else if (key == "routes") {
            if (expect_list(d, value, key)) {
                std::size_t i = 0;
                for (const auto& item : value) {
                    if (auto r = read_route(d, item, index(key, i), 1, false)) {
                        extra_routes_.push_back(std::move(*r));
                    }
                    ++i;
                }
            }
        }
    }
}

void loader::read_server(const document& d, const YAML::Node& node) {
    const auto f = read_map(
        d, node, "server",
        {"address", "port", "body_limit", "read_timeout", "idle_timeout", "max_connections"});
    if (!f) {
        return;
    }
    auto& s = cfg_.server;
    s.at = at(d, node);
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string path = join("server", key);
        if (key == "address") {
            assign_if(read_string(d, v, path), s.listen_address);
        } else if (key == "port") {
            assign_if(read_integer(d, v, path, 0, 65535), s.port);
        } else if (key == "body_limit") {
            assign_if(read_size(d, v, path), s.body_limit);
        } else if (key == "read_timeout") {
            assign_if(read_duration(d, v, path), s.read_timeout);
        } else if (key == "idle_timeout") {
            assign_if(read_duration(d, v, path), s.idle_timeout);
        } else if (key == "max_connections") {
            assign_if(read_integer(d, v, path, 1, 1'000'000), s.max_connections);
        }
    }
}

void loader::read_storage(const document& d, const YAML::Node& node) {
    const auto f = read_map(d, node, "storage", {"path", "max_batch", "key_file"});
    if (!f) {
        return;
    }
    cfg_.storage.at = at(d, node);
    for (const auto& [key, entry] : *f) {
        const std::string path = join("storage", key);
        if (key == "path") {
            if (auto x = read_string(d, entry.second, path)) {
                cfg_.storage.path = resolve(d, *x);
            }
        } else if (key == "max_batch") {
            assign_if(read_integer(d, entry.second, path, 1, 100'000), cfg_.storage.max_batch);
        } else if (key == "key_file") {
            assign_if(read_string(d, entry.second, path), cfg_.storage.key_file);
        }
    }
}

void loader::read_logging(const document& d, const YAML::Node& node) {
    const auto f = read_map(d, node, "logging", {"format", "level"});
    if (!f) {
        return;
    }
    cfg_.logging.at = at(d, node);
    for (const auto& [key, entry] : *f) {
        const std::string path = join("logging", key);
        if (key == "format") {
            assign_if(read_enum(d, entry.second, path, {"text", "json"}), cfg_.logging.format);
        } else if (key == "level") {
            assign_if(read_enum(d, entry.second, path, {"trace", "debug", "info", "warn", "error"}),
                      cfg_.logging.level);
        }
    }
}

void loader::read_sources(const document& d, const YAML::Node& node) {
    if (!expect_list(d, node, "sources")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index("sources", i++);
        const auto f = read_map(d, item, path, {"name", "kind", "token_file", "token_files"});
        if (!f) {
            continue;
        }
        source_config s;
        s.at = at(d, item);
        bool ok = true;
        if (const auto it = f->find("name"); it != f->end()) {
            if (auto x = read_identifier(d, it->second.second, join(path, "name"))) {
                s.name = *x;
                const auto [first, fresh] = source_names_.emplace(s.name, at(d, it->second.second));
                if (!fresh) {
                    fail(at(d, it->second.second), join(path, "name"),
                         "duplicate source name \"" + s.name + "\" (first at " +
                             first->second.str() + ")");
                    ok = false;
                }
            } else {
                ok = false;
            }
        } else {
            fail(s.at, join(path, "name"), "missing (every source needs a name)");
            ok = false;
        }
        if (const auto it = f->find("kind"); it != f->end()) {
            if (auto x = read_enum(d, it->second.second, join(path, "kind"), {"webhook"})) {
                s.kind = *x;
            } else {
                ok = false;
            }
        }
        const auto one = f->find("token_file");
        const auto many = f->find("token_files");
        if (one != f->end() && many != f->end()) {
            fail(at(d, many->second.first), join(path, "token_files"),
                 "give either token_file or token_files, not both");
            ok = false;
        } else if (one != f->end()) {
            if (auto sec = read_secret(d, one->second.second, join(path, "token_file"))) {
                s.tokens.push_back(std::move(*sec));
            } else {
                ok = false;
            }
        } else if (many != f->end()) {
            const std::string list_path = join(path, "token_files");
            if (expect_list(d, many->second.second, list_path)) {
                std::size_t k = 0;
                for (const auto& file : many->second.second) {
                    if (auto sec = read_secret(d, file, index(list_path, k))) {
                        s.tokens.push_back(std::move(*sec));
                    } else {
                        ok = false;
                    }
                    ++k;
                }
                if (k == 0) {
                    fail(at(d, many->second.second), list_path, "must name at least one file");
                    ok = false;
                }
            } else {
                ok = false;
            }
        } else {
            fail(s.at, join(path, "token_file"),
                 "missing (a webhook source needs token_file or token_files)");
            ok = false;
        }
        if (ok) {
            cfg_.sources.push_back(std::move(s));
        }
    }
}

void loader::read_channels(const document& d, const YAML::Node& node) {
    if (!expect_list(d, node, "channels")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index("channels", i++);
        if (auto c = read_channel(d, item, path)) {
            cfg_.channels.push_back(std::move(*c));
        }
    }
}

std::optional<channel_config> loader::read_channel(const document& d, const YAML::Node& node,
                                                   const std::string& path) {
    const auto f =
        read_map(d, node, path, {"name", "type", "concurrency", "timeout", "retry", "options"});
    if (!f) {
        return std::nullopt;
    }
    channel_config c;
    c.at = at(d, node);
    const std::size_t errors_before = errors_.size();
    if (const auto it = f->find("name"); it != f->end()) {
        if (auto x = read_identifier(d, it->second.second, join(path, "name"))) {
            c.name = *x;
            const auto [first, fresh] = channel_names_.emplace(c.name, at(d, it->second.second));
            if (!fresh) {
                fail(at(d, it->second.second), join(path, "name"),
                     "duplicate channel name \"" + c.name + "\" (first at " + first->second.str() +
                         ")");
            }
        }
    } else {
        fail(c.at, join(path, "name"), "missing (every channel needs a name)");
    }
    if (const auto it = f->find("type"); it != f->end()) {
        if (auto x = read_string(d, it->second.second, join(path, "type"))) {
            if (is_plugin_type(*x)) {
                c.type = *x;
            } else {
                fail(at(d, it->second.second), join(path, "type"),
                     "expected a plugin type of letters, digits, '_' or '-', got " +
                         describe(it->second.second));
            }
        }
    } else {
        fail(c.at, join(path, "type"), "missing (the plugin type, e.g. webhook or smtp)");
    }
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "concurrency") {
            assign_if(read_integer(d, v, key_path, 1, 4096), c.concurrency);
        } else if (key == "timeout") {
            assign_if(read_duration(d, v, key_path), c.timeout);
        } else if (key == "retry") {
            read_retry(d, v, key_path, c.retry);
        } else if (key == "options") {
            read_options(d, v, key_path, c);
        }
    }
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return c;
}

void loader::read_retry(const document& d, const YAML::Node& node, const std::string& path,
                        retry_policy& out) {
    const auto f =
        read_map(d, node, path, {"max_attempts", "initial_backoff", "max_backoff", "max_age"});
    if (!f) {
        return;
    }
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "max_attempts") {
            assign_if(read_integer(d, v, key_path, 1, 1000), out.max_attempts);
        } else if (key == "initial_backoff") {
            assign_if(read_duration(d, v, key_path), out.initial_backoff);
        } else if (key == "max_backoff") {
            assign_if(read_duration(d, v, key_path), out.max_backoff);
        } else if (key == "max_age") {
            assign_if(read_duration(d, v, key_path), out.max_age);
        }
    }
    if (out.initial_backoff > out.max_backoff) {
        fail(at(d, node), path,
             "initial_backoff (" + format_duration(out.initial_backoff) +
                 ") is longer than max_backoff (" + format_duration(out.max_backoff) + ")");
    }
}

void loader::read_options(const document& d, const YAML::Node& node, const std::string& path,
                          channel_config& out) {
    visit();
    if (!node.IsMap()) {
        fail(at(d, node), path, "expected a map of plugin options, got " + describe(node));
        return;
    }
    std::map<std::string, mark> seen;  // option key as passed to the plugin
    for (const auto& entry : node) {
        visit();
        if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
            fail(at(d, entry.first), path, "expected an option name, got " + describe(entry.first));
            continue;
        }
        const std::string& key = entry.first.Scalar();
        const std::string key_path = join(path, key);
        const YAML::Node& value = entry.second;
        if (std::find(inline_secret_keys.begin(), inline_secret_keys.end(), key) !=
            inline_secret_keys.end()) {
            fail(at(d, entry.first), key_path,
                 "secrets must come from a file: use " + key + "_file");
            continue;
        }
        const bool is_file = key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0;
        const std::string option_key = is_file ? key.substr(0, key.size() - 5) : key;
        if (const auto [first, fresh] = seen.emplace(option_key, at(d, entry.first)); !fresh) {
            fail(at(d, entry.first), key_path,
                 "option \"" + option_key + "\" is already set at " + first->second.str());
            continue;
        }
        if (!value.IsScalar()) {
            fail(at(d, value.IsNull() ? entry.first : value), key_path,
                 "plugin options are strings: expected a scalar value, got " + describe(value));
            continue;
        }
        channel_option option;
        option.key = option_key;
        option.at = at(d, value);
        if (is_file) {
            auto sec = read_secret(d, value, key_path);
            if (!sec) {
                continue;
            }
            option.value = std::move(sec->value);
            option.is_secret = true;
        } else {
            option.value = value.Scalar();
        }
        out.options.push_back(std::move(option));
    }
}

void loader::read_people(const document& d, const YAML::Node& node, const std::string& section,
                         std::vector<person>& out) {
    if (!expect_list(d, node, section)) {
        return;
    }
    const bool is_partner = section == "partners";
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index(section, i++);
        const auto f =
            is_partner
                ? read_map(d, item, path,
                           {"id", "name", "language", "timezone", "contacts", "sees"})
                : read_map(d, item, path, {"id", "name", "language", "timezone", "contacts"});
        if (!f) {
            continue;
        }
        person p;
        p.at = at(d, item);
        const std::size_t errors_before = errors_.size();
        if (const auto it = f->find("id"); it != f->end()) {
            if (auto x = read_identifier(d, it->second.second, join(path, "id"))) {
                p.id = *x;
                const auto [first, fresh] = declared_ids_[section].emplace(p.id, p.at);
                if (!fresh) {
                    fail(at(d, it->second.second), join(path, "id"),
                         "duplicate id \"" + p.id + "\" (first at " + first->second.str() + ")");
                }
            }
        } else {
            fail(p.at, join(path, "id"), "missing (every entry needs an id)");
        }
        for (const auto& [key, entry] : *f) {
            const YAML::Node& v = entry.second;
            const std::string key_path = join(path, key);
            if (key == "name") {
                assign_if(read_string(d, v, key_path), p.name);
            } else if (key == "language") {
                if (auto x = read_enum(d, v, key_path, {"en", "ru"})) {
                    p.language = *x;
                }
            } else if (key == "timezone") {
                if (auto x = read_string(d, v, key_path)) {
                    const bool plausible =
                        x->find("..") == std::string::npos && x->front() != '/' &&
                        std::all_of(x->begin(), x->end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' ||
                                   c == '_' || c == '-' || c == '+';
                        });
                    if (plausible) {
                        p.timezone = *x;
                    } else {
                        fail(at(d, v), key_path,
                             "expected a time zone like Europe/Berlin, got " + describe(v));
                    }
                }
            } else if (key == "sees") {
                if (expect_list(d, v, key_path)) {
                    std::size_t k = 0;
                    for (const auto& field : v) {
                        if (auto x = read_enum(d, field, index(key_path, k),
                                               {"subject", "text", "sender", "labels"})) {
                            p.sees.insert(*x);
                        }
                        ++k;
                    }
                }
            } else if (key == "contacts") {
                if (expect_list(d, v, key_path)) {
                    std::size_t k = 0;
                    for (const auto& c : v) {
                        const std::string contact_path = index(key_path, k++);
                        const auto cf = read_map(d, c, contact_path, {"channel", "address"});
                        if (!cf) {
                            continue;
                        }
                        contact ct;
                        ct.at = at(d, c);
                        for (const char* required : {"channel", "address"}) {
                            const auto it = cf->find(required);
                            if (it == cf->end()) {
                                fail(ct.at, join(contact_path, required), "missing");
                                continue;
                            }
                            if (auto x = read_string(d, it->second.second,
                                                     join(contact_path, required))) {
                                (std::string_view(required) == "channel" ? ct.channel
                                                                         : ct.address) = *x;
                                if (std::string_view(required) == "channel") {
                                    contact_refs_.push_back({*x, join(contact_path, required),
                                                             at(d, it->second.second)});
                                }
                            }
                        }
                        p.contacts.push_back(std::move(ct));
                    }
                }
                if (v.IsSequence() && v.size() == 0) {
                    fail(at(d, v), key_path, "must list at least one contact");
                }
            }
        }
        if (f->find("contacts") == f->end()) {
            fail(p.at, join(path, "contacts"),
                 "missing (at least one {channel, address} is needed)");
        }
        if (p.name.empty()) {
            p.name = p.id;
        }
        if (errors_.size() == errors_before) {
            out.push_back(std::move(p));
        }
    }
}

void loader::read_templates(const document& d, const YAML::Node& node) {
    visit();
    if (!node.IsMap()) {
        fail(
            at(d, node), "templates",
            "expected a map of channel type -> language -> {subject, body}, got " + describe(node));
        return;
    }
    for (const auto& by_type : node) {
        visit();
        const std::string type_path =
            join("templates", by_type.first.IsScalar() ? by_type.first.Scalar() : "?");
        if (!by_type.first.IsScalar() || !is_plugin_type(by_type.first.Scalar())) {
            fail(at(d, by_type.first), "templates",
                 "expected a channel type, got " + describe(by_type.first));
            continue;
        }
        const std::string& type = by_type.first.Scalar();
        const auto languages = read_map(d, by_type.second, type_path, {"en", "ru"});
        if (!languages) {
            continue;
        }
        for (const auto& [language, entry] : *languages) {
            const std::string path = join(type_path, language);
            const auto f = read_map(d, entry.second, path, {"subject", "body"});
            if (!f) {
                continue;
            }
            message_template t;
            t.at = at(d, entry.second);
            bool ok = true;
            for (const char* part : {"subject", "body"}) {
                const auto it = f->find(part);
                if (it == f->end()) {
                    fail(t.at, join(path, part),
                         "missing (a template needs both subject and body)");
                    ok = false;
                    continue;
                }
                if (auto x = read_string(d, it->second.second, join(path, part))) {
                    (std::string_view(part) == "subject" ? t.subject : t.body) = *x;
                } else {
                    ok = false;
                }
            }
            const auto [first, fresh] =
                template_marks_.emplace(std::make_pair(type, language), t.at);
            if (!fresh) {
                fail(at(d, entry.first), path,
                     "template already defined at " + first->second.str());
                continue;
            }
            if (ok) {
                cfg_.templates[type][language] = std::move(t);
            }
        }
    }
}

std::optional<rules::route_node> loader::read_route(const document& d, const YAML::Node& node,
                                                    const std::string& path, int depth,
                                                    bool is_root) {
    if (depth > max_route_depth) {
        fail(at(d, node), path,
             "routes nested deeper than " + std::to_string(max_route_depth) + " levels");
        return std::nullopt;
    }
    const auto f = read_map(
        d, node, path,
        {"name", "match", "keywords", "severity", "labels", "notify", "continue", "routes"});
    if (!f) {
        return std::nullopt;
    }
    rules::route_node r;
    r.at = at(d, node);
    const std::size_t errors_before = errors_.size();
    for (const auto& [key, entry] : *f) {
        const auto& [key_node, v] = entry;
        const std::string key_path = join(path, key);
        if (is_root && (key == "match" || key == "keywords" || key == "continue")) {
            fail(at(d, key_node), key_path,
                 "the root route always matches; put \"" + key + "\" on a child route");
            continue;
        }
        if (key == "name") {
            assign_if(read_identifier(d, v, key_path), r.name);
        } else if (key == "match") {
            if (!expect_list(d, v, key_path)) {
                continue;
            }
            std::size_t i = 0;
            for (const auto& item : v) {
                const std::string item_path = index(key_path, i++);
                auto spec = read_string(d, item, item_path);
                if (!spec) {
                    continue;
                }
                mark where = at(d, item);
                if (item.Tag() == "!") {
                    ++where.column;  // a quoted scalar: its text starts after the quote
                }
                auto m = rules::parse_matcher(*spec, where);
                if (!m) {
                    errors_.push_back(
                        make_error("config", item_path + ": " + m.err().message, m.err().context));
                    continue;
                }
                r.match.push_back(std::move(*m));
            }
        } else if (key == "keywords") {
            if (!expect_list(d, v, key_path)) {
                continue;
            }
            std::vector<std::string> words;
            std::size_t i = 0;
            for (const auto& item : v) {
                if (auto x = read_string(d, item, index(key_path, i))) {
                    words.push_back(*x);
                }
                ++i;
            }
            if (words.size() != v.size()) {
                continue;
            }
            auto k = rules::compile_keywords(words, at(d, v));
            if (!k) {
                errors_.push_back(
                    make_error("config", key_path + ": " + k.err().message, k.err().context));
                continue;
            }
            r.keywords = std::move(*k);
        } else if (key == "severity") {
            if (auto x = read_enum(d, v, key_path, {"critical", "high", "normal", "low"})) {
                r.severity = *x;
            }
        } else if (key == "labels") {
            visit();
            if (!v.IsMap()) {
                fail(at(d, v), key_path,
                     "expected a map of label names to values, got " + describe(v));
                continue;
            }
            for (const auto& label : v) {
                visit();
                if (!label.first.IsScalar() || !is_label_name(label.first.Scalar())) {
                    fail(at(d, label.first), key_path,
                         "expected a label name of letters, digits and '_', got " +
                             describe(label.first));
                    continue;
                }
                const std::string label_path = join(key_path, label.first.Scalar());
                if (r.labels.count(label.first.Scalar()) != 0) {
                    fail(at(d, label.first), label_path, "duplicate label");
                    continue;
                }
                if (label.second.IsNull()) {
                    fail(at(d, label.first), label_path,
                         "missing value (write \"\" for an empty label)");
                    continue;
                }
                if (auto x = read_string(d, label.second, label_path, true)) {
                    r.labels[label.first.Scalar()] = *x;
                }
            }
        } else if (key == "notify") {
            if (!expect_list(d, v, key_path)) {
                continue;
            }
            std::size_t i = 0;
            for (const auto& item : v) {
                const std::string item_path = index(key_path, i++);
                auto spec = read_string(d, item, item_path);
                if (!spec) {
                    continue;
                }
                auto t = rules::parse_target(*spec, at(d, item));
                if (!t) {
                    errors_.push_back(
                        make_error("config", item_path + ": " + t.err().message, t.err().context));
                    continue;
                }
                if (std::find(r.notify.begin(), r.notify.end(), *t) == r.notify.end()) {
                    r.notify.push_back(*t);
                }
                notify_refs_.push_back({std::move(*t), item_path});
            }
        } else if (key == "continue") {
            assign_if(read_bool(d, v, key_path), r.continue_matching);
        } else if (key == "routes") {
            if (!expect_list(d, v, key_path)) {
                continue;
            }
            std::size_t i = 0;
            for (const auto& item : v) {
                if (auto child = read_route(d, item, index(key_path, i), depth + 1, false)) {
                    r.routes.push_back(std::move(*child));
                }
                ++i;
            }
        }
    }
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return r;
}

// ----------------------------------------------------------------------------- after all files

void loader::check_references() {
    for (const auto& ref : contact_refs_) {
        if (channel_names_.count(ref.name) == 0) {
            std::vector<std::string> channel_names;
            for (const auto& [name, where] : channel_names_) {
                channel_names.push_back(name);
            }
            fail(ref.at, ref.path,
                 "unknown channel \"" + ref.name + "\"" + suggest(ref.name, channel_names));
        }
    }
    const auto& responder_ids = declared_ids_["responders"];
    const auto& partner_ids = declared_ids_["partners"];
    for (const auto& ref : notify_refs_) {
        const bool is_responder = ref.target.type == domain::target::kind::responder;
        const auto& ids = is_responder ? responder_ids : partner_ids;
        if (ids.count(ref.target.id) == 0) {
            std::vector<std::string> names;
            for (const auto& [id, where] : ids) {
                names.push_back(id);
            }
            fail(ref.target.at, ref.path,
                 std::string("unknown ") + (is_responder ? "responder" : "partner") + " \"" +
                     ref.target.id + "\"" + suggest(ref.target.id, names));
        }
    }
}

void loader::name_routes(rules::route_node& node) {
    for (std::size_t i = 0; i < node.routes.size(); ++i) {
        auto& child = node.routes[i];
        if (child.name.empty()) {
            child.name = node.name + "/routes[" + std::to_string(i) + "]";
        }
        name_routes(child);
    }
}

load_result loader::run(const std::string& path) {
    load_result result;
    cfg_.file = path;
    std::error_code ec;
    const fs::path main_path(path);
    cfg_.base_dir = fs::absolute(main_path, ec).parent_path().lexically_normal().string();
    cfg_.plugin_dir = default_plugin_dir();
    cfg_.secrets_dir = cfg_.base_dir;
    cfg_.storage.path = (fs::path(cfg_.base_dir) / cfg_.storage.path).lexically_normal().string();
    try {
        load_file(main_path, path, nullptr, "");
        if (docs_.empty()) {
            result.errors = std::move(errors_);
            return result;
        }
        // secrets_dir first: sources and channels read their secrets while being read.
        for (const auto& d : docs_) {
            if (!d.root.IsMap()) {
                continue;
            }
            for (const auto& entry : d.root) {
                if (entry.first.IsScalar() && entry.first.Scalar() == "secrets_dir") {
                    if (claim(d, "secrets_dir", entry.first)) {
                        if (auto s = read_string(d, entry.second, "secrets_dir")) {
                            cfg_.secrets_dir = resolve(d, *s);
                        }
                    }
                    break;
                }
            }
        }
        // systemd's LoadCredential= hands secrets over in this folder.
        if (const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
            credentials != nullptr && *credentials != '\0') {
            cfg_.secrets_dir = credentials;
        }
        for (const auto& d : docs_) {
            read_top(d);
        }
        if (const fs::path key(cfg_.storage.key_file); !key.is_absolute()) {
            cfg_.storage.key_file = (fs::path(cfg_.secrets_dir) / key).lexically_normal().string();
        }
        const document& main_doc = docs_.front();
        const mark main_at = at(main_doc, main_doc.root);
        if (cfg_.sources.empty() && source_names_.empty()) {
            fail(main_at, "sources", "at least one source is required");
        }
        if (!root_) {
            fail(main_at, "route",
                 "missing: exactly one `route:` (the root of the routing tree) is required");
        } else {
            for (auto& extra : extra_routes_) {
                root_->routes.push_back(std::move(extra));
            }
            root_->name = "root";
            name_routes(*root_);
        }
        check_references();
    } catch (const budget_exceeded&) {
        errors_.push_back(make_error("config",
                                     "too many YAML nodes (more than " +
                                         std::to_string(max_node_visits) +
                                         "; are aliases expanding?)",
                                     path));
    }
    if (!errors_.empty()) {
        result.errors = std::move(errors_);
        return result;
    }
    cfg_.route = std::move(*root_);
    result.cfg = std::make_shared<const config>(std::move(cfg_));
    return result;
}

}  // namespace

load_result load_config(const std::string& path) {
    loader l;
    return l.run(path);
}

const channel_config* config::find_channel(const std::string& name) const {
    const auto it = std::find_if(channels.begin(), channels.end(),
                                 [&](const auto& c) { return c.name == name; });
    return it == channels.end() ? nullptr : &*it;
}

const source_config* config::find_source(const std::string& name) const {
    const auto it =
        std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.name == name; });
    return it == sources.end() ? nullptr : &*it;
}

const person* config::find_responder(const std::string& id) const {
    const auto it = std::find_if(responders.begin(), responders.end(),
                                 [&](const auto& p) { return p.id == id; });
    return it == responders.end() ? nullptr : &*it;
}

const person* config::find_partner(const std::string& id) const {
    const auto it =
        std::find_if(partners.begin(), partners.end(), [&](const auto& p) { return p.id == id; });
    return it == partners.end() ? nullptr : &*it;
}

}  // namespace hotline::config
