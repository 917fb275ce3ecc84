#include "ingest/charset.hpp"

#include <iconv.h>
#include <cerrno>

#include <uchardet/uchardet.h>

#include <algorithm>
#include <array>
#include <utility>

#include "core/c_handle.hpp"
#include "core/utf8.hpp"

namespace hotline::ingest {
namespace {

using iconv_handle = core::c_handle<void, iconv_close>;
using uchardet_handle = core::c_handle<struct uchardet, uchardet_delete>;

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
// uchardet has seen enough after this much text; the rest only costs time.
constexpr std::size_t detect_window = 64 * 1024;

// Labels mail clients send that iconv spells differently (or not at all).
constexpr std::array<std::pair<std::string_view, std::string_view>, 32> aliases{{
    {"utf8", "utf-8"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"x-unicode20utf8", "utf-8"},
    {"cp1251", "windows-1251"},
    {"x-cp1251", "windows-1251"},
    {"win-1251", "windows-1251"},
    {"windows1251", "windows-1251"},
    {"cp1252", "windows-1252"},
    {"x-cp1252", "windows-1252"},
    {"ibm866", "cp866"},
    {"866", "cp866"},
    {"csibm866", "cp866"},
    {"x-cp866", "cp866"},
    {"cp-866", "cp866"},
    {"koi8", "koi8-r"},
    {"koi8r", "koi8-r"},
    {"koi8u", "koi8-u"},
    {"koi8-ru", "koi8-u"},
    {"latin1", "iso-8859-1"},
    {"l1", "iso-8859-1"},
    {"iso8859-1", "iso-8859-1"},
    {"iso_8859-1", "iso-8859-1"},
    {"iso8859-5", "iso-8859-5"},
    {"iso_8859-5", "iso-8859-5"},
    {"cyrillic", "iso-8859-5"},
    {"x-mac-cyrillic", "maccyrillic"},
    {"mac-cyrillic", "maccyrillic"},
    {"ks_c_5601-1987", "cp949"},
    {"gb2312", "gbk"},
    {"x-gbk", "gbk"},
    {"x-sjis", "shift_jis"},
    {"ansi_x3.4-1968", "us-ascii"},
}};

bool label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == ':';
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// True when s holds at least one well-formed multi-byte UTF-8 sequence.
bool has_utf8_sequence(std::string_view s) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        if (static_cast<unsigned char>(s[pos]) < 0x80) {
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        if (core::decode_utf8(s, pos) != core::invalid_code_point && pos - start > 1) {
            return true;
        }
        if (pos == start) {
            ++pos;
        }
    }
    return false;
}

// Charsets whose ASCII bytes mean ASCII, so pure-ASCII input needs no conversion.
bool ascii_compatible(std::string_view label) {
    for (const std::string_view p : {"utf-16", "utf-32", "ucs", "utf-7", "iso-2022", "hz"}) {
        if (label.starts_with(p)) {
            return false;
        }
    }
    return true;
}

// One byte per character: a run of valid multi-byte UTF-8 in such a label is UTF-8.
bool single_byte(std::string_view label) {
    for (const std::string_view p :
         {"iso-8859", "windows-125", "koi8", "cp8", "cp125", "maccyrillic", "ibm"}) {
        if (label.starts_with(p)) {
            return true;
        }
    }
    return false;
}

bool western(std::string_view label) {
    return label == "iso-8859-1" || label == "iso-8859-15" || label == "windows-1252";
}

bool cyrillic(std::string_view label) {
    return label == "windows-1251" || label == "koi8-r" || label == "koi8-u" ||
           label == "iso-8859-5" || label == "cp866" || label == "ibm866" ||
           label == "maccyrillic" || label == "mac-cyrillic" || label == "ibm855";
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

iconv_handle open_iconv(const std::string& label) {
    // iconv takes suffixes such as //IGNORE after a name: only plain names get through.
    if (label.empty() || !std::all_of(label.begin(), label.end(), label_char)) {
        return {};
    }
    iconv_t cd = iconv_open("UTF-8", label.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1) && label.starts_with("x-")) {
        cd = iconv_open("UTF-8", label.c_str() + 2);
    }
    if (cd == reinterpret_cast<iconv_t>(-1)) {
        return {};
    }
    return iconv_handle(cd);
}

}  // namespace

std::string normalise_charset(std::string_view label) {
    while (!label.empty() &&
           (label.front() == ' ' || label.front() == '"' || label.front() == '\t')) {
        label.remove_prefix(1);
    }
    while (!label.empty() && (label.back() == ' ' || label.back() == '"' || label.back() == '\t')) {
        label.remove_suffix(1);
    }
    std::string out = lower(label);
    for (const auto& [from, to] : aliases) {
        if (out == from) {
            return std::string(to);
        }
    }
    return out;
}

bool is_ascii_charset(std::string_view label) {
    const std::string l = normalise_charset(label);
    return l == "us-ascii" || l == "ascii" || l == "us" || l == "iso646-us" || l == "csascii";
}

std::string detect_charset(std::string_view bytes) {
    if (!has_8bit(bytes)) {
        return {};
    }
    const uchardet_handle ud(uchardet_new());
    if (!ud) {
        return {};
    }
    const std::string_view window = bytes.substr(0, detect_window);
    if (uchardet_handle_data(ud.get(), window.data(), window.size()) != 0) {
        return {};
    }
    uchardet_data_end(ud.get());
    const char* name = uchardet_get_charset(ud.get());
    std::string det = normalise_charset(name == nullptr ? "" : name);
    if (det == "koi8-r") {
        det = "koi8-u";
    }
    if (det == "ascii" || det == "us-ascii") {
        det.clear();
    }
    return det;
}

std::size_t repair_utf8(std::string& text) {
    if (core::is_valid_utf8(text)) {
        return 0;
    }
    std::string out;
    out.reserve(text.size() + 16);
    std::size_t invalid = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t start = pos;
        if (core::decode_utf8(text, pos) == core::invalid_code_point) {
            out += replacement;
            ++invalid;
            pos = start + 1;
            continue;
        }
        out.append(text, start, pos - start);
    }
    text = std::move(out);
    return invalid;
}

converted_text convert_to_utf8(std::string_view bytes, std::string_view charset) {
    converted_text out;
    const std::string label = normalise_charset(charset);
    if (label == "utf-8") {
        out.text.assign(bytes);
        out.invalid_sequences = repair_utf8(out.text);
        return out;
    }
    const iconv_handle cd = open_iconv(label);
    if (!cd) {
        out.known_charset = false;
        out.text.assign(bytes);
        out.invalid_sequences = repair_utf8(out.text);
        return out;
    }
    out.text.reserve(bytes.size() + bytes.size() / 2 + 16);
    // iconv's API is not const-correct; it never writes through the input pointer.
    char* in = const_cast<char*>(bytes.data());  // NOLINT
    std::size_t in_left = bytes.size();
    std::array<char, 16384> buf{};
    while (in_left > 0) {
        char* o = buf.data();
        std::size_t o_left = buf.size();
        const std::size_t r = iconv(cd.get(), &in, &in_left, &o, &o_left);
        out.text.append(buf.data(), static_cast<std::size_t>(o - buf.data()));
        if (r != static_cast<std::size_t>(-1)) {
            continue;
        }
        if (errno == E2BIG) {
            continue;
        }
        // EILSEQ (a byte with no mapping) or EINVAL (a truncated sequence at the end):
        // one U+FFFD per bad byte, and go on from the next byte in the initial state.
        out.text += replacement;
        ++out.invalid_sequences;
        ++in;
        --in_left;
        iconv(cd.get(), nullptr, nullptr, nullptr, nullptr);
    }
    char* o = buf.data();
    std::size_t o_left = buf.size();
    iconv(cd.get(), nullptr, nullptr, &o, &o_left);
    out.text.append(buf.data(), static_cast<std::size_t>(o - buf.data()));
    out.invalid_sequences += repair_utf8(out.text);
    return out;
}

decoded_text decode_text(std::string_view bytes, std::string_view declared) {
    std::string label = normalise_charset(declared);
    const bool eight_bit = has_8bit(bytes);
    if (!eight_bit && (label.empty() || ascii_compatible(label))) {
        decoded_text out{std::string(bytes), label.empty() ? "us-ascii" : label, charset_fix::none,
                         0};
        return out;
    }
    charset_fix fix = charset_fix::none;
    const bool known = label.empty() || label == "utf-8" || static_cast<bool>(open_iconv(label));
    if (!known) {
        fix = charset_fix::unknown;
        label.clear();
    }
    const bool valid_utf8 = core::is_valid_utf8(bytes);
    if (label.empty() || is_ascii_charset(label)) {
        if (fix == charset_fix::none) {
            fix = label.empty() ? charset_fix::detected : charset_fix::mislabelled;
        }
        if (valid_utf8) {
            label = "utf-8";
        } else {
            label = detect_charset(bytes);
            // Undetectable 8-bit text: windows-1252 maps nearly every byte, so the reader
            // sees something close to what was sent rather than a row of U+FFFD.
            if (label.empty() || label == "utf-8") {
                label = "windows-1252";
            }
        }
    } else if (label == "utf-8") {
        // A few bad bytes in real UTF-8 are damage; no UTF-8 at all is a wrong label.
        if (!valid_utf8 && !has_utf8_sequence(bytes)) {
            const std::string det = detect_charset(bytes);
            if (!det.empty() && det != "utf-8") {
                label = det;
                fix = charset_fix::mislabelled;
            }
        }
    } else if (single_byte(label) && valid_utf8 && has_utf8_sequence(bytes)) {
        label = "utf-8";
        fix = charset_fix::mislabelled;
    } else if (western(label)) {
        const std::string det = detect_charset(bytes);
        if (cyrillic(det)) {
            label = det;
            fix = charset_fix::mislabelled;
        }
    }
    auto conv = convert_to_utf8(bytes, label);
    decoded_text out{std::move(conv.text), label, fix, conv.invalid_sequences};
    return out;
}

}  // namespace hotline::ingest
