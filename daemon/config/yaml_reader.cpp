#include "config/yaml_reader.hpp"

#include <glob.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include <yaml-cpp/depthguard.h>
#include <yaml.h>

#include "core/text.hpp"
#include "core/utf8.hpp"

namespace hotline::config {
namespace {

// yaml-cpp 0.7 (Debian 12) loops forever on some malformed input (e.g. an indented map
// followed by a line starting with ","), which would hang `hotlinectl check` and a SIGHUP
// reload. libyaml's parser, iterative and strict, checks the syntax first; yaml-cpp only
// sees text libyaml accepted. Found by tests/fuzz (config target).
struct libyaml_parser {
    yaml_parser_t p{};
    bool ok{yaml_parser_initialize(&p) != 0};
    libyaml_parser() = default;
    libyaml_parser(const libyaml_parser&) = delete;
    libyaml_parser& operator=(const libyaml_parser&) = delete;
    ~libyaml_parser() { yaml_parser_delete(&p); }
};

struct libyaml_event {
    yaml_event_t e{};
    libyaml_event() = default;
    libyaml_event(const libyaml_event&) = delete;
    libyaml_event& operator=(const libyaml_event&) = delete;
    ~libyaml_event() { yaml_event_delete(&e); }
};

struct syntax_problem {
    std::string message;
    int line{1};    // 1-based
    int column{1};  // 1-based
};

std::optional<syntax_problem> yaml_syntax_error(const std::string& text) {
    libyaml_parser parser;
    if (!parser.ok) {
        return syntax_problem{"cannot start the YAML parser", 1, 1};
    }
    yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    for (;;) {
        libyaml_event ev;
        if (yaml_parser_parse(&parser.p, &ev.e) == 0) {
            syntax_problem out;
            out.message = parser.p.problem != nullptr ? parser.p.problem : "syntax error";
            if (parser.p.context != nullptr) {
                out.message = std::string(parser.p.context) + ": " + out.message;
            }
            out.line = static_cast<int>(parser.p.problem_mark.line) + 1;
            out.column = static_cast<int>(parser.p.problem_mark.column) + 1;
            return out;
        }
        if (ev.e.type == YAML_STREAM_END_EVENT) {
            return std::nullopt;
        }
    }
}

}  // namespace

using core::edit_distance;
using core::make_error;
using core::parse_duration;

namespace {

namespace fs = std::filesystem;

// A configuration is a few kilobytes; megabytes mean a wrong file or an attack.
constexpr std::uintmax_t max_config_file_size = 4U << 20U;
constexpr std::size_t max_config_files = 256;
constexpr std::uintmax_t max_secret_size = 64U << 10U;
constexpr std::uintmax_t max_size_value = 1U << 30U;

const std::array<std::string_view, 4> inline_secret_keys{"token", "secret", "password", "api_key"};

bool is_identifier(std::string_view s) {
    if (s.empty() || s.size() > 128) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '_' || c == '-' || c == '.';
    });
}

bool has_glob_chars(std::string_view s) {
    return s.find_first_of("*?[") != std::string_view::npos;
}

// YAML forbids most control characters and yaml-cpp does not check encodings, so a
// binary file would otherwise turn into strange keys. Returns the offset of the first
// bad byte (a control character or the start of invalid UTF-8), if any.
std::optional<std::size_t> first_invalid_byte(std::string_view s) {
    const auto control = std::find_if(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20U && c != '\t' && c != '\n' && c != '\r') || c == 0x7FU;
    });
    const std::size_t first =
        std::min(static_cast<std::size_t>(control - s.begin()), core::find_invalid_utf8(s));
    if (first >= s.size()) {
        return std::nullopt;
    }
    return first;
}

mark position_of(const std::string& file, std::string_view text, std::size_t offset) {
    const std::string_view before = text.substr(0, offset);
    const auto newline = before.rfind('\n');
    const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const int column =
        1 + static_cast<int>(newline == std::string_view::npos ? offset : offset - newline - 1);
    return mark{file, line, column};
}

}  // namespace

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

bool is_plugin_type(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '_' || c == '-';
    });
}

bool is_inline_secret_key(std::string_view key) {
    return std::find(inline_secret_keys.begin(), inline_secret_keys.end(), key) !=
           inline_secret_keys.end();
}

// ----------------------------------------------------------------------------- errors

void yaml_reader::fail(const mark& at, const std::string& path, const std::string& message) {
    errors_.push_back(
        make_error("config", path.empty() ? message : path + ": " + message, at.str()));
}

mark yaml_reader::at(const document& d, const YAML::Node& node) {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) {
        return mark{d.file, 1, 1};
    }
    return mark{d.file, m.line + 1, m.column + 1};
}

void yaml_reader::visit() {
    if (++visits_ > max_node_visits) {
        throw budget_exceeded{};
    }
}

// ----------------------------------------------------------------------------- files

void yaml_reader::load(const std::string& path) {
    load_file(fs::path(path), path, nullptr, "");
}

std::string yaml_reader::resolve(const document& d, const std::string& p) {
    const fs::path given(p);
    return (given.is_absolute() ? given : d.dir / given).lexically_normal().string();
}

void yaml_reader::load_file(const fs::path& file, const std::string& shown, const mark* from,
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
    if (const auto bad = yaml_syntax_error(text)) {
        errors_.push_back(make_error("config", "invalid YAML: " + bad->message,
                                     mark{shown, bad->line, bad->column}.str()));
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

void yaml_reader::load_includes(std::size_t doc_index) {
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

std::optional<yaml_reader::fields> yaml_reader::read_map(const document& d, const YAML::Node& node,
                                                         const std::string& path, key_list known) {
    return read_map(d, node, path, key_span(known.begin(), known.size()));
}

std::optional<yaml_reader::fields> yaml_reader::read_map(const document& d, const YAML::Node& node,
                                                         const std::string& path, key_span known) {
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
            if (is_inline_secret_key(key) &&
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

bool yaml_reader::expect_list(const document& d, const YAML::Node& node, const std::string& path) {
    visit();
    if (!node.IsSequence()) {
        fail(at(d, node), path, "expected a list, got " + describe(node));
        return false;
    }
    return true;
}

std::optional<std::string> yaml_reader::read_string(const document& d, const YAML::Node& node,
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

std::optional<long long> yaml_reader::read_integer(const document& d, const YAML::Node& node,
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

std::optional<duration> yaml_reader::read_duration(const document& d, const YAML::Node& node,
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

std::optional<std::size_t> yaml_reader::read_size(const document& d, const YAML::Node& node,
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
    if (number > max_size_value / it->second || number * it->second > max_size_value) {
        fail(at(d, node), path, "size too large (limit 1GiB), got \"" + s + "\"");
        return std::nullopt;
    }
    if (number == 0) {
        fail(at(d, node), path, "expected a size above zero, got \"" + s + "\"");
        return std::nullopt;
    }
    return static_cast<std::size_t>(number * it->second);
}

std::optional<bool> yaml_reader::read_bool(const document& d, const YAML::Node& node,
                                           const std::string& path) {
    visit();
    if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
        return node.Scalar() == "true";
    }
    fail(at(d, node), path, "expected true or false, got " + describe(node));
    return std::nullopt;
}

std::optional<std::string> yaml_reader::read_enum(const document& d, const YAML::Node& node,
                                                  const std::string& path, key_list values) {
    return read_enum(d, node, path, key_span(values.begin(), values.size()));
}

std::optional<std::string> yaml_reader::read_enum(const document& d, const YAML::Node& node,
                                                  const std::string& path, key_span values) {
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

std::optional<std::string> yaml_reader::read_identifier(const document& d, const YAML::Node& node,
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

std::optional<secret> yaml_reader::read_secret(const document& d, const YAML::Node& node,
                                               const std::string& path) {
    auto name = read_string(d, node, path);
    if (!name) {
        return std::nullopt;
    }
    const fs::path given(*name);
    const fs::path file = given.is_absolute() ? given : fs::path(secrets_dir_) / given;
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
    value.resize(core::trim_end(value, "\r\n").size());
    if (value.empty()) {
        fail(at(d, node), path, "secret file \"" + file.string() + "\" is empty");
        return std::nullopt;
    }
    return secret{std::move(value), file.string()};
}

}  // namespace hotline::config
