#include "ingest/phone.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>

#include "core/text.hpp"

namespace hotline::ingest {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// Digits with the punctuation people and gateways put between them; anything else
// (letters: an alphanumeric sender) is no number.
bool number_like(std::string_view s) {
    const auto digits =
        std::count_if(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    return digits > 0 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || c == '+' || c == ' ' || c == '-' || c == '(' ||
                      c == ')' || c == '.';
           });
}

// `strict`: a valid number of its plan; else only a possible one (the right length for
// its country: ranges the metadata does not know yet, test ranges such as +44 7700 900xxx).
bool parse_number(const std::string& text, const std::string& region, bool strict,
                  PhoneNumber& out) {
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    if (util.Parse(text, region, &out) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return false;
    }
    return strict ? util.IsValidNumber(out) : util.IsPossibleNumber(out);
}

}  // namespace

phone_number normalise_phone(std::string_view raw, std::string_view default_region) {
    phone_number result;
    const std::string_view given = core::trim(raw, " \t\r\n");
    result.text = std::string(given);
    // 32 bytes is longer than any E.164 number written with spaces; longer is no number.
    if (given.size() > 32 || !number_like(given)) {
        return result;
    }
    std::string digits;
    for (const char c : given) {
        if ((c >= '0' && c <= '9') || c == '+') {
            digits += c;
        }
    }
    if (digits.find('+', 1) != std::string::npos) {
        return result;
    }
    if (digits.starts_with("00")) {
        digits = "+" + digits.substr(2);
    }
    const std::string region(default_region.empty() ? "ZZ" : default_region);
    PhoneNumber n;
    bool ok = false;
    if (digits.starts_with("+")) {
        ok = parse_number(digits, "ZZ", true, n) || parse_number(digits, "ZZ", false, n);
    } else {
        // A national number of the source's region first ("8 900..." in RU), then the
        // international form without '+' that Vonage and Kannel deliver. Short codes
        // ("1234") are possible numbers of no plan: they must not become "+1234".
        const bool national = region != "ZZ";
        ok = (national && parse_number(digits, region, true, n)) ||
             parse_number("+" + digits, "ZZ", true, n) ||
             (digits.size() >= 8 && parse_number("+" + digits, "ZZ", false, n)) ||
             (national && digits.size() >= 6 && parse_number(digits, region, false, n));
    }
    if (!ok) {
        return result;
    }
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    util.Format(n, PhoneNumberUtil::E164, &result.text);
    util.GetRegionCodeForNumber(n, &result.region);
    if (result.region == "ZZ" || result.region.empty()) {
        util.GetRegionCodeForCountryCode(n.country_code(), &result.region);
    }
    if (result.region == "ZZ" || result.region == "001") {
        result.region.clear();  // a non-geographic number (+800, +882...)
    }
    result.valid = true;
    return result;
}

}  // namespace hotline::ingest
