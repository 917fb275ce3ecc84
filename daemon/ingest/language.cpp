#include "ingest/language.hpp"

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

}  // namespace hotline::ingest
