// Where things are when the config does not say.
#pragma once
#include <string>

namespace hotline::config {

// The channel module directory used when the config has no `plugin_dir:`. A binary run
// from the build tree uses build/plugins; an installed one <binary>/../lib/hotline/plugins
// when that exists (relocatable installs), else the configured install path
// (HOTLINE_PLUGIN_INSTALL_DIR, e.g. /usr/lib/hotline/plugins).
[[nodiscard]] std::string default_plugin_dir();

}  // namespace hotline::config
