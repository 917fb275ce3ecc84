// bench_bare_server: the ceiling for bench/ingest. A Beast coroutine HTTP server with the
// same shape as hotlined's front door (one io thread, keep-alive, request_parser with a
// body_limit, expires_after before every read) that answers every request 200 with a tiny
// JSON body and does nothing else. Whatever hotlined does beyond this (auth, JSON parsing,
// routing, the group-commit fsync) is what the ingest benchmark measures against it.
// It doubles as a fast webhook sink for the throughput run (it answers 200 {"id":"x"}).
#include "core/asio.hpp"

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

void log_exception(const std::exception_ptr& e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "bare_server: session failed: " << ex.what() << "\n";
    }
}

asio::awaitable<void> serve(beast::tcp_stream stream) {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(body_limit);
        stream.expires_after(read_timeout);
        co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;  // closed, timed out or malformed: the ceiling does not care which
        }
        const auto req = parser.release();
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::server, "bare");
        res.set(http::field::content_type, "application/json");
        res.keep_alive(req.keep_alive());
        res.body() = R"({"id":"x"})";
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !res.keep_alive()) {
            break;
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    auto executor = co_await asio::this_coro::executor;
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted) {
                co_return;
            }
            continue;  // e.g. EMFILE: keep serving the connections we have
        }
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(executor, serve(beast::tcp_stream(std::move(socket))), log_exception);
    }
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
        acceptor.open(ep.protocol());
        acceptor.set_option(asio::socket_base::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
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
