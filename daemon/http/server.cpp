// The only Beast translation unit: accept loop, one coroutine per connection (the frame
// owns the stream), request checks in the order auth -> media type -> body -> JSON ->
// store, graceful drain. Pure pieces (routing, header checks, bodies) live in router.cpp
// and auth.cpp.
#include "http/server.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <list>
#include <optional>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/log.hpp"
#include "core/spawn.hpp"
#include "http/auth.hpp"
#include "http/router.hpp"
#include "ingest/json_report.hpp"

namespace hotline::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t header_limit = 16 * 1024;
constexpr std::size_t read_chunk = 16 * 1024;
// Lingering close after an early answer (401/413/...): read and drop what the client is
// still sending, so our close does not turn into a RST that destroys the answer in flight.
constexpr std::size_t linger_bytes = 1024 * 1024;
constexpr core::duration linger_time = 1s;
constexpr unsigned max_status = 600;

constexpr std::string_view json_type = "application/json";
constexpr std::string_view text_type = "text/plain; charset=utf-8";
constexpr std::string_view metrics_type = "text/plain; version=0.0.4";

[[nodiscard]] std::string_view sv(beast::string_view s) noexcept {
    return {s.data(), s.size()};
}

// Request counts by route and status, kept in atomics and folded into the registry when
// /metrics is rendered: the registry's mutex and map lookups stay off the hot path. The
// collector shares ownership, so it stays valid after the server is gone.
struct request_counters {
    std::array<std::array<std::atomic<std::uint64_t>, max_status>, route_count> requests{};
    std::atomic<std::uint64_t> connections_rejected{0};
    std::atomic<std::size_t> open{0};

    void collect(core::metrics& m) {
        for (std::size_t r = 0; r < route_count; ++r) {
            for (unsigned code = 0; code < max_status; ++code) {
                auto& slot = requests[r][code];
                if (slot.load(std::memory_order_relaxed) == 0) {
                    continue;
                }
                const auto n = slot.exchange(0, std::memory_order_relaxed);
                m.counter_add("hotline_http_requests_total",
                              {{"route", std::string(route_label(static_cast<route>(r)))},
                               {"code", std::to_string(code)}},
                              static_cast<double>(n));
            }
        }
        if (const auto n = connections_rejected.exchange(0, std::memory_order_relaxed); n > 0) {
            m.counter_add("hotline_http_connections_rejected_total", {}, static_cast<double>(n));
        }
        m.gauge_set("hotline_http_connections", {},
                    static_cast<double>(open.load(std::memory_order_relaxed)));
    }
};

// One open connection, as the server sees it (for drain and force-close).
struct connection {
    beast::tcp_stream* stream{nullptr};   // lives in the connection's coroutine frame
    asio::steady_timer* submit{nullptr};  // set while waiting for a commit
    bool idle{false};                     // waiting for the next request's first byte
};

}  // namespace

// Shared by the accept loop and every connection coroutine, which keep it alive; after
// the server object is gone (`stopped`) they only unwind, never touch app or metrics.
struct server_state {
    server_state(asio::io_context& io_, application& app_, core::metrics& metrics_)
        : io(io_), app(app_), metrics(metrics_) {}

    asio::io_context& io;
    application& app;
    core::metrics& metrics;
    config::server_config cfg;
    std::optional<tcp::acceptor> acceptor;
    std::list<connection> conns;
    std::size_t count{0};
    bool draining{false};
    bool drained{false};
    bool stopped{false};
    std::function<void()> drain_done;
    std::optional<asio::steady_timer> grace;
    token_checker tokens;
    std::shared_ptr<request_counters> counters = std::make_shared<request_counters>();
    core::system_clock system_time;
    const core::clock* clock{&system_time};
};

namespace {

using state_ptr = std::shared_ptr<server_state>;

void finish_drain(server_state& st) {
    if (st.drained) {
        return;
    }
    st.drained = true;
    if (st.grace) {
        st.grace->cancel();
    }
    if (st.drain_done) {
        // Posted: `done` may well destroy the server.
        asio::post(st.io, std::exchange(st.drain_done, nullptr));
    }
}

void force_close(server_state& st) {
    for (auto& c : st.conns) {
        if (c.stream != nullptr) {
            c.stream->close();
        }
        if (c.submit != nullptr) {
            c.submit->cancel();
        }
    }
}

// The connection's entry in the registry, removed when the coroutine frame goes.
struct registration {
    state_ptr st;
    std::list<connection>::iterator it;

    registration(state_ptr s, std::list<connection>::iterator i) : st(std::move(s)), it(i) {}
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() {
        st->conns.erase(it);
        --st->count;
        st->counters->open.store(st->count, std::memory_order_relaxed);
        if (st->draining && st->count == 0 && !st->stopped) {
            finish_drain(*st);
        }
    }
};

// What to answer; turned into a Beast response in one place (make_response).
struct reply {
    unsigned status{200};
    std::string body;
    std::string_view content_type{json_type};
    std::string code;        // API error code, for the rejected counter
    std::string_view allow;  // for 405
    bool www_authenticate{false};
    bool retry_after{false};
    bool close{false};
};

reply error_reply(unsigned status, std::string_view code, std::string_view message) {
    reply r;
    r.status = status;
    r.code = code;
    r.body = error_body(code, message);
    return r;
}

reply text_reply(unsigned status, std::string body, std::string_view type = text_type) {
    reply r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = type;
    return r;
}

// An answer for a failed read, or nothing when the peer is gone (close silently).
std::optional<reply> reply_for_read_error(const error_code& ec, std::size_t body_limit) {
    if (ec == bhttp::error::body_limit) {
        return error_reply(413, "too_large",
                           "request body exceeds " + std::to_string(body_limit) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
        return error_reply(431, "header_too_large", "request header exceeds 16384 bytes");
    }
    // A timeout has closed the socket already (Beast does that); eof/reset: peer gone.
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
        return std::nullopt;
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
        return error_reply(400, "bad_request", "malformed HTTP request");
    }
    return std::nullopt;  // a socket error
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto la = static_cast<char>((a[i] >= 'A' && a[i] <= 'Z') ? a[i] - 'A' + 'a' : a[i]);
        if (la != b[i]) {
            return false;
        }
    }
    return true;
}

using response = bhttp::response<bhttp::string_body>;

response make_response(const server_state& st, unsigned version, bool client_keep_alive, bool head,
                       reply& rep) {
    response res{static_cast<bhttp::status>(rep.status), version};
    res.set(bhttp::field::server, "hotline");
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::content_type,
            beast::string_view(rep.content_type.data(), rep.content_type.size()));
    if (!rep.allow.empty()) {
        res.set(bhttp::field::allow, beast::string_view(rep.allow.data(), rep.allow.size()));
    }
    if (rep.www_authenticate) {
        res.set(bhttp::field::www_authenticate, R"(Bearer realm="hotline")");
    }
    if (rep.retry_after) {
        res.set(bhttp::field::retry_after, "1");
    }
    res.keep_alive(client_keep_alive && !rep.close && !st.draining && !st.stopped);
    if (head) {
        res.content_length(rep.body.size());
    } else {
        res.body() = std::move(rep.body);
        res.prepare_payload();
    }
    return res;
}

using parser_type = bhttp::request_parser<bhttp::string_body>;

// Feeds what is already buffered to the parser, without I/O: a request that arrived in
// one segment (the common case) is parsed without another trip through the scheduler.
// True when the header (or, with `whole`, the message) is complete; a parse error is
// left in `ec`; false with no error means more bytes are needed.
bool parse_buffered(parser_type& parser, beast::flat_buffer& buf, bool whole, error_code& ec) {
    for (;;) {
        if (whole ? parser.is_done() : parser.is_header_done()) {
            return true;
        }
        if (buf.size() == 0) {
            return false;
        }
        const std::size_t used = parser.put(buf.data(), ec);
        buf.consume(used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            return false;
        }
        if (ec || used == 0) {
            return false;
        }
    }
}

// Waits for app.submit_report's completion without blocking the thread: the completion
// is posted to this connection's executor and wakes a timer used as an event.
struct submit_wait {
    explicit submit_wait(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<core::result<domain::report_ids>> outcome;
};

struct request_outcome {
    reply rep;
    std::string source;  // authenticated source name ("" when none)
    bool body_unread{false};
};

asio::awaitable<void> handle_report(server_state& st, connection& self, beast::tcp_stream& stream,
                                    beast::flat_buffer& buf, parser_type& parser,
                                    std::chrono::steady_clock::time_point deadline,
                                    request_outcome& out) {
    auto& req = parser.get();
    if (req.method() != bhttp::verb::post) {
        out.rep = error_reply(405, "method_not_allowed", "use POST");
        out.rep.allow = "POST";
        co_return;
    }
    const auto token = bearer_token(sv(req[bhttp::field::authorization]));
    const std::string* source =
        token ? st.tokens.authenticate(*token, st.app.current_config()) : nullptr;
    if (source == nullptr) {
        out.rep = error_reply(401, "unauthorized", "a valid bearer token is required");
        out.rep.www_authenticate = true;
        co_return;
    }
    out.source = *source;
    if (!is_json_media_type(sv(req[bhttp::field::content_type]))) {
        out.rep =
            error_reply(415, "unsupported_media_type", "Content-Type must be application/json");
        co_return;
    }
    error_code ec;
    if (!parse_buffered(parser, buf, /*whole=*/true, ec) && !ec) {
        if (req.version() >= 11 &&
            equals_ignore_case(sv(req[bhttp::field::expect]), "100-continue")) {
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            co_await asio::async_write(stream, asio::buffer(go_on.data(), go_on.size()),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                out.rep.close = true;
                out.rep.status = 0;  // nothing to send
                co_return;
            }
        }
        stream.expires_at(deadline);
        co_await bhttp::async_read(stream, buf, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
        auto rep = reply_for_read_error(ec, st.cfg.body_limit);
        if (rep) {
            out.rep = std::move(*rep);
        } else {
            out.rep.status = 0;
        }
        out.rep.close = true;
        out.body_unread = true;
        co_return;
    }
    auto report = ingest::parse_report_json(req.body(), out.source, sv(req["Idempotency-Key"]),
                                            st.clock->now_ms());
    if (!report) {
        out.rep = error_reply(400, report.err().code, report.err().message);
        co_return;
    }
    auto wait = std::make_shared<submit_wait>(stream.get_executor());
    wait->timer.expires_at(asio::steady_timer::time_point::max());
    st.app.submit_report(std::move(report).value(), [wait](core::result<domain::report_ids> r) {
        asio::post(wait->timer.get_executor(), [wait, r = std::move(r)]() mutable {
            wait->outcome.emplace(std::move(r));
            wait->timer.cancel();
        });
    });
    self.submit = &wait->timer;
    if (!wait->outcome) {
        co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    self.submit = nullptr;
    if (!wait->outcome || st.stopped) {  // force-closed before the commit answered
        out.rep.status = 0;
        out.rep.close = true;
        co_return;
    }
    if (!wait->outcome->ok()) {
        spdlog::warn("http report submit failed source={} code={}", out.source,
                     wait->outcome->err().code);
        out.rep = error_reply(503, "unavailable", "the report could not be stored; retry");
        out.rep.retry_after = true;
        co_return;
    }
    const auto& ids = wait->outcome->value();
    out.rep.status = ids.duplicate ? 200 : 202;
    out.rep.body = ids_body(ids);
}

void handle_get(server_state& st, route r, request_outcome& out) {
    switch (r) {
        case route::healthz: out.rep = text_reply(200, "ok\n"); break;
        case route::readyz:
            out.rep = st.app.ready() ? text_reply(200, "ready\n") : text_reply(503, "not ready\n");
            break;
        case route::metrics: out.rep = text_reply(200, st.metrics.render(), metrics_type); break;
        case route::reports:
        case route::other: break;
    }
}

void count(server_state& st, route r, const request_outcome& out) {
    const unsigned status = out.rep.status;
    if (status < max_status) {
        st.counters->requests[static_cast<std::size_t>(r)][status].fetch_add(
            1, std::memory_order_relaxed);
    }
    if (r != route::reports || st.stopped) {
        return;
    }
    if (status == 202) {
        st.metrics.counter_add("hotline_reports_received_total", {{"source", out.source}});
    } else if (status == 200) {
        st.metrics.counter_add("hotline_reports_duplicate_total", {{"source", out.source}});
    } else if (status >= 400 && status < 500) {
        st.metrics.counter_add("hotline_reports_rejected_total",
                               {{"source", out.source}, {"reason", out.rep.code}});
    }
}

// Reads one request (the first bytes are in `buf` already), answers it. False: close.
asio::awaitable<bool> serve_one(server_state& st, connection& self, beast::tcp_stream& stream,
                                beast::flat_buffer& buf, bool& body_unread) {
    const auto started = std::chrono::steady_clock::now();
    parser_type parser;
    parser.header_limit(header_limit);
    parser.body_limit(st.cfg.body_limit);
    // read_timeout runs from the first byte over header and body (a slow client must not
    // hold a slot); the timer is armed only when a read is needed.
    const auto deadline = started + st.cfg.read_timeout;
    error_code ec;
    if (!parse_buffered(parser, buf, /*whole=*/false, ec) && !ec) {
        stream.expires_at(deadline);
        co_await bhttp::async_read_header(stream, buf, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
    }
    auto& req = parser.get();
    const route r = route_of(sv(req.target()));
    request_outcome out;
    if (ec) {
        auto rep = reply_for_read_error(ec, st.cfg.body_limit);
        if (!rep) {
            co_return false;
        }
        out.rep = std::move(*rep);
        out.rep.close = true;
        out.body_unread = true;
    } else if (r == route::reports) {
        co_await handle_report(st, self, stream, buf, parser, deadline, out);
        out.body_unread = out.body_unread || !parser.is_done();
    } else if (r == route::other) {
        out.rep = error_reply(404, "not_found", "no such resource");
        out.body_unread = !parser.is_done();
    } else if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
        out.rep = error_reply(405, "method_not_allowed", "use GET");
        out.rep.allow = "GET, HEAD";
        out.body_unread = !parser.is_done();
    } else {
        handle_get(st, r, out);
        out.body_unread = !parser.is_done();
    }
    if (out.rep.status == 0) {  // peer gone or force-closed: nothing to say
        body_unread = out.body_unread;
        co_return false;
    }
    if (out.body_unread && !ec && !out.rep.close && !parser.is_done()) {
        // Answered before reading the body (401, 415, 404...): when the rest is already
        // buffered, drop it and keep the connection; otherwise it is still on the wire.
        error_code rest;
        out.body_unread = !parse_buffered(parser, buf, /*whole=*/true, rest) || rest;
    }
    if (out.body_unread) {
        out.rep.close = true;
    }
    count(st, r, out);
    if (spdlog::should_log(spdlog::level::debug)) {
        const std::chrono::duration<double, std::milli> took =
            std::chrono::steady_clock::now() - started;
        spdlog::debug("http method={} route={} status={} ms={:.3f}",
                      ec ? std::string_view("-") : sv(req.method_string()), route_label(r),
                      out.rep.status, took.count());
    }
    const bool head = !ec && req.method() == bhttp::verb::head;
    auto res = make_response(st, ec ? 11 : req.version(), !ec && req.keep_alive(), head, out.rep);
    body_unread = out.body_unread;
    stream.expires_after(st.cfg.read_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && res.keep_alive();
}

asio::awaitable<void> close_connection(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                       bool linger) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger && !ec) {
        stream.expires_after(linger_time);
        std::size_t dropped = 0;
        while (dropped < linger_bytes) {
            buf.clear();
            const std::size_t n = co_await stream.async_read_some(
                buf.prepare(read_chunk), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                break;
            }
            dropped += n;
        }
    }
    stream.close();
}

asio::awaitable<void> serve(state_ptr st, std::list<connection>::iterator it,
                            beast::tcp_stream stream) {
    const registration reg(st, it);
    connection& self = *it;
    self.stream = &stream;
    beast::flat_buffer buf;
    bool first = true;
    bool linger = false;
    for (;;) {
        if (buf.size() == 0) {
            if (st->draining || st->stopped) {
                break;
            }
            // Idle: a new connection gets read_timeout to start talking, a kept-alive one
            // idle_timeout. Reading the first bytes here (not in async_read) is what lets
            // a drain tell idle connections (cancel) from busy ones (let them finish).
            self.idle = true;
            stream.expires_after(first ? st->cfg.read_timeout : st->cfg.idle_timeout);
            error_code ec;
            const std::size_t n = co_await stream.async_read_some(
                buf.prepare(read_chunk), asio::redirect_error(asio::use_awaitable, ec));
            self.idle = false;
            if (ec) {
                break;
            }
            buf.commit(n);
        }
        first = false;
        if (!co_await serve_one(*st, self, stream, buf, linger)) {
            break;
        }
    }
    co_await close_connection(stream, buf, linger && !st->stopped);
}

asio::awaitable<void> accept_loop(state_ptr st) {
    for (;;) {
        error_code ec;
        tcp::socket socket =
            co_await st->acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (st->draining || st->stopped || !st->acceptor->is_open()) {
            co_return;
        }
        if (ec) {
            // EMFILE and friends: back off instead of spinning on the error.
            spdlog::warn("http accept failed: {}", ec.message());
            asio::steady_timer pause(st->io, 100ms);
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (st->count >= st->cfg.max_connections) {
            st->counters->connections_rejected.fetch_add(1, std::memory_order_relaxed);
            socket.close(ec);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        const auto it = st->conns.emplace(st->conns.end());
        ++st->count;
        st->counters->open.store(st->count, std::memory_order_relaxed);
        asio::co_spawn(st->io, serve(st, it, beast::tcp_stream(std::move(socket))),
                       core::log_on_exception{"http.connection"});
    }
}

}  // namespace

struct server::impl {
    state_ptr st;
};

server::server(asio::io_context& io, application& app, core::metrics& metrics)
    : impl_(std::make_unique<impl>()) {
    impl_->st = std::make_shared<server_state>(io, app, metrics);
    metrics.describe_counter("hotline_http_requests_total",
                             "HTTP requests answered, by route and status code");
    metrics.describe_counter("hotline_reports_received_total",
                             "Reports accepted and committed (202), by source");
    metrics.describe_counter("hotline_reports_duplicate_total",
                             "Reports already known by (source, external_id), by source");
    metrics.describe_counter("hotline_reports_rejected_total",
                             "Report requests refused with a 4xx, by source and reason");
    metrics.describe_counter("hotline_http_connections_rejected_total",
                             "Connections closed at once because max_connections was reached");
    metrics.describe_gauge("hotline_http_connections", "Open HTTP connections");
    metrics.on_collect(
        [counters = impl_->st->counters](core::metrics& m) { counters->collect(m); });
}

server::~server() {
    auto& st = *impl_->st;
    st.stopped = true;
    st.drain_done = nullptr;
    error_code ec;
    if (st.acceptor) {
        st.acceptor->close(ec);
    }
    if (st.grace) {
        st.grace->cancel();
    }
    force_close(st);
}

core::result<std::uint16_t> server::start(const config::server_config& cfg) {
    auto& st = *impl_->st;
    if (st.acceptor) {
        return core::make_error("listen", "server already started");
    }
    error_code ec;
    const auto address = asio::ip::make_address(cfg.listen_address, ec);
    if (ec) {
        return core::make_error("listen", "bad listen address \"" + cfg.listen_address + "\"");
    }
    const tcp::endpoint endpoint{address, cfg.port};
    tcp::acceptor acceptor{st.io};
    const auto fail = [&](const char* what) {
        return core::make_error("listen", std::string(what) + " " + cfg.listen_address + ":" +
                                              std::to_string(cfg.port) + ": " + ec.message());
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) {
        return fail("cannot open");
    }
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
        return fail("cannot set SO_REUSEADDR on");
    }
    if (acceptor.bind(endpoint, ec); ec) {
        return fail("cannot bind");
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
        return fail("cannot listen on");
    }
    const std::uint16_t port = acceptor.local_endpoint(ec).port();
    if (ec) {
        return fail("cannot read the bound port of");
    }
    st.cfg = cfg;
    st.acceptor.emplace(std::move(acceptor));
    spdlog::info("listening address={} port={}", cfg.listen_address, port);
    asio::co_spawn(st.io, accept_loop(impl_->st), core::log_on_exception{"http.accept"});
    return port;
}

void server::shutdown(core::duration grace, std::function<void()> done) {
    auto& st = *impl_->st;
    if (st.drained) {
        asio::post(st.io, std::move(done));
        return;
    }
    if (st.drain_done) {  // a second call: both hear about the end
        st.drain_done = [first = std::move(st.drain_done), second = std::move(done)] {
            first();
            second();
        };
    } else {
        st.drain_done = std::move(done);
    }
    if (st.draining) {
        return;
    }
    st.draining = true;
    error_code ec;
    if (st.acceptor) {
        st.acceptor->close(ec);
    }
    for (auto& c : st.conns) {
        if (c.idle && c.stream != nullptr) {
            c.stream->cancel();
        }
    }
    if (st.count == 0) {
        finish_drain(st);
        return;
    }
    st.grace.emplace(st.io);
    st.grace->expires_after(grace);
    st.grace->async_wait([weak = std::weak_ptr<server_state>(impl_->st)](const error_code& e) {
        const auto s = weak.lock();
        if (e || !s || s->drained) {
            return;
        }
        spdlog::info("http drain grace expired connections={}", s->count);
        force_close(*s);
        finish_drain(*s);
    });
}

std::size_t server::connections() const {
    return impl_->st->count;
}

void server::set_clock(const core::clock& clock) {
    impl_->st->clock = &clock;
}

}  // namespace hotline::http
