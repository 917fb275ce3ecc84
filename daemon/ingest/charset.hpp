// Charset conversion to UTF-8 for every source of outside text (mail bodies and headers,
// SMS gateways): iconv for the conversion, uchardet for a wrong or missing label.
// Nothing here throws; the output is always valid UTF-8.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace hotline::ingest {

// The iconv name for a MIME charset label ("cp866", "x-cp1251", "windows-1251", "utf8",
// "ks_c_5601-1987"), lower-case and trimmed; "" for an empty label.
[[nodiscard]] std::string normalise_charset(std::string_view label);

// True for US-ASCII and the labels that only ever mean it (ansi_x3.4-1968, us, ascii...).
[[nodiscard]] bool is_ascii_charset(std::string_view label);

// uchardet's guess for 8-bit text as a normalised label ("windows-1251", "utf-8", ...),
// looking at the first 64 KiB; "" when it has no idea or the text is ASCII. uchardet says
// KOI8-R for Ukrainian KOI8-U text too; KOI8-U only replaces box-drawing characters with
// і ї є ґ, so "koi8-u" is returned for both.
[[nodiscard]] std::string detect_charset(std::string_view bytes);

struct converted_text {
    std::string text;                 // valid UTF-8
    std::size_t invalid_sequences{};  // bytes that did not convert and became U+FFFD
    bool known_charset{true};         // false: iconv does not know the charset
};

// `bytes` in `charset` to UTF-8; a byte that does not convert becomes U+FFFD.
[[nodiscard]] converted_text convert_to_utf8(std::string_view bytes, std::string_view charset);

// Replaces every malformed UTF-8 sequence by U+FFFD; returns how many there were.
std::size_t repair_utf8(std::string& text);

// What decode_text did to the label it was given, for a warning.
enum class charset_fix {
    none,         // the label was right (or the text is plain ASCII)
    detected,     // no label, or US-ASCII on 8-bit text: detected
    mislabelled,  // the label was wrong (UTF-8 that is not, Latin-1 that is UTF-8 or Cyrillic)
    unknown,      // the label names a charset iconv does not know: detected instead
};

struct decoded_text {
    std::string text;     // valid UTF-8
    std::string charset;  // what was used, iconv name ("utf-8", "koi8-u", ...)
    charset_fix fix{charset_fix::none};
    std::size_t invalid_sequences{};
};

// Text as a sender's software labelled it (the label may be empty or wrong) to UTF-8.
// Repairs the usual mistakes: no label or "us-ascii" on 8-bit text, "utf-8" on legacy
// bytes, a Western label (iso-8859-1, windows-1252) on UTF-8 or on 8-bit Cyrillic.
[[nodiscard]] decoded_text decode_text(std::string_view bytes, std::string_view declared);

}  // namespace hotline::ingest
