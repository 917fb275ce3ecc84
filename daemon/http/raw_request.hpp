// An HTTP/1.x request as bytes (request line, headers, body), parsed without Beast: for
// `hotlinectl ingest --dry-run --gateway`, which replays a request a gateway sent. Not
// the server's parser (that is Beast's, in server.cpp); lenient where a saved file may
// differ from the wire (bare LF line ends), strict where meaning would be guessed.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace hotline::http {

struct raw_request {
    std::string method;  // as written, upper case expected ("GET", "POST")
    std::string target;  // path and query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // Content-Length bytes when given, else the rest
};

// Errors (code "bad_request"): no request line, a malformed header, chunked bodies (not
// replayed), a Content-Length that is not a number or longer than what follows.
[[nodiscard]] core::result<raw_request> parse_raw_request(std::string_view bytes);

}  // namespace hotline::http
