// A fresh folder per test, removed afterwards, with a helper to write files into it.
#pragma once
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace hotline::test {

struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& prefix = "hotline-test") {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // Writes a file (creating folders) and returns its path as a string.
    std::string write(const std::string& name, const std::string& content) const {
        const std::filesystem::path file = path / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary);
        out << content;
        return file.string();
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace hotline::test
