// libFuzzer target for what a replayed gateway request goes through before its gateway's
// parser: http::parse_raw_request (request line, headers, Content-Length), then the
// target's query through core::parse_form. Checks: no crash; an accepted request has a
// target starting with '/', a body no longer than the input, and a query that parses or
// fails cleanly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/form.hpp"
#include "fuzz_support.hpp"
#include "http/raw_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto r = http::parse_raw_request(in);
    if (!r) {
        require(r.err().code == "bad_request");
        return 0;
    }
    require(!r->target.empty() && r->target.front() == '/');
    require(r->body.size() <= in.size());
    require(r->headers.size() <= 200);
    const auto q = r->target.find('?');
    if (q != std::string::npos) {
        const auto f = core::parse_form(std::string_view(r->target).substr(q + 1));
        require(f.ok() || f.err().code == "bad_form");
    }
    return 0;
}
