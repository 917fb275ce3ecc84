// Names used in one section and declared in another (contacts name channels, routes name
// responders and partners), checked once every file is read.
#include "config/sections.hpp"

namespace hotline::config {

void check_references(load_state& state) {
    yaml_reader& y = state.yaml;
    for (const auto& ref : state.contact_refs) {
        if (state.channel_names.count(ref.name) == 0) {
            std::vector<std::string> channel_names;
            for (const auto& [name, where] : state.channel_names) {
                channel_names.push_back(name);
            }
            y.fail(ref.at, ref.path,
                   "unknown channel \"" + ref.name + "\"" + suggest(ref.name, channel_names));
        }
    }
    for (const auto& ref : state.notify_refs) {
        std::string what;
        switch (ref.target.type) {
            case domain::target::kind::responder: what = "responder"; break;
            case domain::target::kind::partner: what = "partner"; break;
            case domain::target::kind::team: what = "team"; break;
            case domain::target::kind::schedule: what = "schedule"; break;
        }
        // declared_ids is keyed by the section: responders, partners, teams, schedules.
        const auto& ids = state.declared_ids[what + "s"];
        if (ids.count(ref.target.id) == 0) {
            std::vector<std::string> names;
            for (const auto& [id, where] : ids) {
                names.push_back(id);
            }
            y.fail(
                ref.target.at, ref.path,
                "unknown " + what + " \"" + ref.target.id + "\"" + suggest(ref.target.id, names));
        }
    }
}

}  // namespace hotline::config
