#include "dispatch/sms_text.hpp"

#include <unicode/translit.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <array>
#include <memory>

#include "core/utf8.hpp"

namespace hotline::dispatch::sms {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view ellipsis_gsm7 = "...";
constexpr std::string_view ellipsis_ucs2 = "\xE2\x80\xA6";  // "…", not in GSM-7

// 3GPP TS 23.038 §6.2.1: the default alphabet beyond ASCII (ASCII itself is handled by
// ascii_septets) and the one non-ASCII character of the extension table, the euro sign.
constexpr std::array<char32_t, 39> gsm7_basic_non_ascii{
    U'£', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'Ø', U'ø', U'Å', U'å', U'Δ',
    U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ', U'Σ', U'Θ', U'Ξ', U'Æ', U'æ', U'ß', U'É',
    U'¤', U'¡', U'Ä', U'Ö', U'Ñ', U'Ü', U'§', U'¿', U'ä', U'ö', U'ñ', U'ü', U'à'};

unsigned ascii_septets(char32_t c) noexcept {
    switch (c) {
        case U'\n':
        case U'\r': return 1;
        case U'\f':  // the extension table's page break
        case U'^':
        case U'{':
        case U'}':
        case U'\\':
        case U'[':
        case U'~':
        case U']':
        case U'|': return 2;
        case U'`':  // the one printable ASCII character GSM-7 lacks
            return 0;
        default: return c >= 0x20 && c < 0x7F ? 1 : 0;
    }
}

// One code point of a text: where it is (bytes) and what it costs in either encoding.
struct piece {
    std::size_t begin;
    std::size_t end;
    unsigned septets;  // 0: not GSM-7
    unsigned units;    // UTF-16 units: 2 for a supplementary-plane code point
};

// `text` with each malformed byte replaced by U+FFFD.
std::string sanitized(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t start = pos;
        if (core::decode_utf8(text, pos) == core::invalid_code_point) {
            out += replacement;
            pos = start + 1;
        } else {
            out.append(text.substr(start, pos - start));
        }
    }
    return out;
}

std::vector<piece> pieces_of(std::string_view valid) {
    std::vector<piece> out;
    out.reserve(valid.size());
    std::size_t pos = 0;
    while (pos < valid.size()) {
        const std::size_t start = pos;
        const char32_t c = core::decode_utf8(valid, pos);
        out.push_back(piece{start, pos, gsm7_septets(c), c > 0xFFFF ? 2U : 1U});
    }
    return out;
}

std::vector<std::size_t> code_point_offsets(std::string_view valid) {
    std::vector<std::size_t> out;
    std::size_t pos = 0;
    while (pos < valid.size()) {
        out.push_back(pos);
        (void)core::decode_utf8(valid, pos);
    }
    out.push_back(valid.size());
    return out;
}

std::string_view trim_end_space(std::string_view s) {
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// The value's first `bytes` bytes (a code point boundary) with an ellipsis, rendered; the
// GSM-7 ellipsis unless the rendering is UCS-2 anyway.
std::string render_cut(const std::function<std::string(std::string_view)>& render,
                       std::string_view value, std::size_t bytes) {
    const std::string head{trim_end_space(value.substr(0, bytes))};
    std::string out = render(head + std::string{ellipsis_gsm7});
    if (is_gsm7(out)) {
        return out;
    }
    return render(head + std::string{ellipsis_ucs2});
}

bool fits(const std::string& text, unsigned max_segments) {
    return analyse(text).segments <= max_segments;
}

const icu::Transliterator* transliterator() {
    // ICU transliterators are not documented as safe to share across threads: one each.
    thread_local const std::unique_ptr<icu::Transliterator> instance = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<icu::Transliterator> t{icu::Transliterator::createInstance(
            "Russian-Latin/BGN; Any-Latin; Latin-ASCII", UTRANS_FORWARD, status)};
        return U_FAILURE(status) ? nullptr : std::move(t);
    }();
    return instance.get();
}

}  // namespace

unsigned gsm7_septets(char32_t c) noexcept {
    if (c < 0x80) {
        return ascii_septets(c);
    }
    if (c == U'€') {
        return 2;
    }
    return std::find(gsm7_basic_non_ascii.begin(), gsm7_basic_non_ascii.end(), c) !=
                   gsm7_basic_non_ascii.end()
               ? 1
               : 0;
}

bool is_gsm7(std::string_view text) noexcept {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = core::decode_utf8(text, pos);
        if (c == core::invalid_code_point || gsm7_septets(c) == 0) {
            return false;
        }
    }
    return true;
}

analysis analyse(std::string_view input) {
    const std::string text = sanitized(input);
    const auto pieces = pieces_of(text);
    const bool gsm7 =
        std::all_of(pieces.begin(), pieces.end(), [](const piece& p) { return p.septets != 0; });
    analysis out;
    out.encoding = gsm7 ? "gsm7" : "ucs2";
    const auto cost = [gsm7](const piece& p) { return gsm7 ? p.septets : p.units; };
    for (const auto& p : pieces) {
        out.units += cost(p);
    }
    if (out.units <= (gsm7 ? gsm7_single : ucs2_single)) {
        out.segments = 1;
        out.parts.push_back(text);
        return out;
    }
    // A code point never straddles two segments: an escape pair or a surrogate pair that
    // would start in the last unit of a segment moves whole to the next one.
    const std::size_t limit = gsm7 ? gsm7_multi : ucs2_multi;
    std::size_t part_begin = 0;
    std::size_t used = 0;
    for (const auto& p : pieces) {
        if (used + cost(p) > limit) {
            out.parts.push_back(text.substr(part_begin, p.begin - part_begin));
            part_begin = p.begin;
            used = 0;
        }
        used += cost(p);
    }
    out.parts.push_back(text.substr(part_begin));
    out.segments = out.parts.size();
    return out;
}

fitted fit_rendered(const std::function<std::string(std::string_view)>& render,
                    std::string_view value_in, unsigned max_segments) {
    max_segments = std::clamp(max_segments, 1U, max_segments_limit);
    const std::string value = sanitized(value_in);
    std::string whole = render(value);
    if (auto info = analyse(whole); info.segments <= max_segments) {
        return fitted{std::move(whole), std::move(info), fit_kind::whole};
    }
    const auto offsets = code_point_offsets(value);
    // offsets[k] = bytes of the first k code points; k = size-1 is the whole value, which
    // did not fit. Find the largest k whose cut rendering fits.
    if (!fits(render_cut(render, value, 0), max_segments)) {
        auto cut = fit(render(""), max_segments);
        cut.kind = cut.kind == fit_kind::whole ? fit_kind::shortened : fit_kind::cut;
        return cut;
    }
    std::size_t lo = 0;                   // fits
    std::size_t hi = offsets.size() - 1;  // does not
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (fits(render_cut(render, value, offsets[mid]), max_segments)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    std::string best = render_cut(render, value, offsets[lo]);
    auto info = analyse(best);
    return fitted{std::move(best), std::move(info), fit_kind::shortened};
}

fitted fit(std::string_view text, unsigned max_segments) {
    auto out = fit_rendered([](std::string_view v) { return std::string{v}; }, text, max_segments);
    return out;
}

std::string transliterate(std::string_view input) {
    const std::string text = sanitized(input);
    const auto* t = transliterator();
    if (t == nullptr) {
        return text;
    }
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        // A run of GSM-7 code points is kept; a run of others goes through ICU whole, so
        // context rules (word-initial "е" → "ye") see the word.
        const std::size_t start = pos;
        std::size_t next = pos;
        const bool gsm7 = gsm7_septets(core::decode_utf8(text, next)) != 0;
        pos = next;
        while (pos < text.size()) {
            next = pos;
            if ((gsm7_septets(core::decode_utf8(text, next)) != 0) != gsm7) {
                break;
            }
            pos = next;
        }
        const std::string_view run = std::string_view{text}.substr(start, pos - start);
        if (gsm7) {
            out.append(run);
        } else {
            auto u = icu::UnicodeString::fromUTF8(
                icu::StringPiece(run.data(), static_cast<std::int32_t>(run.size())));
            t->transliterate(u);
            u.toUTF8String(out);
        }
    }
    return out;
}

}  // namespace hotline::dispatch::sms
