// co_spawn completion that logs an escaped exception instead of dropping it (never `detached`).
#pragma once
#include <exception>
#include <string>

#include "core/log.hpp"

namespace hotline::core {

struct log_on_exception {
    std::string name;
    void operator()(const std::exception_ptr& e) const {
        if (!e) {
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("task={} failed: {}", name, ex.what());
        } catch (...) {
            spdlog::error("task={} failed with an unknown exception", name);
        }
    }
};

}  // namespace hotline::core
