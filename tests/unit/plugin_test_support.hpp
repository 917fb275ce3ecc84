// Setup shared by the channel module tests (plugin_*_test.cpp): channel blocks as the
// config loader hands them to the plugin host, with positions, so the tests can check
// that a module's complaint is reported at the option that caused it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace hotline::plugin_test {

// One channel block in a configuration file; its options all stand at `option_column`.
struct channel_block {
    std::string file;
    std::string name;
    std::string type;
    int line{1};
    int column{1};
    int option_column{1};

    [[nodiscard]] core::channel_option option(std::string key, std::string value, int at_line,
                                              bool secret = false) const {
        return core::channel_option{std::move(key), std::move(value), secret,
                                    core::mark{file, at_line, option_column}};
    }

    [[nodiscard]] core::channel_config config(std::vector<core::channel_option> options) const {
        core::channel_config cfg;
        cfg.name = name;
        cfg.type = type;
        cfg.options = std::move(options);
        cfg.at = core::mark{file, line, column};
        return cfg;
    }
};

}  // namespace hotline::plugin_test
