// libFuzzer target for the configuration loader: the input is up to four files separated by
// "--8<--" lines: hotline.yaml, then p1.yaml, p2.yaml and rules/p3.yaml, which the main
// file may include (by name or glob) and which may include each other. They are written to
// a private temporary folder and load_config runs on hotline.yaml. Checks the loader's
// promises: no crash and no escaping exception (alias bombs, include cycles and deep nesting
// end in an error), either a config or errors and never both, and every error names where
// it is (file:line:column, or the file).
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path& work_dir() {
    static const fs::path dir = [] {
        std::string templ = (fs::temp_directory_path() / "hotline-config-fuzz-XXXXXX").string();
        if (mkdtemp(templ.data()) == nullptr) {
            std::abort();
        }
        fs::create_directories(fs::path(templ) / "rules");
        return fs::path(templ);
    }();
    return dir;
}

void write_file(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parts = fuzz::split_parts(input, 4);
    static const std::array<const char*, 4> names{"hotline.yaml", "p1.yaml", "p2.yaml",
                                                  "rules/p3.yaml"};
    const auto& dir = work_dir();
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto path = dir / names[i];
        if (i < parts.size()) {
            write_file(path, parts[i]);
        } else {
            fs::remove(path);
        }
    }
    const auto main_file = (dir / names[0]).string();
    const auto r = config::load_config(main_file);
    require((r.cfg != nullptr) != !r.errors.empty());
    for (const auto& e : r.errors) {
        require(!e.message.empty() && !e.context.empty());
    }
    return 0;
}
