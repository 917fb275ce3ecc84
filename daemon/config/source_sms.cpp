// `sources[]` entries of kind: sms (an SMS gateway's inbound webhook; ingest/sms_gateway
// reads its requests, http/endpoints/sms mounts it).
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "config/sections.hpp"
#include "core/cidr.hpp"

namespace hotline::config {

namespace {

constexpr std::array<std::string_view, 4> gateways{"twilio", "vonage", "kannel", "smssync"};

// Which keys make sense for which gateway: one given to another gateway is an error, not
// silently ignored (a Kannel secret_file under a Twilio source protects nothing).
struct gateway_keys {
    std::string_view key;
    std::initializer_list<std::string_view> gateways;
};
const std::array<gateway_keys, 6> only_for{{
    {"auth_token_file", {"twilio"}},
    {"signature_secret_file", {"vonage"}},
    {"signature_method", {"vonage"}},
    {"token_file", {"vonage"}},
    {"secret_file", {"kannel", "smssync"}},
    {"allowed_addresses", {"vonage", "kannel"}},
}};

// A path segment the route table and a gateway's console both take as it is.
bool path_ok(std::string_view p) {
    if (!p.starts_with("/v1/") || p.size() <= 4 || p.size() > 200 || p.ends_with("/") ||
        p.find("//") != std::string_view::npos) {
        return false;
    }
    return std::all_of(p.begin(), p.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '/' || c == '-' || c == '_' || c == '.';
    });
}

bool language_ok(std::string_view l) {
    return l.size() >= 2 && l.size() <= 3 &&
           std::all_of(l.begin(), l.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool url_ok(std::string_view u) {
    const auto rest = u.starts_with("https://")  ? u.substr(8)
                      : u.starts_with("http://") ? u.substr(7)
                                                 : std::string_view{};
    if (rest.empty() || rest.front() == '/' || u.size() > 2000) {
        return false;
    }
    return std::all_of(u.begin(), u.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f &&
               c != '#';
    });
}

const std::set<std::string>& phone_regions() {
    static const std::set<std::string> regions = [] {
        std::set<std::string> r;
        i18n::phonenumbers::PhoneNumberUtil::GetInstance()->GetSupportedRegions(&r);
        return r;
    }();
    return regions;
}

}  // namespace

bool read_sms(load_state& state, const document& d, const yaml_reader::fields& f,
              const std::string& path, source_config& s) {
    yaml_reader& y = state.yaml;
    sms_source& m = s.sms;
    bool ok = true;
    const auto node = [&](std::string_view key) -> const YAML::Node* {
        const auto it = f.find(std::string(key));
        return it == f.end() ? nullptr : &it->second.second;
    };
    const auto key_node = [&](std::string_view key) -> const YAML::Node& {
        return f.find(std::string(key))->second.first;
    };
    const auto bad = [&](const YAML::Node& n, std::string_view key, const std::string& why) {
        y.fail(y.at(d, n), join(path, std::string(key)), why);
        ok = false;
    };
    const auto read_secret_key = [&](std::string_view key, secret& out) {
        if (const auto* n = node(key)) {
            if (auto x = y.read_secret(d, *n, join(path, std::string(key)))) {
                if (x->value.empty()) {
                    bad(*n, key, "secret file \"" + x->file + "\" is empty");
                } else {
                    out = std::move(*x);
                }
            } else {
                ok = false;
            }
        }
    };

    if (const auto* n = node("gateway")) {
        if (auto x = y.read_enum(d, *n, join(path, "gateway"), key_span(gateways))) {
            m.gateway = *x;
        } else {
            return false;
        }
    } else {
        y.fail(s.at, join(path, "gateway"), "missing (twilio, vonage, kannel or smssync)");
        return false;
    }
    for (const auto& [key, allowed] : only_for) {
        if (node(key) != nullptr &&
            std::find(allowed.begin(), allowed.end(), m.gateway) == allowed.end()) {
            bad(key_node(key), key, "does not apply to gateway " + m.gateway);
        }
    }

    m.path = "/v1/sms/" + s.name;
    if (const auto* n = node("path")) {
        if (auto x = y.read_string(d, *n, join(path, "path"))) {
            if (!path_ok(*x)) {
                bad(*n, "path",
                    "must start with /v1/ and hold only letters, digits, '/', '-', '_' and '.' "
                    "(no empty segment or trailing '/')");
            } else if (*x == "/v1/reports" || x->starts_with("/v1/reports/")) {
                bad(*n, "path", "is taken by the webhook endpoint");
            } else {
                m.path = *x;
            }
        } else {
            ok = false;
        }
    }
    if (!s.name.empty() || node("path") != nullptr) {
        const mark at = node("path") != nullptr ? y.at(d, *node("path")) : s.at;
        if (const auto [first, fresh] = state.sms_paths.emplace(m.path, at); !fresh) {
            y.fail(at, join(path, "path"),
                   "\"" + m.path + "\" is already the path of another sms source (at " +
                       first->second.str() + ")");
            ok = false;
        }
    }

    if (const auto* n = node("default_region")) {
        if (auto x = y.read_string(d, *n, join(path, "default_region"))) {
            if (phone_regions().count(*x) != 0) {
                m.default_region = *x;
            } else {
                std::vector<std::string> upper;
                std::string given = *x;
                std::transform(given.begin(), given.end(), given.begin(),
                               [](char c) { return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c; });
                const std::string hint = phone_regions().count(given) != 0
                                             ? "; did you mean \"" + given + "\"?"
                                             : std::string{};
                bad(*n, "default_region",
                    "must be an ISO 3166-1 alpha-2 region with a numbering plan (RU, UA, KZ, "
                    "GB...)" +
                        hint);
            }
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("public_url")) {
        if (auto x = y.read_string(d, *n, join(path, "public_url"))) {
            if (url_ok(*x)) {
                m.public_url = *x;
            } else {
                bad(*n, "public_url",
                    "expected the http:// or https:// URL the gateway calls, got " + describe(*n));
            }
        } else {
            ok = false;
        }
    }
    read_secret_key("auth_token_file", m.auth_token);
    read_secret_key("signature_secret_file", m.signature_secret);
    read_secret_key("token_file", m.token);
    read_secret_key("secret_file", m.shared_secret);
    if (const auto* n = node("signature_method")) {
        if (auto x = y.read_enum(d, *n, join(path, "signature_method"),
                                 {"md5hash", "md5", "sha1", "sha256", "sha512"})) {
            m.signature_method = *x;
        } else {
            ok = false;
        }
    }
    if (!m.token.value.empty()) {
        const bool segment_ok = m.token.value.size() >= 16 && m.token.value.size() <= 128 &&
                                std::all_of(m.token.value.begin(), m.token.value.end(), [](char c) {
                                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                           (c >= '0' && c <= '9') || c == '-' || c == '_';
                                });
        if (!segment_ok) {
            bad(*node("token_file"), "token_file",
                "the token goes into a URL path: 16 to 128 of A-Z a-z 0-9 - _");
        }
    }
    if (const auto* n = node("allowed_addresses")) {
        const std::string p = join(path, "allowed_addresses");
        if (y.expect_list(d, *n, p)) {
            std::size_t k = 0;
            for (const auto& item : *n) {
                if (auto x = y.read_string(d, item, index(p, k))) {
                    if (core::parse_cidr(*x)) {
                        m.allowed_addresses.push_back(*x);
                    } else {
                        y.fail(y.at(d, item), index(p, k),
                               "expected an address or CIDR range (10.0.0.0/8, 2001:db8::/32) "
                               "with no host bits set, got " +
                                   describe(item));
                        ok = false;
                    }
                } else {
                    ok = false;
                }
                ++k;
            }
            if (k == 0) {
                bad(*n, "allowed_addresses", "must list at least one address");
            }
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("parts_timeout")) {
        if (auto x = y.read_duration(d, *n, join(path, "parts_timeout"))) {
            if (*x < 10s || *x > 1h) {
                bad(*n, "parts_timeout", "must be between 10s and 1h");
            } else {
                m.parts_timeout = *x;
            }
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("default_language")) {
        if (auto x = y.read_string(d, *n, join(path, "default_language"))) {
            if (language_ok(*x)) {
                m.default_language = *x;
            } else {
                bad(*n, "default_language",
                    "must be an ISO 639 code of 2-3 lower-case letters (en, ru, uk)");
            }
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("receipt")) {
        const std::string p = join(path, "receipt");
        if (const auto g = y.read_map(d, *n, p, {"enabled", "channel", "text", "max_per_day"})) {
            sms_receipt& r = m.receipt;
            const auto at = [&](std::string_view key) -> const YAML::Node* {
                const auto it = g->find(std::string(key));
                return it == g->end() ? nullptr : &it->second.second;
            };
            if (const auto* e = at("enabled")) {
                if (auto x = y.read_bool(d, *e, join(p, "enabled"))) {
                    r.enabled = *x;
                } else {
                    ok = false;
                }
            }
            if (const auto* c = at("channel")) {
                if (auto x = y.read_identifier(d, *c, join(p, "channel"))) {
                    r.channel = *x;
                    state.contact_refs.push_back({*x, join(p, "channel"), y.at(d, *c)});
                } else {
                    ok = false;
                }
            }
            if (const auto* t = at("text")) {
                const std::string tp = join(p, "text");
                if (const auto texts = y.read_map(d, *t, tp, {"en", "ru"})) {
                    for (const auto& [lang, entry] : *texts) {
                        if (auto x = y.read_string(d, entry.second, join(tp, lang))) {
                            if (x->size() > 480) {
                                y.fail(y.at(d, entry.second), join(tp, lang),
                                       "is longer than 480 bytes (a receipt is one short SMS)");
                                ok = false;
                            } else {
                                r.text[lang] = *x;
                            }
                        } else {
                            ok = false;
                        }
                    }
                } else {
                    ok = false;
                }
            }
            if (const auto* x = at("max_per_day")) {
                if (auto v = y.read_integer(d, *x, join(p, "max_per_day"), 1, 10)) {
                    r.max_per_day = static_cast<unsigned>(*v);
                } else {
                    ok = false;
                }
            }
            if (r.enabled) {
                if (r.channel.empty() && at("channel") == nullptr) {
                    y.fail(y.at(d, *n), join(p, "channel"),
                           "missing (an enabled receipt is sent through an SMS channel)");
                    ok = false;
                }
                for (const char* lang : {"en", "ru"}) {
                    if (r.text.count(lang) == 0 && at("text") != nullptr) {
                        y.fail(y.at(d, *at("text")), join(join(p, "text"), lang),
                               "missing (a receipt needs its text in en and ru)");
                        ok = false;
                    }
                }
                if (at("text") == nullptr) {
                    y.fail(y.at(d, *n), join(p, "text"),
                           "missing (a receipt needs its text in en and ru)");
                    ok = false;
                }
            }
        } else {
            ok = false;
        }
    }

    // Each gateway needs at least one check that a request came from it.
    const auto need = [&](const std::string& key, const std::string& why) {
        y.fail(s.at, join(path, key), "missing (" + why + ")");
        ok = false;
    };
    if (m.gateway == "twilio" && node("auth_token_file") == nullptr) {
        need("auth_token_file",
             "Twilio requests are checked by X-Twilio-Signature, made with "
             "the account's auth token");
    } else if (m.gateway == "vonage" && node("signature_secret_file") == nullptr &&
               node("token_file") == nullptr && node("allowed_addresses") == nullptr) {
        need("signature_secret_file",
             "a vonage source needs signature_secret_file, token_file or allowed_addresses");
    } else if (m.gateway == "kannel" && node("secret_file") == nullptr &&
               node("allowed_addresses") == nullptr) {
        need("secret_file", "a kannel source needs secret_file and/or allowed_addresses");
    } else if (m.gateway == "smssync" && node("secret_file") == nullptr) {
        need("secret_file", "SMSSync requests are checked by the app's secret");
    }
    return ok;
}

}  // namespace hotline::config
