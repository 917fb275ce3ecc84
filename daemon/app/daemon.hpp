// hotlined: wires the subsystems on one io_context and runs until SIGTERM.
#pragma once
#include <string>

namespace hotline::app {

// Loads the config (exit 1 with every error on stderr when invalid), opens the store,
// starts dispatch and HTTP, reloads on SIGHUP, drains on SIGTERM/SIGINT. Returns the exit code.
[[nodiscard]] int run_daemon(const std::string& config_path);

}  // namespace hotline::app
