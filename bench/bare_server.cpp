// bench_bare_server: the ceiling for bench/ingest. A Beast coroutine HTTP server with the
// same shape as hotlined's front door (one io thread, keep-alive, request_parser with a
// body_limit, expires_after before every read) that answers every request 200 with a tiny
// JSON body and does nothing else. Whatever hotlined does beyond this (auth, JSON parsing,
// routing, the group-commit fsync) is what the ingest benchmark measures against it.
// It doubles as a fast webhook sink for the throughput run (it answers 200 {"id":"x"}).
#include "core/asio.hpp"
#include "http_sink.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::uint64_t body_limit = 64 * 1024;
constexpr auto read_timeout = 10s;

const auto log_exception = hotline_bench::exception_logger("bare_server: session failed: ");

asio::awaitable<void> serve(beast::tcp_stream stream) {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(body_limit);
        stream.expires_after(read_timeout);
        co_await http::async_read(stream, buf, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;  // closed, timed out or malformed: the ceiling does not care which
        }
        const auto req = parser.release();
        if (!co_await hotline_bench::answer_ok(stream, req, "bare")) {
            break;
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    return hotline_bench::accept_each(acceptor, serve, log_exception);
}

int usage() {
    std::cerr << "usage: bench_bare_server [--port N] [--address A]\n"
                 "  answers every HTTP request 200 {\"id\":\"x\"}; --port 0 picks a free port\n"
                 "  and prints port=N on stdout. SIGINT/SIGTERM stop it.\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    std::string address = "127.0.0.1";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            port = static_cast<std::uint16_t>(std::strtoul(argv[++i], nullptr, 10));
        } else if (arg == "--address" && i + 1 < argc) {
            address = argv[++i];
        } else {
            return usage();
        }
    }
    try {
        asio::io_context io{1};
        tcp::acceptor acceptor{io};
        const tcp::endpoint ep{asio::ip::make_address(address), port};
        hotline_bench::listen_on(acceptor, ep);
        std::cout << "port=" << acceptor.local_endpoint().port() << std::endl;

        asio::signal_set signals{io, SIGINT, SIGTERM};
        signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
        asio::co_spawn(io, accept_loop(acceptor), log_exception);
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "bare_server: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
