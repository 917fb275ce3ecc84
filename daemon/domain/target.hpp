// Whom a route or an escalation step notifies: `responder:ID` or `partner:ID`.
#pragma once
#include <string>

#include "core/mark.hpp"

namespace hotline::domain {

struct target {
    enum class kind { responder, partner };
    kind type{kind::responder};
    std::string id;
    core::mark at;
    [[nodiscard]] std::string str() const {
        return (type == kind::responder ? "responder:" : "partner:") + id;
    }
    friend bool operator==(const target& a, const target& b) {
        return a.type == b.type && a.id == b.id;
    }
};
}  // namespace hotline::domain
