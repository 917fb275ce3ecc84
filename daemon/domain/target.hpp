// Whom a route or an escalation step notifies: `responder:ID`, `partner:ID`, `team:ID` (its
// members) or `schedule:ID` (whoever is on call when the step fires).
#pragma once
#include <string>

#include "core/mark.hpp"

namespace hotline::domain {

struct target {
    enum class kind { responder, partner, team, schedule };
    kind type{kind::responder};
    std::string id;
    core::mark at;
    [[nodiscard]] static const char* prefix(kind k) {
        switch (k) {
            case kind::responder: return "responder:";
            case kind::partner: return "partner:";
            case kind::team: return "team:";
            case kind::schedule: return "schedule:";
        }
        return "responder:";
    }
    [[nodiscard]] std::string str() const { return prefix(type) + id; }
    friend bool operator==(const target& a, const target& b) {
        return a.type == b.type && a.id == b.id;
    }
};
}  // namespace hotline::domain
