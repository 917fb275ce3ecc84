#include "config/model.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace hotline::config {

const channel_config* config::find_channel(const std::string& name) const {
    const auto it = std::find_if(channels.begin(), channels.end(),
                                 [&](const auto& c) { return c.name == name; });
    return it == channels.end() ? nullptr : &*it;
}

const source_config* config::find_source(const std::string& name) const {
    const auto it =
        std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.name == name; });
    return it == sources.end() ? nullptr : &*it;
}

rate_limits config::limits_for(const std::string& source) const {
    rate_limits out = server.limits;
    if (const source_config* s = find_source(source)) {
        out.source = s->source_limit.value_or(out.source);
        out.sender = s->sender_limit.value_or(out.sender);
    }
    return out;
}

const person* config::find_responder(const std::string& id) const {
    const auto it = std::find_if(responders.begin(), responders.end(),
                                 [&](const auto& p) { return p.id == id; });
    return it == responders.end() ? nullptr : &*it;
}

const person* config::find_partner(const std::string& id) const {
    const auto it =
        std::find_if(partners.begin(), partners.end(), [&](const auto& p) { return p.id == id; });
    return it == partners.end() ? nullptr : &*it;
}

const escalation_policy* config::find_policy(const std::string& id) const {
    for (const auto& p : policies) {
        if (p.id == id) {
            return &p;
        }
    }
    return nullptr;
}

const team* config::find_team(const std::string& id) const {
    const auto it =
        std::find_if(teams.begin(), teams.end(), [&](const auto& t) { return t.id == id; });
    return it == teams.end() ? nullptr : &*it;
}

const rules::schedule* config::find_schedule(const std::string& id) const {
    const auto it =
        std::find_if(schedules.begin(), schedules.end(), [&](const auto& s) { return s.id == id; });
    return it == schedules.end() ? nullptr : &*it;
}

std::optional<config::contact_owner> config::find_contact_owner(
    std::string_view address, bool ignore_case,
    const std::function<bool(const domain::contact&)>& accept) const {
    if (address.empty()) {
        return std::nullopt;
    }
    for (const auto* people : {&responders, &partners}) {
        for (const auto& who : *people) {
            for (const auto& c : who.contacts) {
                const bool same =
                    ignore_case ? core::iequals(c.address, address) : c.address == address;
                if (same && (!accept || accept(c))) {
                    return contact_owner{
                        (people == &responders ? "responder:" : "partner:") + who.id, &who, &c};
                }
            }
        }
    }
    return std::nullopt;
}

const checkin_enrollment* config::find_checkin(const std::string& id) const {
    const auto it =
        std::find_if(checkins.begin(), checkins.end(), [&](const auto& c) { return c.id == id; });
    return it == checkins.end() ? nullptr : &*it;
}

const checkin_enrollment* config::find_checkin_by_phone(const std::string& e164) const {
    const auto it = std::find_if(checkins.begin(), checkins.end(),
                                 [&](const auto& c) { return !e164.empty() && c.phone == e164; });
    return it == checkins.end() ? nullptr : &*it;
}

}  // namespace hotline::config
