// Setup shared by the channel module tests (plugin_*_test.cpp): channel blocks as the
// config loader hands them to the plugin host, with positions, so the tests can check
// that a module's complaint is reported at the option that caused it.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"

namespace hotline::plugin_test {

// One channel block in a configuration file; its options all stand at `option_column`.
struct channel_block {
    std::string file;
    std::string name;
    std::string type;
    int line{1};
    int column{1};
    int option_column{1};

    [[nodiscard]] config::channel_option option(std::string key, std::string value, int at_line,
                                                bool secret = false) const {
        return config::channel_option{std::move(key), std::move(value), secret,
                                      core::mark{file, at_line, option_column}};
    }

    [[nodiscard]] config::channel_config config(std::vector<config::channel_option> options) const {
        config::channel_config cfg;
        cfg.name = name;
        cfg.type = type;
        cfg.options = std::move(options);
        cfg.at = core::mark{file, line, column};
        return cfg;
    }
};

// validate_address refuses every one of `bad`, with a message that starts with `prefix`.
inline void check_addresses_refused(const dispatch::channel_instance& channel,
                                    const std::vector<std::string>& bad, std::string_view prefix) {
    for (const std::string& address : bad) {
        CAPTURE(address);
        const auto r = channel.validate_address(address);
        CHECK_FALSE(r.ok());
        if (!r.ok()) {
            CHECK(r.err().message.rfind(prefix, 0) == 0);
        }
    }
}

}  // namespace hotline::plugin_test
