// libFuzzer target for core::parse_form, the one application/x-www-form-urlencoded parser
// every SMS gateway body and query goes through. Checks: no crash; an error has a code
// and a short message; accepted fields stay within the limits; form_value finds
// the first of a repeated name.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/form.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    core::form_limits limits;
    limits.max_bytes = 64 * 1024;
    limits.max_fields = 256;
    const auto r = core::parse_form(in, limits);
    if (!r) {
        require(r.err().code == "bad_form");
        require(!r.err().message.empty() && r.err().message.size() < 200);
        return 0;
    }
    require(in.size() <= limits.max_bytes);
    require(r->size() <= limits.max_fields);
    std::size_t bytes = 0;
    for (const auto& [k, v] : *r) {
        bytes += k.size() + v.size();
        const auto* first = core::form_value(*r, k);
        require(first != nullptr);
    }
    require(bytes <= in.size());  // decoding never grows the input
    return 0;
}
