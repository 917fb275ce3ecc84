// application/x-www-form-urlencoded (WHATWG URL standard's form parsing), for the bodies and
// query strings SMS gateways send: Twilio and Kannel callbacks, Vonage GET forms. Pure, no
// allocation beyond the result. Values are bytes: a gateway may send non-UTF-8 (Kannel's
// binary %b), so checking UTF-8 is the caller's job.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace hotline::core {

using form_fields = std::vector<std::pair<std::string, std::string>>;

struct form_limits {
    std::size_t max_bytes = 256 * 1024;  // the whole encoded input
    std::size_t max_fields = 1024;       // name=value pairs
};

// Splits on '&', then on the first '='; '+' is a space and %XX a byte (hex digits in
// either case). Empty pieces ("a=1&&b=2", a trailing '&') are skipped; a name without '='
// has an empty value. Order and repeated names are kept. Errors (code "bad_form"): a '%'
// not followed by two hex digits (with the offset), input over max_bytes, more than
// max_fields pairs. The messages never quote the input.
[[nodiscard]] result<form_fields> parse_form(std::string_view input, form_limits limits = {});

// The first value of `name`, or nullptr.
[[nodiscard]] const std::string* form_value(const form_fields& fields, std::string_view name);

}  // namespace hotline::core
