// `sources:` where reports come from (webhooks, IMAP mailboxes) and the tokens that authenticate
// them.
#include "config/sections.hpp"

#include <array>
#include <string_view>
#include <vector>

namespace hotline::config {

namespace {

// kind: webhook. Bearer tokens from token_file or token_files (several while rotating).
bool read_webhook(load_state& state, const document& d, const yaml_reader::fields& f,
                  const std::string& path, source_config& s) {
    yaml_reader& y = state.yaml;
    bool ok = true;
    const auto one = f.find("token_file");
    const auto many = f.find("token_files");
    if (one != f.end() && many != f.end()) {
        y.fail(y.at(d, many->second.first), join(path, "token_files"),
               "give either token_file or token_files, not both");
        ok = false;
    } else if (one != f.end()) {
        if (auto sec = y.read_secret(d, one->second.second, join(path, "token_file"))) {
            s.tokens.push_back(std::move(*sec));
        } else {
            ok = false;
        }
    } else if (many != f.end()) {
        const std::string list_path = join(path, "token_files");
        if (y.expect_list(d, many->second.second, list_path)) {
            std::size_t k = 0;
            for (const auto& file : many->second.second) {
                if (auto sec = y.read_secret(d, file, index(list_path, k))) {
                    s.tokens.push_back(std::move(*sec));
                } else {
                    ok = false;
                }
                ++k;
            }
            if (k == 0) {
                y.fail(y.at(d, many->second.second), list_path, "must name at least one file");
                ok = false;
            }
        } else {
            ok = false;
        }
    } else {
        y.fail(s.at, join(path, "token_file"),
               "missing (a webhook source needs token_file or token_files)");
        ok = false;
    }
    return ok;
}

constexpr std::array<std::string_view, 2> webhook_keys{"token_file", "token_files"};
constexpr std::array<std::string_view, 13> imap_keys{"host",
                                                     "port",
                                                     "tls",
                                                     "ca_file",
                                                     "username",
                                                     "password_file",
                                                     "mailbox",
                                                     "after_store",
                                                     "poll_interval",
                                                     "timeout",
                                                     "max_message_size",
                                                     "max_attachment_size",
                                                     "default_language"};

constexpr std::array<std::string_view, 13> sms_keys{"gateway",          "path",
                                                    "default_region",   "public_url",
                                                    "auth_token_file",  "signature_secret_file",
                                                    "signature_method", "token_file",
                                                    "secret_file",      "allowed_addresses",
                                                    "parts_timeout",    "default_language",
                                                    "receipt"};

// Reads the keys of one kind (after name and kind) into `s`; false when it reported an error.
using kind_reader = bool (*)(load_state& state, const document& d, const yaml_reader::fields& f,
                             const std::string& path, source_config& s);
struct source_kind {
    std::string_view name;
    key_span keys;  // besides name and kind
    kind_reader read;
};

// The kinds a `sources[]` entry may have; the first is the default. To add one (imap, an
// SMS gateway): write config/source_<kind>.cpp with its reader and keys, declare them in
// sections.hpp and add one row here; the fields go in config::source_config.
constexpr std::array<source_kind, 3> kinds{{
    {"webhook", webhook_keys, read_webhook},
    {"imap", imap_keys, read_imap},
    {"sms", sms_keys, read_sms},
}};

constexpr auto kind_names = [] {
    std::array<std::string_view, kinds.size()> names{};
    for (std::size_t i = 0; i < kinds.size(); ++i) {
        names[i] = kinds[i].name;
    }
    return names;
}();

// The kind an entry says it is, to know its keys before reading them; an unknown or
// unreadable kind is reported when `kind` itself is read, and the entry is read as the default.
const source_kind& kind_of(const YAML::Node& item) {
    if (item.IsMap()) {
        const YAML::Node kind = item["kind"];
        if (kind.IsDefined() && kind.IsScalar()) {
            for (const auto& k : kinds) {
                if (k.name == kind.Scalar()) {
                    return k;
                }
            }
        }
    }
    return kinds.front();
}

}  // namespace

void read_sources(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, node, "sources")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index("sources", i++);
        const source_kind& kind = kind_of(item);
        std::vector<std::string_view> keys{"name", "kind", "rate_limits"};
        keys.insert(keys.end(), kind.keys.begin(), kind.keys.end());
        const auto f = y.read_map(d, item, path, key_span(keys));
        if (!f) {
            continue;
        }
        source_config s;
        s.at = y.at(d, item);
        bool ok = true;
        if (const auto it = f->find("name"); it != f->end()) {
            if (auto x = y.read_identifier(d, it->second.second, join(path, "name"))) {
                s.name = *x;
                const auto [first, fresh] =
                    state.source_names.emplace(s.name, y.at(d, it->second.second));
                if (!fresh) {
                    y.fail(y.at(d, it->second.second), join(path, "name"),
                           "duplicate source name \"" + s.name + "\" (first at " +
                               first->second.str() + ")");
                    ok = false;
                }
            } else {
                ok = false;
            }
        } else {
            y.fail(s.at, join(path, "name"), "missing (every source needs a name)");
            ok = false;
        }
        if (const auto it = f->find("kind"); it != f->end()) {
            if (auto x =
                    y.read_enum(d, it->second.second, join(path, "kind"), key_span(kind_names))) {
                s.kind = *x;
            } else {
                ok = false;
            }
        }
        if (const auto it = f->find("rate_limits"); it != f->end()) {
            const auto errors = y.error_count();
            read_rate_limits(state, d, it->second.second, join(path, "rate_limits"), s.source_limit,
                             s.sender_limit);
            ok = ok && y.error_count() == errors;
        }
        if (!kind.read(state, d, *f, path, s)) {
            ok = false;
        }
        if (ok) {
            state.cfg.sources.push_back(std::move(s));
        }
    }
}

void finish_sources(load_state& state, const mark& main_at) {
    if (state.cfg.sources.empty() && state.source_names.empty()) {
        state.yaml.fail(main_at, "sources", "at least one source is required");
    }
}

}  // namespace hotline::config
