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
    const auto& responder_ids = state.declared_ids["responders"];
    const auto& partner_ids = state.declared_ids["partners"];
    for (const auto& ref : state.notify_refs) {
        const bool is_responder = ref.target.type == domain::target::kind::responder;
        const auto& ids = is_responder ? responder_ids : partner_ids;
        if (ids.count(ref.target.id) == 0) {
            std::vector<std::string> names;
            for (const auto& [id, where] : ids) {
                names.push_back(id);
            }
            y.fail(ref.target.at, ref.path,
                   std::string("unknown ") + (is_responder ? "responder" : "partner") + " \"" +
                       ref.target.id + "\"" + suggest(ref.target.id, names));
        }
    }
}

}  // namespace hotline::config
