// The smtp channel: turns an alert into one RFC 5322 message for the host's SMTP
// transport and classifies the server's answer.
//
// C++ inside, a C ABI outside: every entry point catches everything, because an
// exception unwinding into the host's C frames is undefined behaviour.
#include <hotline/channel.h>

#include "../common/plugin_support.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

struct hotline_channel {
    std::string url;        // as configured, plus "/<helo>" when set
    std::string from_name;  // display name, may be empty
    std::string from_addr;
    std::string from_domain;
    std::string username;
    std::string password;
    int tls{0};  // hotline_request.use_tls
    bool insecure_skip_verify{false};
};

namespace {

using hotline_plugin_support::dup;
using hotline_plugin_support::guarded;
using hotline_plugin_support::guarded_classify;
using hotline_plugin_support::has_control;
using hotline_plugin_support::is_control;
using hotline_plugin_support::parse_bool;
using hotline_plugin_support::set_error;
using hotline_plugin_support::set_outcome;
using hotline_plugin_support::starts_with_ci;
using hotline_plugin_support::trim;
using hotline_plugin_support::view_or_empty;

// Empty = plausible, else the reason. Deliberately stricter than RFC 5321 (no quoted
// local parts, no address literals): what reaches a header must not need escaping.
std::string check_email(std::string_view addr) {
    if (addr.empty()) {
        return "is empty";
    }
    if (addr.size() > 254) {
        return "is longer than 254 characters";
    }
    for (char c : addr) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return "contains a space or control character";
        }
        if (std::strchr("<>,;:\"()[]\\", c) != nullptr) {
            return "contains a character not allowed in an address";
        }
    }
    const auto at = addr.find('@');
    if (at == std::string_view::npos || addr.find('@', at + 1) != std::string_view::npos) {
        return "must have exactly one @";
    }
    const auto local = addr.substr(0, at);
    const auto domain = addr.substr(at + 1);
    if (local.empty() || local.size() > 64) {
        return "has an empty or too long local part";
    }
    if (domain.empty() || domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos) {
        return "has a bad domain";
    }
    for (char c : domain) {
        const auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) != 0 || c == '-' || c == '.' || u >= 0x80)) {
            return "has a bad domain";
        }
    }
    return {};
}

// Replaces invalid UTF-8 with U+FFFD so an encoded word never carries broken bytes.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        std::uint32_t min = 0;
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            min = 0x10000;
        }
        bool ok = len != 0 && i + len <= s.size();
        std::uint32_t cp = ok ? (c & (0xFF >> (len + 1))) : 0;
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3F);
        }
        ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out.append("\xEF\xBF\xBD");
            ++i;
        }
    }
    return out;
}

// Header text: one line, valid UTF-8. CR/LF (and other controls) become spaces, so
// hostile input can never start a header line of its own.
std::string header_text(std::string_view s) {
    std::string out = valid_utf8(s);
    for (char& c : out) {
        if (is_control(static_cast<unsigned char>(c))) {
            c = ' ';
        }
    }
    return out;
}

std::string base64(std::string_view data) {
    if (data.empty()) {
        return {};
    }
    const std::size_t cap = sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL);
    std::string out(cap, '\0');
    sodium_bin2base64(out.data(), cap, reinterpret_cast<const unsigned char*>(data.data()),
                      data.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::size_t utf8_sequence_length(unsigned char lead) {
    if ((lead & 0xE0) == 0xC0) {
        return 2;
    }
    if ((lead & 0xF0) == 0xE0) {
        return 3;
    }
    if ((lead & 0xF8) == 0xF0) {
        return 4;
    }
    return 1;
}

// RFC 2047 B encoded words of at most 75 characters each: "=?UTF-8?B?" + base64 + "?="
// leaves 63 characters of base64, i.e. 45 bytes of text. A UTF-8 sequence is never
// split across two words (RFC 2047 section 5: each word must decode on its own).
std::vector<std::string> encoded_words(std::string_view utf8) {
    constexpr std::size_t max_bytes = 45;
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start < utf8.size()) {
        std::size_t end = start;
        while (end < utf8.size()) {
            const std::size_t len = utf8_sequence_length(static_cast<unsigned char>(utf8[end]));
            if (end + len - start > max_bytes) {
                break;
            }
            end += len;
        }
        words.push_back("=?UTF-8?B?" + base64(utf8.substr(start, end - start)) + "?=");
        start = end;
    }
    return words;
}

bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f;
    });
}

// "Name: value" for unstructured text (Subject), folded at spaces to stay near 78
// characters; non-ASCII text becomes encoded words, one per line.
std::string unstructured_header(std::string_view name, std::string_view raw) {
    const std::string text = header_text(raw);
    std::string line = std::string(name) + ": ";
    const bool has_long_word = [&] {
        std::size_t run = 0;
        for (char c : text) {
            run = c == ' ' ? 0 : run + 1;
            if (run > 900) {
                return true;
            }
        }
        return false;
    }();
    // A leading "=?" could be mistaken for an encoded word by a reader.
    if (printable_ascii(text) && !has_long_word && text.find("=?") == std::string::npos) {
        std::size_t column = line.size();
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == ' ' && column > name.size() + 2) {
                const std::size_t next = text.find(' ', i + 1);
                const std::size_t word = (next == std::string::npos ? text.size() : next) - i;
                if (column + word > 78) {
                    line += "\r\n";
                    column = 0;
                }
            }
            line.push_back(text[i]);
            ++column;
        }
        return line + "\r\n";
    }
    const auto words = encoded_words(text);
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) {
            line += "\r\n ";
        }
        line += words[i];
    }
    return line + "\r\n";
}

// A display name as an RFC 5322 phrase: atoms as they are, other ASCII quoted,
// non-ASCII as encoded words.
std::string phrase(std::string_view raw) {
    const std::string text = header_text(raw);
    if (!printable_ascii(text)) {
        std::string out;
        for (const auto& w : encoded_words(text)) {
            out += (out.empty() ? "" : " ") + w;
        }
        return out;
    }
    const bool atom_text = std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               std::strchr(" !#$%&'*+-/=?^_`{|}~", c) != nullptr;
    });
    if (atom_text && text.find("=?") == std::string::npos) {
        return text;
    }
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out + "\"";
}

std::string rfc5322_date(std::int64_t unix_seconds) {
    static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                  days.at(static_cast<std::size_t>(tm.tm_wday) % 7), tm.tm_mday,
                  months.at(static_cast<std::size_t>(tm.tm_mon) % 12), tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

// Text body: CRLF line ends (the canonical form base64 must encode), valid UTF-8.
std::string canonical_body(std::string_view raw) {
    const std::string text = valid_utf8(raw);
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string base64_lines(std::string_view data) {
    const std::string encoded = base64(data);
    std::string out;
    for (std::size_t i = 0; i < encoded.size(); i += 76) {
        out.append(encoded, i, 76);
        out += "\r\n";
    }
    return out;
}

// Only characters that are safe in a msg-id's left part.
std::string msg_id_part(std::string_view key) {
    std::string out;
    for (char c : key) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(std::isalnum(u) != 0 || std::strchr(".-_+=", c) != nullptr ? c : '_');
    }
    return out;
}

// The first 8 hex digits of SHA-256(key): names one notification in its Message-ID without
// putting the (unguessable) key itself, or any byte of it, into a header.
std::string key_hash8(std::string_view key) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < 4; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0xf]);
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
}

// "[HOTLINE #42]" as the host sets it in payload["case_tag"]; anything else is ignored, so
// a strange payload can never put more than a tag into the subject.
bool is_case_tag(std::string_view tag) {
    if (tag.size() < 5 || tag.front() != '[' || tag.back() != ']') {
        return false;
    }
    const auto inner = tag.substr(1, tag.size() - 2);
    const auto hash = inner.find(" #");
    if (hash == std::string_view::npos || hash == 0 || hash > 32) {
        return false;
    }
    const auto prefix = inner.substr(0, hash);
    return std::all_of(prefix.begin(), prefix.end(),
                       [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ||
                                  c == '-';
                       }) &&
           all_digits(inner.substr(hash + 2));
}

bool contains_ci(std::string_view text, std::string_view needle) {
    if (needle.size() > text.size()) {
        return false;
    }
    for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
        bool same = true;
        for (std::size_t k = 0; k < needle.size() && same; ++k) {
            same = std::tolower(static_cast<unsigned char>(text[i + k])) ==
                   std::tolower(static_cast<unsigned char>(needle[k]));
        }
        if (same) {
            return true;
        }
    }
    return false;
}

std::string token_or_empty(std::string_view s) {
    if (s.size() > 32 || !std::all_of(s.begin(), s.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
        })) {
        return {};
    }
    return std::string(s);
}

// "Name <addr>" or "addr". Empty = fine, else the reason.
std::string parse_from(std::string_view value, hotline_channel& ch) {
    if (has_control(value)) {
        return "contains a control character";
    }
    value = trim(value);
    std::string_view addr = value;
    std::string_view name;
    if (!value.empty() && value.back() == '>') {
        const auto open = value.rfind('<');
        if (open == std::string_view::npos) {
            return "has a '>' without '<'";
        }
        addr = value.substr(open + 1, value.size() - open - 2);
        name = trim(value.substr(0, open));
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        }
    }
    if (const std::string why = check_email(addr); !why.empty()) {
        return "address " + why;
    }
    ch.from_name = std::string(name);
    ch.from_addr = std::string(addr);
    ch.from_domain = ch.from_addr.substr(ch.from_addr.find('@') + 1);
    return {};
}

// Empty = fine. Sets `secure` for smtps://.
// True for localhost, 127.0.0.0/8 and ::1: the only hosts plaintext SMTP may reach without
// allow_plaintext (a relay on the same machine; nothing crosses a network in clear).
bool is_loopback_authority(std::string_view authority) {
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    std::string_view host;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = authority.substr(1, close - 1);
        return host == "::1";
    }
    host = authority.substr(0, authority.find(':'));
    if (host == "localhost" || host == "localhost.") {
        return true;
    }
    // 127.a.b.c, all numeric.
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

std::string check_smtp_url(std::string_view url, bool& secure, bool& has_path, bool& loopback) {
    if (has_control(url) || url.find(' ') != std::string_view::npos) {
        return "contains a space or control character";
    }
    std::string_view rest;
    if (starts_with_ci(url, "smtp://")) {
        secure = false;
        rest = url.substr(7);
    } else if (starts_with_ci(url, "smtps://")) {
        secure = true;
        rest = url.substr(8);
    } else {
        return "must be an smtp:// or smtps:// URL";
    }
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    if (authority.empty() || authority.front() == ':' || authority.front() == '@') {
        return "has no host";
    }
    has_path = slash != std::string_view::npos && slash + 1 < rest.size();
    loopback = is_loopback_authority(authority);
    return {};
}

hotline_channel* smtp_create(const hotline_kv* options, size_t n_options,
                             hotline_error* err) noexcept {
    return guarded(
        err, "out of memory", static_cast<hotline_channel*>(nullptr), [&]() -> hotline_channel* {
            if (sodium_init() < 0) {
                set_error(err, "", "libsodium failed to initialise");
                return nullptr;
            }
            auto ch = std::make_unique<hotline_channel>();
            std::string tls;
            std::string helo;
            bool have_url = false;
            bool have_from = false;
            bool have_password = false;
            bool secure = false;
            bool has_path = false;
            bool loopback = false;
            bool allow_plaintext = false;
            for (std::size_t i = 0; i < n_options; ++i) {
                const std::string_view key = view_or_empty(options[i].key);
                const std::string_view value = view_or_empty(options[i].value);
                if (key == "url") {
                    if (const std::string why = check_smtp_url(value, secure, has_path, loopback);
                        !why.empty()) {
                        set_error(err, key, "url " + why);
                        return nullptr;
                    }
                    ch->url = value;
                    have_url = true;
                } else if (key == "from") {
                    if (const std::string why = parse_from(value, *ch); !why.empty()) {
                        set_error(err, key,
                                  "from " + why + " (want \"Name <addr@domain>\" or addr@domain)");
                        return nullptr;
                    }
                    have_from = true;
                } else if (key == "username") {
                    if (value.empty() || has_control(value)) {
                        set_error(err, key, "username is empty or has a control character");
                        return nullptr;
                    }
                    ch->username = value;
                } else if (key == "password") {
                    ch->password = value;
                    have_password = true;
                } else if (key == "tls") {
                    if (value != "none" && value != "starttls" && value != "tls") {
                        set_error(err, key, "tls must be none, starttls or tls");
                        return nullptr;
                    }
                    tls = value;
                } else if (key == "allow_plaintext") {
                    if (!parse_bool(value, allow_plaintext)) {
                        set_error(err, key, "must be true or false");
                        return nullptr;
                    }
                } else if (key == "insecure_skip_verify") {
                    if (!parse_bool(value, ch->insecure_skip_verify)) {
                        set_error(err, key, "must be true or false");
                        return nullptr;
                    }
                } else if (key == "helo") {
                    const bool ok = !value.empty() && value.size() <= 253 &&
                                    std::all_of(value.begin(), value.end(), [](char c) {
                                        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                                               c == '-' || c == '.';
                                    });
                    if (!ok) {
                        set_error(err, key, "helo must be a host name");
                        return nullptr;
                    }
                    helo = value;
                } else {
                    set_error(err, key,
                              "unknown option (known: url, from, username, password_file, tls, "
                              "allow_plaintext, insecure_skip_verify, helo)");
                    return nullptr;
                }
            }
            if (!have_url) {
                set_error(err, "url", "url is required (smtp://host:port or smtps://host:port)");
                return nullptr;
            }
            if (!have_from) {
                set_error(err, "from", "from is required");
                return nullptr;
            }
            if (have_password != !ch->username.empty()) {
                set_error(err, have_password ? "password" : "username",
                          "username and password_file go together");
                return nullptr;
            }
            // Mail in clear crosses networks readable by anyone on the path: smtp:// means
            // STARTTLS required unless the admin says `tls: none`, which is only accepted
            // for a relay on this machine or with allow_plaintext: true.
            if (tls.empty()) {
                tls = secure ? "tls" : "starttls";
            }
            if (tls == "none" && !loopback && !allow_plaintext) {
                set_error(err, "tls",
                          "tls: none sends mail and passwords in clear; it is allowed only for "
                          "a loopback host (127.0.0.1, ::1, localhost) or with "
                          "allow_plaintext: true");
                return nullptr;
            }
            if (tls == "tls" && !secure) {
                set_error(
                    err, "tls",
                    "tls: tls (implicit TLS) needs an smtps:// url; use starttls for smtp://");
                return nullptr;
            }
            if (tls != "tls" && secure) {
                set_error(err, "tls", "an smtps:// url always uses implicit TLS (tls: tls)");
                return nullptr;
            }
            ch->tls = tls == "none" ? 0 : (tls == "starttls" ? 1 : 2);
            if (!helo.empty()) {
                if (has_path) {
                    set_error(err, "helo",
                              "helo conflicts with a path in url (libcurl takes the "
                              "EHLO name from the url path)");
                    return nullptr;
                }
                // libcurl sends the url's path as the EHLO/HELO domain.
                while (!ch->url.empty() && ch->url.back() == '/') {
                    ch->url.pop_back();
                }
                ch->url += "/" + helo;
            }
            return ch.release();
        });
}

int smtp_validate_address(hotline_channel* /*ch*/, const char* address,
                          hotline_error* err) noexcept {
    return guarded(err, "out of memory", 1, [&] {
        const std::string why = check_email(address != nullptr ? address : "");
        if (!why.empty()) {
            set_error(err, "", "email address " + why);
            return 1;
        }
        return 0;
    });
}

std::string build_message(const hotline_channel& ch, const hotline_alert& alert,
                          const std::string& to) {
    const auto payload = nlohmann::json::parse(
        alert.payload_json != nullptr ? alert.payload_json : "{}", nullptr, false);
    std::string case_id;
    std::string case_tag;
    if (payload.is_object()) {
        const auto it = payload.find("case_id");
        if (it != payload.end() && (it->is_number_integer() || it->is_number_unsigned())) {
            case_id = it->dump();
        }
        const auto tag = payload.find("case_tag");
        if (tag != payload.end() && tag->is_string() &&
            is_case_tag(tag->get_ref<const std::string&>())) {
            case_tag = tag->get<std::string>();
        }
    }
    // A case's alerts thread together in mail clients: each names the case and the
    // notification (stable across retries), and all refer to one root id per case that
    // is never sent itself. ingest/threading.cpp recognises both forms in replies.
    const std::string key = alert.idempotency_key != nullptr ? alert.idempotency_key : "";
    const std::string notification_id =
        alert.notification_id != nullptr ? alert.notification_id : "";
    const bool threaded = all_digits(case_id) && case_id != "0" && all_digits(notification_id);
    const std::string case_root = "<hotline.c" + case_id + "@" + ch.from_domain + ">";
    const std::string message_id =
        threaded ? "<hotline.c" + case_id + ".n" + notification_id + "." + key_hash8(key) + "@" +
                       ch.from_domain + ">"
                 : "<hotline-" + msg_id_part(key) + "@" + ch.from_domain + ">";
    std::string subject = alert.subject != nullptr ? alert.subject : "";
    if (!case_tag.empty() && !contains_ci(subject, case_tag)) {
        subject = case_tag + " " + subject;  // a custom template left the tag out
    }
    std::string severity = token_or_empty(alert.severity != nullptr ? alert.severity : "");
    if (severity.empty() && payload.is_object() && payload.contains("severity") &&
        payload["severity"].is_string()) {
        severity = token_or_empty(payload["severity"].get<std::string>());
    }

    std::string m;
    m += "Date: " + rfc5322_date(alert.now_unix) + "\r\n";
    m += "From: ";
    if (!ch.from_name.empty()) {
        m += phrase(ch.from_name) + " ";
    }
    m += "<" + ch.from_addr + ">\r\n";
    m += "To: <" + to + ">\r\n";
    m += unstructured_header("Subject", subject);
    m += "Message-ID: " + message_id + "\r\n";
    if (threaded) {
        m += "In-Reply-To: " + case_root + "\r\n";
        m += "References: " + case_root + "\r\n";
    }
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: text/plain; charset=utf-8\r\n";
    m += "Content-Transfer-Encoding: base64\r\n";
    if (!case_id.empty()) {
        m += "X-Hotline-Case: " + case_id + "\r\n";
    }
    if (!severity.empty()) {
        m += "X-Hotline-Severity: " + severity + "\r\n";
    }
    m += "Auto-Submitted: auto-generated\r\n";
    m += "\r\n";
    m += base64_lines(canonical_body(alert.body != nullptr ? alert.body : ""));
    return m;
}

int smtp_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
               hotline_error* err) noexcept {
    return guarded(err, "out of memory while building the message", 1, [&] {
        const std::string to = alert->address != nullptr ? alert->address : "";
        if (const std::string why = check_email(to); !why.empty()) {
            set_error(err, "", "email address " + why);
            return 1;
        }
        const std::string message = build_message(*ch, *alert, to);
        out->transport = HOTLINE_TRANSPORT_SMTP;
        out->url = dup(ch->url);
        out->mail_from = dup(ch->from_addr);
        out->rcpt = static_cast<char**>(std::calloc(1, sizeof(char*)));
        if (out->rcpt == nullptr) {
            throw std::bad_alloc();
        }
        out->rcpt[0] = dup(to);
        out->n_rcpt = 1;
        out->body = dup(message);
        out->body_len = message.size();
        if (!ch->username.empty()) {
            out->username = dup(ch->username);
            out->password = dup(ch->password);
        }
        out->use_tls = ch->tls;
        out->insecure_skip_verify = ch->insecure_skip_verify ? 1 : 0;
        return 0;
    });
}

void smtp_free_request(hotline_channel* /*ch*/, hotline_request* req) noexcept {
    if (req == nullptr) {
        return;
    }
    std::free(req->url);
    std::free(req->mail_from);
    if (req->rcpt != nullptr) {
        for (std::size_t i = 0; i < req->n_rcpt; ++i) {
            std::free(req->rcpt[i]);
        }
        std::free(req->rcpt);
    }
    std::free(req->body);
    if (req->password != nullptr) {
        sodium_memzero(req->password, std::strlen(req->password));
    }
    std::free(req->username);
    std::free(req->password);
    req->url = nullptr;
    req->mail_from = nullptr;
    req->rcpt = nullptr;
    req->n_rcpt = 0;
    req->body = nullptr;
    req->body_len = 0;
    req->username = nullptr;
    req->password = nullptr;
}

// "550 5.1.1 <x@y>: Recipient address rejected" -> "SMTP 550 5.1.1": the rest of a reply
// may name the recipient, which must not end up in logs or the store.
std::string reply_summary(long status, std::string_view line) {
    std::string out = "SMTP " + std::to_string(status);
    if (line.size() > 4) {
        std::string_view rest = line.substr(4);
        const auto sp = rest.find(' ');
        const auto enhanced = rest.substr(0, sp);
        const bool looks_enhanced =
            enhanced.size() >= 5 && enhanced.size() <= 11 &&
            std::all_of(enhanced.begin(), enhanced.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.';
            });
        if (looks_enhanced) {
            out += " " + std::string(enhanced);
        }
    }
    return out;
}

// Postfix, Exim, Sendmail and others name the queue id: "250 2.0.0 Ok: queued as 4Xy7".
std::string queue_id(std::string_view line) {
    for (std::string_view marker : {"queued as ", "id="}) {
        auto pos = line.find(marker);
        if (pos == std::string_view::npos) {
            continue;
        }
        std::string id;
        for (pos += marker.size(); pos < line.size() && id.size() < 120; ++pos) {
            const auto u = static_cast<unsigned char>(line[pos]);
            if (std::isalnum(u) == 0 && std::strchr("-_.@+=/", line[pos]) == nullptr) {
                break;
            }
            id.push_back(line[pos]);
        }
        if (!id.empty()) {
            return id;
        }
    }
    return {};
}

void smtp_classify(hotline_channel* /*ch*/, const hotline_reply* reply,
                   hotline_outcome* out) noexcept {
    guarded_classify(out, [&] {
        out->provider_id[0] = '\0';
        out->retry_after_ms = 0;
        const long status = reply->status;
        const std::string_view line =
            reply->body != nullptr ? std::string_view(reply->body, reply->body_len) : "";
        const int code = reply->transport_error;
        if (code == HOTLINE_TERR_UNSUPPORTED_PROTOCOL || code == HOTLINE_TERR_URL_MALFORMAT) {
            set_outcome(out, HOTLINE_PERMANENT,
                        std::string("bad URL: ") + (reply->error_text ? reply->error_text : ""));
            return;
        }
        if (status >= 500 && status < 600) {
            set_outcome(out, HOTLINE_PERMANENT, reply_summary(status, line));
            return;
        }
        if (status >= 400 && status < 500) {
            set_outcome(out, HOTLINE_RETRY, reply_summary(status, line));
            return;
        }
        if (code != 0) {
            set_outcome(out, HOTLINE_RETRY,
                        "transport error " + std::to_string(code) + ": " +
                            (reply->error_text ? reply->error_text : ""));
            return;
        }
        if (status >= 200 && status < 300) {
            set_outcome(out, HOTLINE_DELIVERED, reply_summary(status, line));
            const std::string id = queue_id(line);
            std::snprintf(out->provider_id, sizeof out->provider_id, "%s", id.c_str());
            return;
        }
        set_outcome(out, HOTLINE_RETRY, "unexpected " + reply_summary(status, line));
    });
}

void smtp_destroy(hotline_channel* ch) noexcept {
    if (ch != nullptr) {
        sodium_memzero(ch->password.data(), ch->password.size());
        delete ch;
    }
}

const hotline_channel_v1 smtp_entry = {
    sizeof(hotline_channel_v1),
    "smtp",
    smtp_create,
    smtp_validate_address,
    smtp_build,
    smtp_free_request,
    smtp_classify,
    smtp_destroy,
    {},
    0,
    nullptr,
};

}  // namespace

extern "C" HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    return hotline_plugin_support::pick_abi_v1(offered, n);
}

extern "C" HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &smtp_entry;
}
