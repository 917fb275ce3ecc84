// `sources[]` entries of kind: imap (a mailbox ingest/imap_source watches).
#include <cctype>
#include <string_view>

#include "config/sections.hpp"

namespace hotline::config {

namespace {

// True for localhost, 127.0.0.0/8 and ::1: the only hosts an IMAP session may reach in
// clear (a server on this machine; nothing crosses a network unencrypted).
bool loopback_host(std::string_view host) {
    if (host == "localhost" || host == "localhost." || host == "::1" || host == "[::1]") {
        return true;
    }
    if (!host.starts_with("127.")) {
        return false;
    }
    int dots = 0;
    for (const char c : host) {
        if (c == '.') {
            ++dots;
        } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
            return false;
        }
    }
    return dots == 3;
}

bool host_name_ok(std::string_view h) {
    if (h.empty() || h.size() > 253) {
        return false;
    }
    for (const char c : h) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) == 0 && c != '.' && c != '-' && c != ':' && c != '[' && c != ']') {
            return false;
        }
    }
    return true;
}

bool language_ok(std::string_view l) {
    if (l.size() < 2 || l.size() > 3) {
        return false;
    }
    for (const char c : l) {
        if (c < 'a' || c > 'z') {
            return false;
        }
    }
    return true;
}

// A mailbox or folder name: printable, no CR/LF or NUL (they could not be sent in a command).
bool folder_ok(std::string_view f) {
    if (f.empty() || f.size() > 255) {
        return false;
    }
    for (const char c : f) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool read_imap(load_state& state, const document& d, const yaml_reader::fields& f,
               const std::string& path, source_config& s) {
    yaml_reader& y = state.yaml;
    imap_source& m = s.imap;
    bool ok = true;
    const auto node = [&](std::string_view key) -> const YAML::Node* {
        const auto it = f.find(std::string(key));
        return it == f.end() ? nullptr : &it->second.second;
    };
    const auto key_at = [&](std::string_view key) {
        const auto it = f.find(std::string(key));
        return it == f.end() ? s.at : y.at(d, it->second.second);
    };
    const auto missing = [&](std::string_view key, const std::string& why) {
        y.fail(s.at, join(path, std::string(key)), "missing (" + why + ")");
        ok = false;
    };

    if (const auto* n = node("host")) {
        if (auto x = y.read_string(d, *n, join(path, "host"))) {
            if (host_name_ok(*x)) {
                m.host = *x;
            } else {
                y.fail(y.at(d, *n), join(path, "host"), "is not a host name or address");
                ok = false;
            }
        } else {
            ok = false;
        }
    } else {
        missing("host", "an imap source needs the server's host name");
    }
    if (const auto* n = node("tls")) {
        if (auto x = y.read_enum(d, *n, join(path, "tls"), {"tls", "starttls", "none"})) {
            m.tls = *x;
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("port")) {
        if (auto x = y.read_integer(d, *n, join(path, "port"), 1, 65535)) {
            m.port = static_cast<std::uint16_t>(*x);
        } else {
            ok = false;
        }
    } else {
        m.port = m.tls == "tls" ? 993 : 143;
    }
    if (m.tls == "none" && !m.host.empty() && !loopback_host(m.host)) {
        y.fail(key_at("tls"), join(path, "tls"),
               "none sends the password and every mail in clear: it is allowed only for a "
               "loopback host (127.0.0.1, ::1, localhost); use tls or starttls");
        ok = false;
    }
    if (const auto* n = node("ca_file")) {
        if (m.tls == "none") {
            y.fail(y.at(d, *n), join(path, "ca_file"), "has no effect with tls: none");
            ok = false;
        } else if (auto x = y.read_string(d, *n, join(path, "ca_file"))) {
            m.ca_file = yaml_reader::resolve(d, *x);
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("username")) {
        if (auto x = y.read_string(d, *n, join(path, "username"))) {
            m.username = *x;
        } else {
            ok = false;
        }
    } else {
        missing("username", "the IMAP login name");
    }
    if (const auto* n = node("password_file")) {
        if (auto x = y.read_secret(d, *n, join(path, "password_file"))) {
            m.password = std::move(*x);
        } else {
            ok = false;
        }
    } else {
        missing("password_file", "a file holding the IMAP password");
    }
    if (const auto* n = node("mailbox")) {
        if (auto x = y.read_string(d, *n, join(path, "mailbox"))) {
            if (folder_ok(*x)) {
                m.mailbox = *x;
            } else {
                y.fail(y.at(d, *n), join(path, "mailbox"), "has a control character");
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    if (const auto* n = node("after_store")) {
        const std::string p = join(path, "after_store");
        if (n->IsScalar()) {
            if (n->Scalar() == "seen") {
                m.move_to.clear();
            } else {
                y.fail(y.at(d, *n), p,
                       "expected seen or {move: FOLDER}, got \"" + n->Scalar() + "\"");
                ok = false;
            }
        } else if (const auto g = y.read_map(d, *n, p, {"move"})) {
            if (const auto it = g->find("move"); it != g->end()) {
                if (auto x = y.read_string(d, it->second.second, join(p, "move"))) {
                    if (!folder_ok(*x)) {
                        y.fail(y.at(d, it->second.second), join(p, "move"),
                               "has a control character");
                        ok = false;
                    } else if (*x == m.mailbox) {
                        y.fail(y.at(d, it->second.second), join(p, "move"),
                               "names the watched mailbox itself");
                        ok = false;
                    } else {
                        m.move_to = *x;
                    }
                } else {
                    ok = false;
                }
            } else {
                y.fail(y.at(d, *n), p, "give `seen` or `move: FOLDER`");
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    const auto read_bounded = [&](std::string_view key, duration& out, duration min, duration max) {
        if (const auto* n = node(key)) {
            const std::string p = join(path, std::string(key));
            if (auto x = y.read_duration(d, *n, p)) {
                if (*x < min || *x > max) {
                    y.fail(y.at(d, *n), p,
                           "must be between " + core::format_duration(min) + " and " +
                               core::format_duration(max));
                    ok = false;
                } else {
                    out = *x;
                }
            } else {
                ok = false;
            }
        }
    };
    read_bounded("poll_interval", m.poll_interval, 1s, 24h);
    read_bounded("timeout", m.timeout, 1s, 10min);
    const auto read_bytes = [&](std::string_view key, std::size_t& out) {
        if (const auto* n = node(key)) {
            if (auto x = y.read_size(d, *n, join(path, std::string(key)))) {
                out = *x;
            } else {
                ok = false;
            }
        }
    };
    read_bytes("max_message_size", m.max_message_size);
    read_bytes("max_attachment_size", m.max_attachment_size);
    if (const auto* n = node("default_language")) {
        if (auto x = y.read_string(d, *n, join(path, "default_language"))) {
            if (language_ok(*x)) {
                m.default_language = *x;
            } else {
                y.fail(y.at(d, *n), join(path, "default_language"),
                       "must be an ISO 639 code of 2-3 lower-case letters (en, ru, uk)");
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    return ok;
}

}  // namespace hotline::config
