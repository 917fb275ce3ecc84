// The HTTP sink the bench tools share: bench_bare_server is nothing else, bench_latency
// runs one next to its load generator. Both answer like a webhook provider would,
// 200 {"id":"x"}, over keep-alive connections on one io thread.
#pragma once

#include "core/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

}  // namespace hotline_bench
