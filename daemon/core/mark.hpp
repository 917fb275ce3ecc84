#pragma once
#include <string>

namespace hotline::core {

// Where something was written in a config file (1-based line and column).
struct mark {
    std::string file;
    int line{0};
    int column{0};
    [[nodiscard]] std::string str() const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(column);
    }
};

}  // namespace hotline::core
