// `channels:` channel plugin instances: type, concurrency, max_queued, timeout, retry policy,
// the SMS host keys (max_segments, transliterate) and the options passed to the plugin
// (secrets from `*_file` options).
#include "config/sections.hpp"

#include <algorithm>
#include <string_view>

#include "core/duration.hpp"

namespace hotline::config {

namespace {

void read_retry(load_state& state, const document& d, const YAML::Node& node,
                const std::string& path, retry_policy& out) {
    yaml_reader& y = state.yaml;
    const auto f =
        y.read_map(d, node, path, {"max_attempts", "initial_backoff", "max_backoff", "max_age"});
    if (!f) {
        return;
    }
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "max_attempts") {
            assign_if(y.read_integer(d, v, key_path, 1, 1000), out.max_attempts);
        } else if (key == "initial_backoff") {
            assign_if(y.read_duration(d, v, key_path), out.initial_backoff);
        } else if (key == "max_backoff") {
            assign_if(y.read_duration(d, v, key_path), out.max_backoff);
        } else if (key == "max_age") {
            assign_if(y.read_duration(d, v, key_path), out.max_age);
        }
    }
    if (out.initial_backoff > out.max_backoff) {
        y.fail(y.at(d, node), path,
               "initial_backoff (" + core::format_duration(out.initial_backoff) +
                   ") is longer than max_backoff (" + core::format_duration(out.max_backoff) + ")");
    }
}

void read_options(load_state& state, const document& d, const YAML::Node& node,
                  const std::string& path, channel_config& out) {
    yaml_reader& y = state.yaml;
    y.visit();
    if (!node.IsMap()) {
        y.fail(y.at(d, node), path, "expected a map of plugin options, got " + describe(node));
        return;
    }
    std::map<std::string, mark> seen;  // option key as passed to the plugin
    for (const auto& entry : node) {
        y.visit();
        if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
            y.fail(y.at(d, entry.first), path,
                   "expected an option name, got " + describe(entry.first));
            continue;
        }
        const std::string& key = entry.first.Scalar();
        const std::string key_path = join(path, key);
        const YAML::Node& value = entry.second;
        if (is_inline_secret_key(key)) {
            y.fail(y.at(d, entry.first), key_path,
                   "secrets must come from a file: use " + key + "_file");
            continue;
        }
        const bool is_file = key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0;
        const std::string option_key = is_file ? key.substr(0, key.size() - 5) : key;
        if (const auto [first, fresh] = seen.emplace(option_key, y.at(d, entry.first)); !fresh) {
            y.fail(y.at(d, entry.first), key_path,
                   "option \"" + option_key + "\" is already set at " + first->second.str());
            continue;
        }
        if (!value.IsScalar()) {
            y.fail(y.at(d, value.IsNull() ? entry.first : value), key_path,
                   "plugin options are strings: expected a scalar value, got " + describe(value));
            continue;
        }
        channel_option option;
        option.key = option_key;
        option.at = y.at(d, value);
        if (is_file) {
            auto sec = y.read_secret(d, value, key_path);
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

std::optional<channel_config> read_channel(load_state& state, const document& d,
                                           const YAML::Node& node, const std::string& path) {
    yaml_reader& y = state.yaml;
    const auto f = y.read_map(d, node, path,
                              {"name", "type", "concurrency", "max_queued", "timeout", "retry",
                               "options", "max_segments", "transliterate"});
    if (!f) {
        return std::nullopt;
    }
    channel_config c;
    c.at = y.at(d, node);
    const std::size_t errors_before = y.error_count();
    if (const auto it = f->find("name"); it != f->end()) {
        if (auto x = y.read_identifier(d, it->second.second, join(path, "name"))) {
            c.name = *x;
            const auto [first, fresh] =
                state.channel_names.emplace(c.name, y.at(d, it->second.second));
            if (!fresh) {
                y.fail(y.at(d, it->second.second), join(path, "name"),
                       "duplicate channel name \"" + c.name + "\" (first at " +
                           first->second.str() + ")");
            }
        }
    } else {
        y.fail(c.at, join(path, "name"), "missing (every channel needs a name)");
    }
    if (const auto it = f->find("type"); it != f->end()) {
        if (auto x = y.read_string(d, it->second.second, join(path, "type"))) {
            if (is_plugin_type(*x)) {
                c.type = *x;
            } else {
                y.fail(y.at(d, it->second.second), join(path, "type"),
                       "expected a plugin type of letters, digits, '_' or '-', got " +
                           describe(it->second.second));
            }
        }
    } else {
        y.fail(c.at, join(path, "type"), "missing (the plugin type, e.g. webhook or smtp)");
    }
    for (const auto& [key, entry] : *f) {
        const YAML::Node& v = entry.second;
        const std::string key_path = join(path, key);
        if (key == "concurrency") {
            assign_if(y.read_integer(d, v, key_path, 1, 4096), c.concurrency);
        } else if (key == "max_queued") {
            assign_if(y.read_integer(d, v, key_path, 1, 1'000'000), c.max_queued);
        } else if (key == "timeout") {
            assign_if(y.read_duration(d, v, key_path), c.timeout);
        } else if (key == "retry") {
            read_retry(state, d, v, key_path, c.retry);
        } else if (key == "options") {
            read_options(state, d, v, key_path, c);
        } else if (key == "max_segments") {
            assign_if(y.read_integer(d, v, key_path, 1, 10), c.max_segments);
        } else if (key == "transliterate") {
            assign_if(y.read_bool(d, v, key_path), c.transliterate);
        }
        if ((key == "max_segments" || key == "transliterate") && c.sms_key.empty()) {
            c.sms_key = key;
            c.sms_key_at = y.at(d, entry.first);
        }
    }
    if (const auto it = f->find("max_queued");
        it != f->end() && y.error_count() == errors_before && c.max_queued < c.concurrency) {
        // Fewer jobs in memory than transfer slots would leave slots idle forever.
        y.fail(y.at(d, it->second.second), join(path, "max_queued"),
               "must be at least concurrency (" + std::to_string(c.concurrency) + "), got " +
                   std::to_string(c.max_queued));
    }
    if (y.error_count() != errors_before) {
        return std::nullopt;
    }
    return c;
}

}  // namespace

void read_channels(load_state& state, const document& d, const YAML::Node& node) {
    yaml_reader& y = state.yaml;
    if (!y.expect_list(d, node, "channels")) {
        return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
        const std::string path = index("channels", i++);
        if (auto c = read_channel(state, d, item, path)) {
            state.cfg.channels.push_back(std::move(*c));
        }
    }
}

}  // namespace hotline::config
