// hotlinectl check --diff: which settings of a config file the running hotlined has not
// applied and will only apply on restart (issue 7, fault 9; app/restart_settings.hpp).
#pragma once
#include <string>

#include "app/validate.hpp"

namespace hotline::ctl {

struct diff_outcome {
    bool running{false};         // a record of a live hotlined was found
    bool restart_needed{false};  // some restart-only setting differs
    std::string text;            // for stdout, one finding per line
};

// Compares the file's restart-only settings with "<storage.path>.running.json".
[[nodiscard]] diff_outcome diff_running(const app::loaded_config& loaded);

}  // namespace hotline::ctl
