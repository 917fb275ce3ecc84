// libFuzzer target for the HTTP front door, without sockets: the input is fed to Beast's
// request parser with the server's limits (16 KiB head, 64 KiB body) in chunks whose sizes
// come from the input's first byte, as a slow or hostile client sends them; then the
// request's target goes through the route table (the daemon's patterns), its
// Authorization through bearer_token and its Content-Type through is_json_media_type.
// Checks: no crash, a parse error or limit ends the request cleanly, and a route match
// keeps its promises (captures non-empty and at most max_param_size bytes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/beast/http.hpp>

#include "fuzz_support.hpp"
#include "http/route_table.hpp"
#include "http/router.hpp"

namespace {

namespace bhttp = boost::beast::http;
using namespace hotline;

http::route_table make_table() {
    http::route_table t;
    const auto add = [&t](const char* pattern, http::method m) {
        http::endpoint e;
        e.pattern = pattern;
        e.methods = m;
        e.handle = [](http::exchange&) -> asio::awaitable<http::reply> { co_return http::reply{}; };
        fuzz::require(t.add(std::move(e)).ok());
    };
    add("/v1/reports", http::method::post);
    add("/v1/reports/{id}", http::method::get);
    add("/v1/cases/{id}/ack", http::method::post);
    add("/v1/sms/{source}", http::method::post);
    add("/healthz", http::method::get);
    add("/readyz", http::method::get);
    add("/metrics", http::method::get);
    return t;
}

http::method method_of(bhttp::verb v) {
    switch (v) {
        case bhttp::verb::get: return http::method::get;
        case bhttp::verb::head: return http::method::head;
        case bhttp::verb::post: return http::method::post;
        default: return http::method::none;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using fuzz::require;
    static const http::route_table table = make_table();
    if (size == 0) {
        return 0;
    }
    const std::size_t chunk = 1 + data[0] % 64;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    boost::beast::error_code ec;
    std::string pending;
    while (!input.empty() && !ec && !parser.is_done()) {
        const auto n = std::min(chunk, input.size());
        pending.append(input.substr(0, n));
        input.remove_prefix(n);
        const auto used = parser.put(boost::asio::buffer(pending), ec);
        if (ec == bhttp::error::need_more) {
            ec = {};
        }
        pending.erase(0, used);
    }
    if (!parser.is_header_done()) {
        return 0;
    }
    const auto& req = parser.get();
    const std::string_view target(req.target().data(), req.target().size());
    const auto m = table.match(target, method_of(req.method()));
    if (m.result == http::route_match::kind::found) {
        require(m.index < table.size());
        for (const auto& [name, value] : m.captured) {
            require(!name.empty() && !value.empty() && value.size() <= http::max_param_size);
        }
    } else if (m.result == http::route_match::kind::method_not_allowed) {
        require(!m.allow.empty());
    }
    require(!table.route_label(m.route).empty());
    const auto auth = req[bhttp::field::authorization];
    if (const auto token = http::bearer_token(std::string_view(auth.data(), auth.size()))) {
        require(!token->empty() && token->size() <= auth.size());
    }
    const auto type = req[bhttp::field::content_type];
    (void)http::is_json_media_type(std::string_view(type.data(), type.size()));
    return 0;
}
