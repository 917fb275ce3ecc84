// Logging through spdlog. Messages carry ids and key=value pairs, never report text,
// phone numbers or email addresses at info level or above.
#pragma once
#include <string>

#include <spdlog/spdlog.h>

namespace hotline::core {

// format: "text" or "json" (one JSON object per line); level: trace..error.
// Returns false on an unknown level or format.
bool init_logging(const std::string& format, const std::string& level);

}  // namespace hotline::core
