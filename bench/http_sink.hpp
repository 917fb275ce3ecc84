// The HTTP sink the bench tools share: bench_bare_server is nothing else, bench_latency and
// bench_peer run one next to their load generator. All answer like a webhook provider would,
// 200 {"id":"x"}, over keep-alive connections on one io thread.
#pragma once

#include "core/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <iostream>
#include <utility>

namespace hotline_bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A co_spawn completion handler that prints what a task died of after `prefix`.
inline auto exception_logger(const char* prefix) {
    return [prefix](const std::exception_ptr& e) {
        if (!e) {
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            std::cerr << prefix << ex.what() << "\n";
        }
    };
}

inline void listen_on(tcp::acceptor& acceptor, const tcp::endpoint& ep) {
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
}

// Answers `req` 200 {"id":"x"}, with a Server header unless `server` is null. True when
// the connection stays open for the next request.
inline asio::awaitable<bool> answer_ok(beast::tcp_stream& stream,
                                       const http::request<http::string_body>& req,
                                       const char* server) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    if (server != nullptr) {
        res.set(http::field::server, server);
    }
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = R"({"id":"x"})";
    res.prepare_payload();
    boost::system::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && res.keep_alive();
}

// Accepts until the acceptor is closed and runs session(stream) for each connection;
// on_error is the co_spawn completion handler of every session.
template <class Session, class OnError>
asio::awaitable<void> accept_each(tcp::acceptor& acceptor, Session session, OnError on_error) {
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
        asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))), on_error);
    }
}

// A webhook receiver's connection: reads requests (keep-alive) until the peer closes, a
// request is malformed or the connection is idle for `idle`, calls
// on_request(request, arrival time) for each one and answers it 200 {"id":"x"}.
template <class OnRequest>
asio::awaitable<void> serve_webhooks(beast::tcp_stream stream, OnRequest on_request,
                                     std::chrono::steady_clock::duration idle,
                                     std::size_t body_limit = 1024 * 1024) {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(body_limit);
        stream.expires_after(idle);
        co_await http::async_read(stream, buf, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;
        }
        const auto arrived = std::chrono::steady_clock::now();
        const auto req = parser.release();
        on_request(req, arrived);
        if (!co_await answer_ok(stream, req, nullptr)) {
            break;
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace hotline_bench
