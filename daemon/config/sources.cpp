// `sources:` where reports come from (webhook today) and the tokens that authenticate them.
#include "config/sections.hpp"

namespace hotline::config {

void read_sources(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, node, "sources")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index("sources", i++);
        const auto f = y.read_map(d, item, path, {"name", "kind", "token_file", "token_files"});
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
            if (auto x = y.read_enum(d, it->second.second, join(path, "kind"), {"webhook"})) {
                s.kind = *x;
            } else {
                ok = false;
            }
        }
        const auto one = f->find("token_file");
        const auto many = f->find("token_files");
        if (one != f->end() && many != f->end()) {
            y.fail(y.at(d, many->second.first), join(path, "token_files"),
                   "give either token_file or token_files, not both");
            ok = false;
        } else if (one != f->end()) {
            if (auto sec = y.read_secret(d, one->second.second, join(path, "token_file"))) {
                s.tokens.push_back(std::move(*sec));
            } else {
                ok = false;
            }
        } else if (many != f->end()) {
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
