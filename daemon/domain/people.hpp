// Responders, partners and admins: who can be notified, and how.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "core/mark.hpp"

namespace hotline::domain {

struct contact {
    std::string channel;  // channel instance name
    std::string address;  // URL, email address, phone; never logged
    core::mark at;
};

// Responders, partners and admins share this shape.
struct person {
    std::string id;
    std::string name;
    std::string language{"en"};  // en | ru: picks the template
    std::string timezone{"UTC"};
    std::vector<contact> contacts;  // tried in order when one fails for good
    // Partners only: report fields the partner may see (need-to-know). Ids, severity and
    // route labels are always sent; of subject, text, sender, labels only those listed.
    std::set<std::string> sees;
    // Responders and admins: the bearer token of the cases and silences API (the contents of
    // api_token_file), "" when none. A secret: never logged, never shown by hotlinectl.
    std::string api_token;
    core::mark at;
};

}  // namespace hotline::domain
