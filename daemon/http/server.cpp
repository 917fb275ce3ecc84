// The only Beast translation unit: accept loop, one coroutine per connection (the frame
// owns the stream), request checks in the order route -> method -> auth -> the endpoint's
// handler, graceful drain. Pure pieces (the route table, header checks, bodies) live in
// route_table.cpp, router.cpp and auth.cpp; the endpoints in endpoints/.
#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <list>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/async_event.hpp"
#include "core/log.hpp"
#include "core/spawn.hpp"
#include "core/text.hpp"
#include "http/auth.hpp"
#include "http/endpoint.hpp"
#include "http/router.hpp"

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

[[nodiscard]] std::string_view sv(beast::string_view s) noexcept {
    return {s.data(), s.size()};
}

// Request counts by route and status, kept in atomics and folded into the registry when
// /metrics is rendered: the registry's mutex and map lookups stay off the hot path. The
// collector shares ownership, so it stays valid after the server is gone. One row per
// pattern of the route table plus one for "other"; the table is fixed, so are the rows.
struct request_counters {
    explicit request_counters(const route_table& routes) : requests(routes.route_count() + 1) {
        for (std::size_t r = 0; r < requests.size(); ++r) {
            labels.emplace_back(routes.route_label(r));
        }
    }

    std::vector<std::array<std::atomic<std::uint64_t>, max_status>> requests;
    std::vector<std::string> labels;
    // Refused at accept, by reason: max_connections, per_ip, unauthenticated (the share
    // not reserved for authenticated connections is full and none of it is idle).
    std::atomic<std::uint64_t> rejected_total{0};
    std::atomic<std::uint64_t> rejected_per_ip{0};
    std::atomic<std::uint64_t> rejected_unauthenticated{0};
    std::atomic<std::uint64_t> evicted{0};  // idle unauthenticated, closed for a newcomer
    std::atomic<std::size_t> open{0};
    bool main_listener{true};  // the metrics listener leaves the connection gauge alone

    void collect(core::metrics& m) {
        for (std::size_t r = 0; r < requests.size(); ++r) {
            for (unsigned code = 0; code < max_status; ++code) {
                auto& slot = requests[r][code];
                if (slot.load(std::memory_order_relaxed) == 0) {
                    continue;
                }
                const auto n = slot.exchange(0, std::memory_order_relaxed);
                m.counter_add("hotline_http_requests_total",
                              {{"route", labels[r]}, {"code", std::to_string(code)}},
                              static_cast<double>(n));
            }
        }
        const auto fold = [&m](std::atomic<std::uint64_t>& n, const char* name,
                               core::labels labels) {
            if (const auto v = n.exchange(0, std::memory_order_relaxed); v > 0) {
                m.counter_add(name, std::move(labels), static_cast<double>(v));
            }
        };
        fold(rejected_total, "hotline_http_connections_rejected_total",
             {{"reason", "max_connections"}});
        fold(rejected_per_ip, "hotline_http_connections_rejected_total", {{"reason", "per_ip"}});
        fold(rejected_unauthenticated, "hotline_http_connections_rejected_total",
             {{"reason", "unauthenticated"}});
        fold(evicted, "hotline_http_connections_evicted_total", {});
        if (main_listener) {
            m.gauge_set("hotline_http_connections", {},
                        static_cast<double>(open.load(std::memory_order_relaxed)));
        }
    }
};

// One open connection, as the server sees it (for drain, force-close and the caps).
struct connection {
    beast::tcp_stream* stream{nullptr};   // lives in the connection's coroutine frame
    core::async_event* waiting{nullptr};  // set while a handler waits (for a commit)
    bool idle{false};                     // waiting for the next request's first byte
    bool reading_head{false};             // waiting for the rest of a request head
    bool authenticated{false};            // a request of it passed a token check
    bool counted{false};                  // in the server's counts (until closed/evicted)
    std::string peer;                     // remote address, for max_connections_per_ip
    std::chrono::steady_clock::time_point accepted;
};

}  // namespace

// Shared by the accept loop and every connection coroutine, which keep it alive; after
// the server object is gone (`stopped`) they only unwind, never touch app or metrics.
struct server_state {
    server_state(asio::io_context& io_, application& app_, route_table routes_,
                 core::metrics& metrics_)
        : io(io_), app(app_), routes(std::move(routes_)), metrics(metrics_) {}

    asio::io_context& io;
    application& app;
    const route_table routes;
    core::metrics& metrics;
    config::server_config cfg;
    std::optional<tcp::acceptor> acceptor;
    std::list<connection> conns;  // oldest first
    std::size_t count{0};
    std::size_t unauthenticated{0};
    std::unordered_map<std::string, std::size_t> per_ip;
    bool draining{false};
    bool drained{false};
    bool stopped{false};
    std::function<void()> drain_done;
    std::optional<asio::steady_timer> grace;
    token_checker tokens;
    person_checker people;
    std::shared_ptr<request_counters> counters = std::make_shared<request_counters>(routes);
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
        if (c.waiting != nullptr) {
            c.waiting->abort();
        }
    }
}

// Takes `c` out of the counts (when it closes, or at once when it is evicted).
void release(server_state& st, connection& c) {
    if (!c.counted) {
        return;
    }
    c.counted = false;
    --st.count;
    if (!c.authenticated) {
        --st.unauthenticated;
    }
    if (const auto it = st.per_ip.find(c.peer); it != st.per_ip.end() && --it->second == 0) {
        st.per_ip.erase(it);
    }
    st.counters->open.store(st.count, std::memory_order_relaxed);
    if (st.draining && st.count == 0 && !st.stopped) {
        finish_drain(st);
    }
}

void mark_authenticated(server_state& st, connection& c) {
    if (c.authenticated) {
        return;
    }
    c.authenticated = true;
    if (c.counted) {
        --st.unauthenticated;
    }
}

// Closes the oldest unauthenticated connection that is idle or still sending a request
// head, to make room for a newcomer. Never an authenticated one, never one being answered.
bool evict_one(server_state& st) {
    for (auto& c : st.conns) {
        if (c.counted && !c.authenticated && c.stream != nullptr && c.waiting == nullptr &&
            (c.idle || c.reading_head)) {
            release(st, c);
            c.stream->close();
            st.counters->evicted.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
    }
    return false;
}

// The connection's entry in the registry, removed when the coroutine frame goes.
struct registration {
    state_ptr st;
    std::list<connection>::iterator it;

    registration(state_ptr s, std::list<connection>::iterator i) : st(std::move(s)), it(i) {}
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() {
        release(*st, *it);
        st->conns.erase(it);
    }
};

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

using response = bhttp::response<bhttp::string_body>;

response make_response(const server_state& st, unsigned version, bool client_keep_alive, bool head,
                       reply& rep) {
    response res{static_cast<bhttp::status>(rep.status), version};
    res.set(bhttp::field::server, "hotline");
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::content_type,
            beast::string_view(rep.content_type.data(), rep.content_type.size()));
    if (!rep.allow.empty()) {
        res.set(bhttp::field::allow, rep.allow);
    }
    if (rep.www_authenticate) {
        res.set(bhttp::field::www_authenticate, R"(Bearer realm="hotline")");
    }
    if (rep.retry_after > 0) {
        res.set(bhttp::field::retry_after, std::to_string(rep.retry_after));
    }
    for (const auto& [name, value] : rep.headers) {
        res.set(name, value);
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

[[nodiscard]] method method_of(bhttp::verb v) noexcept {
    switch (v) {
        case bhttp::verb::get: return method::get;
        case bhttp::verb::head: return method::head;
        case bhttp::verb::post: return method::post;
        case bhttp::verb::put: return method::put;
        case bhttp::verb::delete_: return method::del;
        case bhttp::verb::patch: return method::patch;
        case bhttp::verb::options: return method::options;
        default: return method::none;  // never in a route's set: 405
    }
}

// One request as the endpoint's handler sees it, over this connection.
class connection_exchange final : public exchange {
public:
    connection_exchange(server_state& st, connection& self, beast::tcp_stream& stream,
                        beast::flat_buffer& buf, parser_type& parser,
                        std::chrono::steady_clock::time_point deadline, const route_match& m,
                        const std::string& source, const api_caller* caller)
        : st_(st),
          self_(self),
          stream_(stream),
          buf_(buf),
          parser_(parser),
          deadline_(deadline),
          match_(m),
          source_(source),
          caller_(caller) {}

    [[nodiscard]] method verb() const override { return method_of(parser_.get().method()); }

    [[nodiscard]] std::string_view path() const override {
        const auto target = sv(parser_.get().target());
        return target.substr(0, target.find('?'));
    }

    [[nodiscard]] std::string_view target() const override { return sv(parser_.get().target()); }

    [[nodiscard]] std::string peer_address() const override {
        error_code ec;
        const auto address = stream_.socket().remote_endpoint(ec).address();
        if (ec) {
            return {};
        }
        if (address.is_v6() && address.to_v6().is_v4_mapped()) {
            return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
        }
        return address.to_string();
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> headers() const override {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& f : parser_.get()) {
            out.emplace_back(std::string(sv(f.name_string())), std::string(sv(f.value())));
        }
        return out;
    }

    [[nodiscard]] std::string_view header(std::string_view name) const override {
        return sv(parser_.get()[beast::string_view(name.data(), name.size())]);
    }

    [[nodiscard]] std::string_view param(std::string_view name) const override {
        for (const auto& [key, value] : match_.captured) {
            if (key == name) {
                return value;
            }
        }
        return {};
    }

    [[nodiscard]] const std::string& source() const override { return source_; }
    [[nodiscard]] const api_caller* caller() const override { return caller_; }
    [[nodiscard]] const core::clock& clock() const override { return *st_.clock; }

    asio::awaitable<std::optional<reply>> read_body() override {
        auto& req = parser_.get();
        error_code ec;
        if (!parse_buffered(parser_, buf_, /*whole=*/true, ec) && !ec) {
            if (req.version() >= 11 &&
                core::iequals(sv(req[bhttp::field::expect]), "100-continue")) {
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                co_await asio::async_write(stream_, asio::buffer(go_on.data(), go_on.size()),
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    co_return no_reply();
                }
            }
            stream_.expires_at(deadline_);
            co_await bhttp::async_read(stream_, buf_, parser_,
                                       asio::redirect_error(asio::use_awaitable, ec));
        }
        if (!ec) {
            co_return std::nullopt;
        }
        body_unread_ = true;
        auto rep = reply_for_read_error(ec, st_.cfg.body_limit);
        if (!rep) {
            co_return no_reply();
        }
        rep->close = true;
        co_return rep;
    }

    [[nodiscard]] const std::string& body() const override { return parser_.get().body(); }

    asio::awaitable<bool> wait(core::async_event& ev) override {
        self_.waiting = &ev;
        const bool set = co_await ev.wait();
        self_.waiting = nullptr;
        co_return set && !st_.stopped;
    }

    [[nodiscard]] asio::any_io_executor executor() override { return stream_.get_executor(); }

    [[nodiscard]] bool body_unread() const noexcept { return body_unread_; }

private:
    server_state& st_;
    connection& self_;
    beast::tcp_stream& stream_;
    beast::flat_buffer& buf_;
    parser_type& parser_;
    std::chrono::steady_clock::time_point deadline_;
    const route_match& match_;
    const std::string& source_;
    const api_caller* caller_;
    bool body_unread_{false};
};

struct request_outcome {
    reply rep;
    std::string source;                // authenticated source name ("" when none)
    std::optional<api_caller> caller;  // auth_kind::person_token
    bool body_unread{false};
};

// Route -> method -> auth -> handler, each answering its own error.
asio::awaitable<void> dispatch_request(server_state& st, connection& self,
                                       beast::tcp_stream& stream, beast::flat_buffer& buf,
                                       parser_type& parser,
                                       std::chrono::steady_clock::time_point deadline,
                                       const route_match& m, request_outcome& out) {
    if (m.result == route_match::kind::not_found) {
        out.rep = error_reply(404, "not_found", "no such resource");
        co_return;
    }
    if (m.result == route_match::kind::method_not_allowed) {
        out.rep =
            error_reply(405, "method_not_allowed", "use " + m.allow.substr(0, m.allow.find(',')));
        out.rep.allow = m.allow;
        co_return;
    }
    const endpoint& e = st.routes.at(m.index);
    const auto unauthorized = [&out] {
        out.rep = error_reply(401, "unauthorized", "a valid bearer token is required");
        out.rep.www_authenticate = true;
    };
    if (e.auth == auth_kind::source_token) {
        const auto token = bearer_token(sv(parser.get()[bhttp::field::authorization]));
        const std::string* source =
            token ? st.tokens.authenticate(*token, st.app.current_config()) : nullptr;
        if (source == nullptr) {
            unauthorized();
            co_return;
        }
        out.source = *source;
        mark_authenticated(st, self);
    } else if (e.auth == auth_kind::metrics_token) {
        const auto cfg = st.app.current_config();
        if (cfg != nullptr && !cfg->server.metrics_token.value.empty()) {
            const auto token = bearer_token(sv(parser.get()[bhttp::field::authorization]));
            if (!token || !same_token(*token, cfg->server.metrics_token.value)) {
                unauthorized();
                co_return;
            }
            mark_authenticated(st, self);
        }
    } else if (e.auth == auth_kind::person_token) {
        const auto token = bearer_token(sv(parser.get()[bhttp::field::authorization]));
        if (token) {
            out.caller = st.people.authenticate(*token, st.app.current_config());
        }
        if (!out.caller) {
            unauthorized();
            co_return;
        }
        mark_authenticated(st, self);
    }
    connection_exchange ex(st, self, stream, buf, parser, deadline, m, out.source,
                           out.caller ? &*out.caller : nullptr);
    out.rep = co_await e.handle(ex);
    out.body_unread = ex.body_unread();
}

void count(server_state& st, const route_match& m, const request_outcome& out) {
    const unsigned status = out.rep.status;
    if (status < max_status) {
        st.counters->requests[m.route][status].fetch_add(1, std::memory_order_relaxed);
    }
    if (m.result == route_match::kind::not_found || st.stopped) {
        return;
    }
    if (const auto& observe = st.routes.at(m.index).observe) {
        observe(out.source, out.rep);
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
        self.reading_head = true;
        co_await bhttp::async_read_header(stream, buf, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
        self.reading_head = false;
    }
    auto& req = parser.get();
    const route_match m = st.routes.match(sv(req.target()), method_of(req.method()));
    request_outcome out;
    if (ec) {
        auto rep = reply_for_read_error(ec, st.cfg.body_limit);
        if (!rep) {
            co_return false;
        }
        out.rep = std::move(*rep);
        out.rep.close = true;
        out.body_unread = true;
    } else {
        co_await dispatch_request(st, self, stream, buf, parser, deadline, m, out);
        out.body_unread = out.body_unread || !parser.is_done();
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
    count(st, m, out);
    if (spdlog::should_log(spdlog::level::debug)) {
        const std::chrono::duration<double, std::milli> took =
            std::chrono::steady_clock::now() - started;
        spdlog::debug("http method={} route={} status={} ms={:.3f}",
                      ec ? std::string_view("-") : sv(req.method_string()),
                      st.routes.route_label(m.route), out.rep.status, took.count());
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
            // Until it authenticates, a connection lives preauth_timeout from its accept:
            // idle sockets of strangers must not hold slots for a minute each.
            self.idle = true;
            auto deadline = std::chrono::steady_clock::now() +
                            (first ? st->cfg.read_timeout : st->cfg.idle_timeout);
            if (!self.authenticated) {
                deadline = std::min(deadline, self.accepted + st->cfg.preauth_timeout);
            }
            stream.expires_at(deadline);
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

// The remote address a per-IP count is kept under; an IPv4-mapped IPv6 address counts as
// its IPv4 address, and an IPv6 address as its /64 (one host usually has a whole /64, so
// counting single addresses would cap nothing).
std::string peer_key(const tcp::socket& socket) {
    error_code ec;
    const auto address = socket.remote_endpoint(ec).address();
    if (ec) {
        return {};
    }
    if (address.is_v4()) {
        return address.to_string();
    }
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    }
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::make_address_v6(bytes).to_string() + "/64";
}

// Whether a new connection from `peer` may be served: the per-IP cap, the total cap, and
// the share of the total left to unauthenticated connections (the rest is reserved for
// connections that authenticated), making room by evicting when that share is full.
bool admit(server_state& st, const std::string& peer) {
    if (const auto it = st.per_ip.find(peer);
        it != st.per_ip.end() && it->second >= st.cfg.max_connections_per_ip) {
        st.counters->rejected_per_ip.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    // With no slots reserved, max_connections is a plain cap: a newcomer is refused, no
    // one is evicted for it.
    const std::size_t reserved = std::min(st.cfg.reserved(), st.cfg.max_connections);
    if (st.count >= st.cfg.max_connections) {
        if (reserved == 0 || !evict_one(st)) {
            st.counters->rejected_total.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    if (st.unauthenticated >= st.cfg.max_connections - reserved && !evict_one(st)) {
        st.counters->rejected_unauthenticated.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return true;
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
        std::string peer = peer_key(socket);
        if (!admit(*st, peer)) {
            socket.close(ec);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        const auto it = st->conns.emplace(st->conns.end());
        it->peer = std::move(peer);
        it->accepted = std::chrono::steady_clock::now();
        it->counted = true;
        ++st->count;
        ++st->unauthenticated;
        ++st->per_ip[it->peer];
        st->counters->open.store(st->count, std::memory_order_relaxed);
        asio::co_spawn(st->io, serve(st, it, beast::tcp_stream(std::move(socket))),
                       core::log_on_exception{"http.connection"});
    }
}

}  // namespace

struct server::impl {
    state_ptr st;
};

server::server(asio::io_context& io, application& app, route_table routes, core::metrics& metrics)
    : impl_(std::make_unique<impl>()) {
    impl_->st = std::make_shared<server_state>(io, app, std::move(routes), metrics);
    metrics.describe_counter("hotline_http_requests_total",
                             "HTTP requests answered, by route and status code");
    metrics.describe_counter("hotline_http_connections_rejected_total",
                             "Connections closed at once, by reason: max_connections, per_ip "
                             "(max_connections_per_ip), unauthenticated (the unreserved share "
                             "is full and none of it idle)");
    metrics.describe_counter("hotline_http_connections_evicted_total",
                             "Idle unauthenticated connections closed to make room for a new one");
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

core::result<std::uint16_t> server::start(const config::server_config& cfg, std::string_view role) {
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
    if (role.empty()) {
        spdlog::info("listening address={} port={}", cfg.listen_address, port);
    } else {
        // Not "listening": tools (and the test harness) read the main port from that line.
        st.counters->main_listener = false;
        spdlog::info("{} listener address={} port={}", role, cfg.listen_address, port);
    }
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
