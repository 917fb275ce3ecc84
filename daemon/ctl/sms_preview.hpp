// `hotlinectl sms-preview`: what an SMS channel would send for a text (dispatch/sms_text):
// encoding, septets or UTF-16 units, segments and each part exactly as sent, and what
// transliteration and fitting to max_segments did.
#pragma once
#include <optional>
#include <string>

namespace hotline::ctl {

struct sms_preview_options {
    std::optional<unsigned> max_segments;  // 1..10; none: the text as it is
    bool transliterate{false};
};

// The report, lines of text ending in '\n'. Each part is printed between a header line
// ("--- part 1/2: 153 septets ---") and the next header or "--- end ---", byte for byte.
[[nodiscard]] std::string sms_preview(const std::string& text, const sms_preview_options& options);

}  // namespace hotline::ctl
