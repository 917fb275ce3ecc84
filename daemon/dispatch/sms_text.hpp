// SMS text per 3GPP TS 23.038 / 23.040: which encoding a text takes (GSM-7 default alphabet
// plus its extension table, else UCS-2), how many segments it costs and the exact text of
// each, shortening a rendered message to a channel's max_segments without losing its fixed
// parts (case number, ACK instruction), and the optional Cyrillic → Latin transliteration.
// Pure, no I/O: the dispatcher and `hotlinectl sms-preview` share it.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hotline::dispatch::sms {

inline constexpr std::size_t gsm7_single = 160;  // septets in a lone SMS
inline constexpr std::size_t gsm7_multi = 153;   // per segment of a concatenated one (UDH)
inline constexpr std::size_t ucs2_single = 70;   // UTF-16 units
inline constexpr std::size_t ucs2_multi = 67;
inline constexpr unsigned max_segments_limit = 10;
inline constexpr unsigned default_max_segments = 3;

struct analysis {
    std::string encoding;            // "gsm7" | "ucs2"
    std::size_t units{0};            // septets (gsm7, an extension character is 2) or UTF-16 units
    std::size_t segments{1};         // an empty text still costs one SMS
    std::vector<std::string> parts;  // the UTF-8 text of each segment, in order
};

// Whether code point `c` is in the GSM-7 default alphabet (1 septet) or its extension table
// (2: ESC + the character): 0 when it is in neither.
[[nodiscard]] unsigned gsm7_septets(char32_t c) noexcept;

// Whether every code point of `text` (UTF-8) is GSM-7 encodable.
[[nodiscard]] bool is_gsm7(std::string_view text) noexcept;

// Encoding, units, segments and parts of `text` (UTF-8; a malformed byte counts as U+FFFD,
// so it forces UCS-2). No escape pair and no surrogate pair is split across two parts.
[[nodiscard]] analysis analyse(std::string_view text);

// How a message was made to fit.
enum class fit_kind {
    whole,      // it fitted as rendered
    shortened,  // the variable part was shortened (the fixed text is all there)
    cut,        // even an empty variable part did not fit: the whole message was cut
};

struct fitted {
    std::string text;
    analysis info;
    fit_kind kind{fit_kind::whole};
};

// The longest code-point prefix of `value` (with an ellipsis when shortened: "..." when the
// result stays GSM-7, "…" otherwise, so shortening never forces UCS-2) whose rendering
// (`render(shortened value)`) takes at most max_segments. Returns the rendering; kind cut
// when even `render("")` does not fit, with the whole rendering cut instead.
[[nodiscard]] fitted fit_rendered(const std::function<std::string(std::string_view)>& render,
                                  std::string_view value, unsigned max_segments);

// `text` itself cut to max_segments (with an ellipsis when cut); always valid UTF-8.
[[nodiscard]] fitted fit(std::string_view text, unsigned max_segments);

// Cyrillic (and other scripts) to GSM-7 Latin: ICU "Russian-Latin/BGN", then
// "Any-Latin; Latin-ASCII" for what remains, applied only to runs of characters that are not
// GSM-7 already (so "é", "£", "Δ" stay). What ICU cannot latinise (emoji) stays as it is.
[[nodiscard]] std::string transliterate(std::string_view text);

}  // namespace hotline::dispatch::sms
