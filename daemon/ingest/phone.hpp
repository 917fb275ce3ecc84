// Phone numbers of inbound SMS, normalised with libphonenumber: E.164 for anything that
// reads as a number, the ISO region of its country code, and senders that are no number
// (short codes, alphanumeric "BANK") kept as given.
#pragma once
#include <string>
#include <string_view>

namespace hotline::ingest {

struct phone_number {
    std::string text;    // E.164 ("+79001234567") when valid, else the input trimmed
    bool valid{false};   // libphonenumber read it as a number (valid, or possible for its country)
    std::string region;  // ISO 3166-1 alpha-2 of the number ("RU"); "" when not valid
};

// `raw` as a gateway gave it: "+79001234567", "79001234567" (Vonage, Kannel: the
// international number without '+'), "0079001234567", "8 900 123-45-67" (national, read
// with `default_region`, ISO alpha-2 or ""), "1234" or "BANK" (not valid, kept as given).
[[nodiscard]] phone_number normalise_phone(std::string_view raw, std::string_view default_region);

}  // namespace hotline::ingest
