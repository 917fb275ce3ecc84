// Top-level scalars: `secrets_dir:` (read before every section, which read secrets as they
// go), `plugin_dir:`, `public_url:` and `case_tag_prefix:`.
#include "config/sections.hpp"

#include <algorithm>
#include <cstdlib>

namespace hotline::config {

void read_secrets_dir(load_state& state) {
    yaml_reader& y = state.yaml;
    for (const auto& d : y.documents()) {
        if (!d.root.IsMap()) {
            continue;
        }
        for (const auto& entry : d.root) {
            if (entry.first.IsScalar() && entry.first.Scalar() == "secrets_dir") {
                if (claim(state, d, "secrets_dir", entry.first)) {
                    if (auto s = y.read_string(d, entry.second, "secrets_dir")) {
                        state.cfg.secrets_dir = yaml_reader::resolve(d, *s);
                    }
                }
                break;
            }
        }
    }
    // systemd's LoadCredential= hands secrets over in this folder.
    if (const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
        credentials != nullptr && *credentials != '\0') {
        state.cfg.secrets_dir = credentials;
    }
    y.set_secrets_dir(state.cfg.secrets_dir);
}

void read_plugin_dir(load_state& state, const document& d, const YAML::Node& value) {
    if (auto s = state.yaml.read_string(d, value, "plugin_dir")) {
        state.cfg.plugin_dir = yaml_reader::resolve(d, *s);
    }
}

void read_public_url(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (auto s = y.read_string(d, value, "public_url", true)) {
        if (!s->empty() && s->rfind("http://", 0) != 0 && s->rfind("https://", 0) != 0) {
            y.fail(y.at(d, value), "public_url",
                   "expected an http:// or https:// URL, got " + describe(value));
        } else {
            state.cfg.public_url = *s;
        }
    }
}

void read_case_tag_prefix(load_state& state, const document& d, const YAML::Node& value) {
    yaml_reader& y = state.yaml;
    if (auto s = y.read_string(d, value, "case_tag_prefix")) {
        // The tag goes into mail subjects and is found again in replies: no spaces or
        // brackets that a mail client could fold, quote or mangle.
        const bool ok =
            !s->empty() && s->size() <= 32 && std::all_of(s->begin(), s->end(), [](char c) {
                return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-';
            });
        if (!ok) {
            y.fail(y.at(d, value), "case_tag_prefix",
                   "expected 1 to 32 of A-Z a-z 0-9 _ -, got " + describe(value));
        } else {
            state.cfg.case_tag_prefix = *s;
        }
    }
}

}  // namespace hotline::config
