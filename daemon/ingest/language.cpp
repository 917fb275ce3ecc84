#include "ingest/language.hpp"

// compact_lang_det.h uses FILE without including <cstdio>.
#include <cstdio>

#include <cld2/public/compact_lang_det.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include "core/utf8.hpp"

namespace hotline::ingest {

using core::decode_utf8;
using core::invalid_code_point;

std::string guess_language(std::string_view text) {
    std::size_t letters = 0;
    std::size_t cyrillic = 0;
    std::size_t latin = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = decode_utf8(text, pos);
        if (cp == invalid_code_point) {
            return {};
        }
        if (cp < 0x80) {
            if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
                ++letters;
                ++latin;
            }
            continue;
        }
        const auto c = static_cast<UChar32>(cp);
        if (u_isalpha(c) == 0) {
            continue;
        }
        ++letters;
        UErrorCode status = U_ZERO_ERROR;
        const UScriptCode script = uscript_getScript(c, &status);
        if (U_FAILURE(status)) {
            continue;
        }
        if (script == USCRIPT_CYRILLIC) {
            ++cyrillic;
        } else if (script == USCRIPT_LATIN) {
            ++latin;
        }
    }
    if (cyrillic * 2 > letters) {
        return "ru";
    }
    if (latin * 2 > letters) {
        return "en";
    }
    return {};
}

std::string detect_language(std::string_view text) {
    constexpr std::size_t window = 64 * 1024;
    if (text.empty() || !core::is_valid_utf8(text)) {
        return "und";
    }
    const std::string_view head = core::utf8_prefix(text, window);
    CLD2::Language top3[3];
    int percent3[3];
    double scores3[3];
    int text_bytes = 0;
    bool reliable = false;
    // The Ext* call, not DetectLanguage: that one answers "en" when it knows nothing.
    const CLD2::Language lang = CLD2::ExtDetectLanguageSummary(
        head.data(), static_cast<int>(head.size()), /*is_plain_text=*/true, nullptr, 0, top3,
        percent3, scores3, nullptr, &text_bytes, &reliable);
    if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) {
        return "und";
    }
    // CLD2 still spells Hebrew with the withdrawn code "iw".
    const std::string code = CLD2::LanguageCode(lang);
    if (code == "iw") {
        return "he";
    }
    return code;
}

}  // namespace hotline::ingest
