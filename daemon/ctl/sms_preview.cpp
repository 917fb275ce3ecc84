#include "ctl/sms_preview.hpp"

#include "core/utf8.hpp"
#include "dispatch/sms_text.hpp"

namespace hotline::ctl {
namespace {

namespace sms = dispatch::sms;

std::size_t utf16_units(std::string_view text) {
    std::size_t units = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = core::decode_utf8(text, pos);
        if (c == core::invalid_code_point) {
            ++pos;
            ++units;
        } else {
            units += c > 0xFFFF ? 2 : 1;
        }
    }
    return units;
}

std::string unit_name(const sms::analysis& a) {
    return a.encoding == "gsm7" ? "septets" : "UTF-16 units";
}

std::string summary(const sms::analysis& a) {
    return a.encoding + ", " + std::to_string(a.units) + " " + unit_name(a) + ", " +
           std::to_string(a.segments) + " segment" + (a.segments == 1 ? "" : "s");
}

}  // namespace

std::string sms_preview(const std::string& input, const sms_preview_options& options) {
    std::string out;
    std::string text = input;
    if (!core::is_valid_utf8(text)) {
        out += "warning: the text is not valid UTF-8; malformed bytes are sent as U+FFFD\n";
    }
    if (options.transliterate) {
        out += "original: " + summary(sms::analyse(text)) + "\n";
        text = sms::transliterate(text);
        out += "transliterated: " + summary(sms::analyse(text)) + "\n";
    }
    if (options.max_segments) {
        const auto fitted = sms::fit(text, *options.max_segments);
        if (fitted.kind == sms::fit_kind::whole) {
            out += "max_segments " + std::to_string(*options.max_segments) + ": fits as it is\n";
        } else {
            const auto before = sms::analyse(text);
            out += "max_segments " + std::to_string(*options.max_segments) + ": shortened from " +
                   std::to_string(before.segments) + " segments (" + std::to_string(before.units) +
                   " " + unit_name(before) + ") with an ellipsis\n";
        }
        text = fitted.text;
    }
    const auto a = sms::analyse(text);
    out += "encoding: " + a.encoding + "\n";
    out += (a.encoding == "gsm7" ? "septets: " : "units: ") + std::to_string(a.units) + "\n";
    out += "segments: " + std::to_string(a.segments) + "\n";
    for (std::size_t i = 0; i < a.parts.size(); ++i) {
        const auto& part = a.parts[i];
        const std::size_t units =
            a.encoding == "gsm7" ? sms::analyse(part).units : utf16_units(part);
        out += "--- part " + std::to_string(i + 1) + "/" + std::to_string(a.parts.size()) + ": " +
               std::to_string(units) + " " + unit_name(a) + " ---\n";
        out += part + "\n";
    }
    out += "--- end ---\n";
    return out;
}

}  // namespace hotline::ctl
