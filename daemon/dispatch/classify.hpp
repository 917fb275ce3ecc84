// Hands a transport's answer to the channel plugin for classification.
#pragma once
#include <string>

#include "dispatch/plugin_host.hpp"
#include "dispatch/transport.hpp"

namespace hotline::dispatch {

struct classified {
    hotline_outcome outcome{};
    std::string detail;       // the plugin's reason, else the transport error or status
    std::string provider_id;
};

[[nodiscard]] classified classify_reply(const channel_instance& channel,
                                        const transport_reply& reply);

}  // namespace hotline::dispatch
