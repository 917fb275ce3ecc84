// Logging through spdlog. Messages carry ids and key=value pairs, never report text,
// phone numbers or email addresses at info level or above.
#pragma once
#include <string>

#include <spdlog/spdlog.h>

namespace hotline::core {

// format: "text" or "json" (one JSON object per line); level: trace..error.
// Returns false on an unknown level or format (and changes nothing). The first call
// creates the logger (stderr) and makes it spdlog's default; later calls (a reload) change
// only its format and level, safely while other threads log.
bool init_logging(const std::string& format, const std::string& level);

}  // namespace hotline::core
