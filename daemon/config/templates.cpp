// `templates:` message templates per channel type and language (defaults in
// default_templates.cpp).
#include "config/sections.hpp"

#include <string_view>

namespace hotline::config {

void read_templates(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    y.visit();
    if (!node.IsMap()) {
        y.fail(
            y.at(d, node), "templates",
            "expected a map of channel type -> language -> {subject, body}, got " + describe(node));
        return;
    }
    for (const auto& by_type : node) {
        y.visit();
        const std::string type_path =
            join("templates", by_type.first.IsScalar() ? by_type.first.Scalar() : "?");
        if (!by_type.first.IsScalar() || !is_plugin_type(by_type.first.Scalar())) {
            y.fail(y.at(d, by_type.first), "templates",
                   "expected a channel type, got " + describe(by_type.first));
            continue;
        }
        const std::string& type = by_type.first.Scalar();
        const auto languages = y.read_map(d, by_type.second, type_path, {"en", "ru"});
        if (!languages) {
            continue;
        }
        for (const auto& [language, entry] : *languages) {
            const std::string path = join(type_path, language);
            const auto f = y.read_map(d, entry.second, path, {"subject", "body"});
            if (!f) {
                continue;
            }
            message_template t;
            t.at = y.at(d, entry.second);
            bool ok = true;
            for (const char* part : {"subject", "body"}) {
                const auto it = f->find(part);
                if (it == f->end()) {
                    y.fail(t.at, join(path, part),
                           "missing (a template needs both subject and body)");
                    ok = false;
                    continue;
                }
                if (auto x = y.read_string(d, it->second.second, join(path, part))) {
                    (std::string_view(part) == "subject" ? t.subject : t.body) = *x;
                } else {
                    ok = false;
                }
            }
            const auto [first, fresh] =
                state.template_marks.emplace(std::make_pair(type, language), t.at);
            if (!fresh) {
                y.fail(y.at(d, entry.first), path,
                       "template already defined at " + first->second.str());
                continue;
            }
            if (ok) {
                state.cfg.templates[type][language] = std::move(t);
            }
        }
    }
}

}  // namespace hotline::config
