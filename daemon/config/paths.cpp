#include "config/paths.hpp"

#include <filesystem>
#include <system_error>

namespace hotline::config {

std::string default_plugin_dir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path dir = exe.parent_path();
        if (fs::equivalent(dir, HOTLINE_BUILD_BIN_DIR, ec) && !ec) {
            return HOTLINE_BUILD_PLUGIN_DIR;
        }
        const fs::path relocated = dir.parent_path() / HOTLINE_PLUGIN_INSTALL_RELDIR;
        if (fs::is_directory(relocated, ec)) {
            return relocated.lexically_normal().string();
        }
    }
    return HOTLINE_PLUGIN_INSTALL_DIR;
}

}  // namespace hotline::config
