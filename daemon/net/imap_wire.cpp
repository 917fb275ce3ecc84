#include "net/imap_wire.hpp"

#include <algorithm>
#include <charconv>

#include "core/utf8.hpp"

namespace hotline::net::imap::wire {
namespace {

// RFC 3501's modified base64: ',' instead of '/', no padding.
constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

void append_base64(std::string& out, const std::vector<std::uint8_t>& bytes) {
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        out += base64_alphabet[(n >> 18) & 63];
        out += base64_alphabet[(n >> 12) & 63];
        out += base64_alphabet[(n >> 6) & 63];
        out += base64_alphabet[n & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
        out += base64_alphabet[(n >> 18) & 63];
        out += base64_alphabet[(n >> 12) & 63];
    } else if (rest == 2) {
        const std::uint32_t n =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        out += base64_alphabet[(n >> 18) & 63];
        out += base64_alphabet[(n >> 12) & 63];
        out += base64_alphabet[(n >> 6) & 63];
    }
}

void append_utf16be(std::vector<std::uint8_t>& out, char32_t cp) {
    const auto unit = [&out](std::uint32_t u) {
        out.push_back(static_cast<std::uint8_t>(u >> 8));
        out.push_back(static_cast<std::uint8_t>(u & 0xFF));
    };
    if (cp < 0x10000) {
        unit(cp);
        return;
    }
    const std::uint32_t v = cp - 0x10000;
    unit(0xD800 + (v >> 10));
    unit(0xDC00 + (v & 0x3FF));
}

bool starts_with_word(std::string_view s, std::string_view word) {
    if (s.size() < word.size()) {
        return false;
    }
    for (std::size_t i = 0; i < word.size(); ++i) {
        const char c = s[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != word[i]) {
            return false;
        }
    }
    return s.size() == word.size() || s[word.size()] == ' ';
}

}  // namespace

std::optional<std::string> encode_mailbox(std::string_view utf8) {
    std::string out;
    std::vector<std::uint8_t> pending;  // UTF-16BE of the current non-ASCII run
    const auto flush = [&] {
        if (!pending.empty()) {
            out += '&';
            append_base64(out, pending);
            out += '-';
            pending.clear();
        }
    };
    std::size_t pos = 0;
    while (pos < utf8.size()) {
        const auto c = static_cast<unsigned char>(utf8[pos]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F) {
                return std::nullopt;
            }
            flush();
            out += static_cast<char>(c);
            if (c == '&') {
                out += '-';
            }
            ++pos;
            continue;
        }
        const char32_t cp = core::decode_utf8(utf8, pos);
        if (cp == core::invalid_code_point) {
            return std::nullopt;
        }
        append_utf16be(pending, cp);
    }
    flush();
    return out;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> uid_ranges(std::vector<std::uint32_t> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    for (const std::uint32_t uid : uids) {
        if (uid == 0) {
            continue;
        }
        if (!ranges.empty() && ranges.back().second + 1 == uid) {
            ranges.back().second = uid;
        } else {
            ranges.emplace_back(uid, uid);
        }
    }
    return ranges;
}

idle_line classify_idle_line(std::string_view line) {
    if (line.starts_with("+")) {
        return idle_line::continuation;
    }
    if (!line.starts_with("* ")) {
        return idle_line::tagged;
    }
    const std::string_view rest = line.substr(2);
    if (starts_with_word(rest, "ok")) {
        return idle_line::keepalive;
    }
    if (starts_with_word(rest, "bye")) {
        return idle_line::bye;
    }
    return idle_line::change;
}

std::string_view tagged_status(std::string_view line, std::string_view tag) {
    if (tag.empty() || !line.starts_with(tag) || line.size() <= tag.size() ||
        line[tag.size()] != ' ') {
        return {};
    }
    const std::string_view rest = line.substr(tag.size() + 1);
    for (const std::string_view status : {"ok", "no", "bad"}) {
        if (starts_with_word(rest, status)) {
            return rest.substr(0, status.size());
        }
    }
    return {};
}

std::optional<std::size_t> trailing_literal(std::string_view line) {
    if (!line.ends_with('}')) {
        return std::nullopt;
    }
    line.remove_suffix(1);
    if (line.ends_with('+')) {
        line.remove_suffix(1);
    }
    const std::size_t open = line.rfind('{');
    if (open == std::string_view::npos || open + 1 == line.size()) {
        return std::nullopt;
    }
    const std::string_view digits = line.substr(open + 1);
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return n;
}

}  // namespace hotline::net::imap::wire
