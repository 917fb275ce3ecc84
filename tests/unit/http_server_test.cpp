// The server on 127.0.0.1:0 with the standard routes, a fake application and the real
// ingest::pipeline over a fake commit (the store), driven by a plain blocking-socket
// client from the test thread while the io_context runs on its own thread.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/model.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "dispatch/ack_link.hpp"
#include "http/auth.hpp"
#include "http/endpoints/cases.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/server.hpp"
#include "ingest/pipeline.hpp"

using namespace std::chrono_literals;
namespace core = hotline::core;
namespace config = hotline::config;
namespace domain = hotline::domain;
namespace http = hotline::http;
namespace asio = boost::asio;

namespace {

// --- fake application ---------------------------------------------------------------

class fake_app final : public http::application {
public:
    fake_app(asio::io_context& io, core::metrics& metrics)
        : io_(io),
          pipeline_(
              io.get_executor(), metrics,
              [this](domain::report r, domain::case_info, auto, auto, auto done) {
                  commit(std::move(r), std::move(done));
              },
              [](std::vector<domain::notification>) {}),
          metrics_(metrics) {
        auto cfg = std::make_shared<config::config>();
        config::source_config a;
        a.name = "src-a";
        a.tokens.push_back({"token-a", "a.token"});
        config::source_config b;
        b.name = "src-b";
        b.tokens.push_back({"token-b1", "b1.token"});
        b.tokens.push_back({"token-b2", "b2.token"});
        config::source_config other;  // not a webhook source: its token must not work
        other.name = "imap-x";
        other.kind = "imap";
        other.tokens.push_back({"token-imap", "imap.token"});
        cfg->sources = {a, b, other};
        domain::person alice;  // a responder with an API token
        alice.id = "alice";
        alice.api_token = "alice-api-token-0123";
        domain::person bob;  // a responder without one
        bob.id = "bob";
        domain::person root;
        root.id = "root";
        root.api_token = "root-api-token-01234";
        cfg->responders = {alice, bob};
        cfg->admins = {root};
        // These tests send many reports from one sender; the limits have their own tests.
        cfg->server.limits.source.rate = 0;
        cfg->server.limits.sender.rate = 0;
        cfg_ = cfg;
        pipeline_.set_config(cfg_);
    }

    [[nodiscard]] http::route_table routes() {
        return http::standard_routes(*this, pipeline_, metrics_);
    }
    [[nodiscard]] http::route_table routes_without_metrics() {
        return http::standard_routes(*this, pipeline_, metrics_, /*with_metrics=*/false);
    }
    [[nodiscard]] http::route_table metrics_routes() {
        return http::metrics_routes(*this, metrics_);
    }
    // Before the server starts: requests read the config from the io thread.
    void set_metrics_token(std::string token) {
        auto cfg = std::make_shared<config::config>(*cfg_);
        cfg->server.metrics_token = {std::move(token), "metrics.token"};
        cfg_ = cfg;
    }

    // Responders and partners (the ack link's viewers); before requests start.
    void set_people(std::vector<domain::person> responders, std::vector<domain::person> partners) {
        auto cfg = std::make_shared<config::config>(*cfg_);
        cfg->responders = std::move(responders);
        cfg->partners = std::move(partners);
        cfg_ = cfg;
    }

    [[nodiscard]] std::shared_ptr<const config::config> current_config() const override {
        return cfg_;
    }

    // Stands in for store::store::ingest: answers after `delay`, from the io thread.
    void commit(domain::report r,
                std::function<void(core::result<hotline::store::ingest_result>)> done) {
        {
            const std::lock_guard lock(mu_);
            reports_.push_back(r);
        }
        submissions.fetch_add(1);
        auto timer = std::make_shared<asio::steady_timer>(io_, delay);
        timer->async_wait([this, timer, r = std::move(r), done = std::move(done)](auto) {
            if (fail.load()) {
                done(core::make_error("store", "disk full"));
                return;
            }
            const auto key = r.source + "/" + r.external_id;
            const auto it = ids_.find(key);
            if (it != ids_.end()) {
                done(hotline::store::ingest_result{{it->second, it->second, true}, {}, {}});
                return;
            }
            const std::int64_t id = ++next_id_;
            ids_[key] = id;
            done(hotline::store::ingest_result{{id, id, false}, {}, {}});
        });
    }

    [[nodiscard]] bool ready() const override { return ready_flag.load(); }

    [[nodiscard]] std::vector<domain::report> reports() const {
        const std::lock_guard lock(mu_);
        return reports_;
    }

    std::atomic<int> submissions{0};
    std::atomic<bool> fail{false};
    std::atomic<bool> ready_flag{true};
    std::chrono::milliseconds delay{5ms};  // set before requests start

private:
    asio::io_context& io_;
    hotline::ingest::pipeline pipeline_;
    core::metrics& metrics_;
    std::shared_ptr<const config::config> cfg_;
    mutable std::mutex mu_;
    std::vector<domain::report> reports_;
    std::map<std::string, std::int64_t> ids_;  // io thread only
    std::int64_t next_id_{0};
};

// --- fixture ----------------------------------------------------------------------------

config::server_config test_config() {
    config::server_config cfg;
    cfg.listen_address = "127.0.0.1";
    cfg.port = 0;
    cfg.body_limit = 4096;
    cfg.read_timeout = 2s;
    cfg.idle_timeout = 5s;
    cfg.max_connections = 1024;
    cfg.max_connections_per_ip = 1024;  // every test client is 127.0.0.1
    return cfg;
}

struct fixture {
    explicit fixture(config::server_config cfg = test_config(),
                     std::chrono::milliseconds delay = 5ms,
                     std::optional<http::route_table> routes = std::nullopt,
                     const std::function<http::route_table(fake_app&)>& routes_of = nullptr) {
        app.delay = delay;
        if (routes_of) {
            routes = routes_of(app);
        }
        srv = std::make_unique<http::server>(io, app, routes ? std::move(*routes) : app.routes(),
                                             metrics);
        srv->set_clock(clock);
        auto bound = srv->start(cfg);
        REQUIRE(bound.ok());
        port = *bound;
        thread = std::thread([this] { io.run(); });
    }
    template <class Fn>
    auto on_io(Fn fn) {
        std::promise<decltype(fn())> p;
        asio::post(io, [&] { p.set_value(fn()); });
        return p.get_future().get();
    }
    ~fixture() {
        on_io([this] {
            srv.reset();
            return 0;
        });
        guard.reset();
        io.stop();
        thread.join();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    std::size_t connections() {
        return on_io([this] { return srv->connections(); });
    }

    double metric(const std::string& name, const core::labels& l) {
        (void)metrics.render();  // folds the server's request counters in
        return metrics.value(name, l);
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::metrics metrics;
    core::manual_clock clock{1'764'061'200'000};
    fake_app app{io, metrics};
    std::unique_ptr<http::server> srv;
    std::uint16_t port{};
    std::thread thread;
};

// --- a small blocking HTTP/1.1 client ----------------------------------------------------

struct response {
    int status{0};
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    [[nodiscard]] std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

class conn {
public:
    explicit conn(std::uint16_t port, int timeout_ms = 5000) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~conn() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    conn(const conn&) = delete;
    conn& operator=(const conn&) = delete;

    // False when the peer has closed (EPIPE/ECONNRESET).
    bool send(std::string_view data) {
        while (!data.empty()) {
            const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // The next response; nothing on EOF, reset or timeout.
    std::optional<response> read(bool head = false) {
        std::size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        response r;
        const std::string head_text = buf_.substr(0, end);
        buf_.erase(0, end + 4);
        std::size_t line_end = head_text.find("\r\n");
        const std::string status_line = head_text.substr(0, line_end);
        REQUIRE(status_line.rfind("HTTP/1.", 0) == 0);
        r.status = std::stoi(status_line.substr(9, 3));
        while (line_end != std::string::npos) {
            const std::size_t start = line_end + 2;
            line_end = head_text.find("\r\n", start);
            const std::string line = head_text.substr(start, line_end - start);
            const auto colon = line.find(':');
            if (colon == std::string::npos) {
                continue;
            }
            std::string name = line.substr(0, colon);
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.erase(0, 1);
            }
            r.headers[name] = value;
        }
        if (head || r.status / 100 == 1) {
            return r;
        }
        const auto length = static_cast<std::size_t>(std::stoul(r.header("content-length")));
        while (buf_.size() < length) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        r.body = buf_.substr(0, length);
        buf_.erase(0, length);
        return r;
    }

    // True when the server closes the connection within the receive timeout.
    bool closed() {
        char c;
        const auto n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }

private:
    bool fill() {
        char chunk[8192];
        const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        buf_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_{-1};
    std::string buf_;
};

std::string post(const std::string& body, const std::string& token = "token-a",
                 const std::string& extra = {},
                 const std::string& content_type = "application/json") {
    std::string req = "POST /v1/reports HTTP/1.1\r\nHost: test\r\n";
    if (!token.empty()) {
        req += "Authorization: Bearer " + token + "\r\n";
    }
    if (!content_type.empty()) {
        req += "Content-Type: " + content_type + "\r\n";
    }
    req += extra;
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return req;
}

std::string get(const std::string& target, const std::string& method = "GET",
                const std::string& extra = {}) {
    return method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

std::optional<response> roundtrip(std::uint16_t port, const std::string& request,
                                  bool head = false) {
    conn c(port);
    if (!c.send(request)) {
        return std::nullopt;
    }
    return c.read(head);
}

const std::string good_report = R"({"sender":"+79001234567","text":"Задержан активист"})";

void check_common_headers(const response& r) {
    CHECK(r.header("server") == "hotline");
    CHECK(r.header("cache-control") == "no-store");
}

void check_error(const std::optional<response>& r, int status, const std::string& code) {
    REQUIRE(r.has_value());
    CHECK(r->status == status);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->body.find(R"({"error":{"code":")" + code + R"(","message":")") == 0);
    check_common_headers(*r);
}

}  // namespace

TEST_CASE("healthz, readyz and metrics") {
    fixture f;
    auto r = roundtrip(f.port, get("/healthz"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ok\n");
    CHECK(r->header("content-type").rfind("text/plain", 0) == 0);
    check_common_headers(*r);

    r = roundtrip(f.port, get("/healthz?verbose=1"));
    REQUIRE(r);
    CHECK(r->status == 200);

    r = roundtrip(f.port, get("/readyz"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ready\n");
    f.app.ready_flag = false;
    r = roundtrip(f.port, get("/readyz"));
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->body == "not ready\n");

    r = roundtrip(f.port, get("/healthz", "HEAD"), /*head=*/true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == "3");

    f.metrics.counter_add("test_marker_total", {});
    r = roundtrip(f.port, get("/metrics"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "text/plain; version=0.0.4");
    CHECK(r->body.find("test_marker_total 1") != std::string::npos);
    CHECK(r->body.find("# TYPE hotline_http_requests_total counter") != std::string::npos);
    CHECK(r->body.find(R"(hotline_http_requests_total{route="/healthz",code="200"} 3)") !=
          std::string::npos);
    CHECK(r->body.find(R"(hotline_http_requests_total{route="/readyz",code="503"} 1)") !=
          std::string::npos);
}

TEST_CASE("a report is accepted after commit (202)") {
    fixture f;
    auto r = roundtrip(f.port, post(good_report, "token-a", "Idempotency-Key: k-1\r\n"));
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->body == R"({"report_id":1,"case_id":1,"duplicate":false})");
    check_common_headers(*r);
    REQUIRE(f.app.submissions == 1);
    const auto rep = f.app.reports().at(0);
    CHECK(rep.source == "src-a");
    CHECK(rep.source_kind == "webhook");
    CHECK(rep.external_id == "k-1");
    CHECK(rep.sender == "+79001234567");
    CHECK(rep.language == "ru");
    CHECK(rep.received_at == 1'764'061'200'000);
    CHECK(f.metric("hotline_reports_received_total", {{"source", "src-a"}}) == 1);
    CHECK(f.metric("hotline_http_requests_total", {{"route", "/v1/reports"}, {"code", "202"}}) ==
          1);
}

TEST_CASE("a known external id is a duplicate (200)") {
    fixture f;
    const auto body = R"({"sender":"s","text":"t","external_id":"same"})";
    auto first = roundtrip(f.port, post(body));
    REQUIRE(first);
    CHECK(first->status == 202);
    auto second = roundtrip(f.port, post(body));
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(second->body == R"({"report_id":1,"case_id":1,"duplicate":true})");
    // Without any id every POST is new.
    auto third = roundtrip(f.port, post(R"({"sender":"s","text":"t"})"));
    auto fourth = roundtrip(f.port, post(R"({"sender":"s","text":"t"})"));
    REQUIRE(third);
    REQUIRE(fourth);
    CHECK(third->status == 202);
    CHECK(fourth->status == 202);
    CHECK(f.metric("hotline_reports_duplicate_total", {{"source", "src-a"}}) == 1);
    CHECK(f.metric("hotline_reports_received_total", {{"source", "src-a"}}) == 3);
}

TEST_CASE("bearer tokens") {
    fixture f;
    auto r = roundtrip(f.port, post(good_report, ""));
    check_error(r, 401, "unauthorized");
    CHECK(r->header("www-authenticate") == R"(Bearer realm="hotline")");
    check_error(roundtrip(f.port, post(good_report, "token-x")), 401, "unauthorized");
    check_error(roundtrip(f.port, post(good_report, "token-a2")), 401, "unauthorized");
    check_error(roundtrip(f.port, post(good_report, "token-imap")), 401, "unauthorized");
    check_error(roundtrip(f.port, post(good_report, "", "Authorization: Basic dG9rZW4tYQ==\r\n")),
                401, "unauthorized");
    check_error(roundtrip(f.port, post(good_report, "", "Authorization: Bearer \r\n")), 401,
                "unauthorized");
    CHECK(f.app.submissions == 0);
    // The second token of the second source.
    r = roundtrip(f.port, post(good_report, "", "Authorization: bearer  token-b2\r\n"));
    REQUIRE(r);
    CHECK(r->status == 202);
    REQUIRE(f.app.submissions == 1);
    CHECK(f.app.reports().at(0).source == "src-b");
    CHECK(f.metric("hotline_reports_rejected_total",
                   {{"source", ""}, {"reason", "unauthorized"}}) == 6);
    // Refused with the whole body already sent: the connection stays usable.
    conn k(f.port);
    REQUIRE(k.send(post(good_report, "wrong")));
    auto refused = k.read();
    check_error(refused, 401, "unauthorized");
    CHECK(refused->header("connection") != "close");
    REQUIRE(k.send(post(good_report)));
    auto accepted = k.read();
    REQUIRE(accepted);
    CHECK(accepted->status == 202);
}

TEST_CASE("body limit (413)") {
    fixture f;
    const std::string big = R"({"sender":"s","text":")" + std::string(5000, 'x') + R"("})";
    conn c(f.port);
    c.send(post(big));
    auto r = c.read();
    check_error(r, 413, "too_large");
    CHECK(r->header("connection") == "close");
    CHECK(c.closed());
    // Chunked: the limit applies to the decoded body as it arrives.
    conn d(f.port);
    std::string chunked =
        "POST /v1/reports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer token-a\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 6; ++i) {
        chunked += "400\r\n" + std::string(1024, 'x') + "\r\n";
    }
    chunked += "0\r\n\r\n";
    d.send(chunked);
    check_error(d.read(), 413, "too_large");
    CHECK(f.app.submissions == 0);
    CHECK(f.metric("hotline_reports_rejected_total",
                   {{"source", "src-a"}, {"reason", "too_large"}}) == 1);
}

TEST_CASE("media type (415)") {
    fixture f;
    check_error(roundtrip(f.port, post(good_report, "token-a", {}, "text/plain")), 415,
                "unsupported_media_type");
    check_error(roundtrip(f.port, post(good_report, "token-a", {}, "")), 415,
                "unsupported_media_type");
    check_error(roundtrip(f.port, post(good_report, "token-a", {}, "application/json-seq")), 415,
                "unsupported_media_type");
    check_error(
        roundtrip(f.port, post(good_report, "token-a", {}, "application/json; charset=latin1")),
        415, "unsupported_media_type");
    auto r = roundtrip(f.port, post(good_report, "token-a", {}, "Application/JSON; charset=UTF-8"));
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK(f.metric("hotline_reports_rejected_total",
                   {{"source", "src-a"}, {"reason", "unsupported_media_type"}}) == 4);
}

TEST_CASE("bad requests (400)") {
    fixture f;
    check_error(roundtrip(f.port, post("{not json")), 400, "bad_json");
    check_error(roundtrip(f.port, post("[]")), 400, "bad_json");
    check_error(roundtrip(f.port, post(R"({"sender":"s"})")), 400, "missing_field");
    check_error(roundtrip(f.port, post(R"({"sender":"s","text":"t","x":1})")), 400, "bad_field");
    check_error(roundtrip(f.port, post("{\"sender\":\"s\",\"text\":\"\xc0\xaf\"}")), 400,
                "invalid_utf8");
    check_error(roundtrip(f.port, post(good_report, "token-a",
                                       "Idempotency-Key: " + std::string(300, 'k') + "\r\n")),
                400, "bad_field");
    CHECK(f.app.submissions == 0);
    CHECK(f.metric("hotline_reports_rejected_total",
                   {{"source", "src-a"}, {"reason", "bad_json"}}) == 2);

    // Broken HTTP: answered 400 and closed.
    conn g(f.port);
    g.send("GARBAGE\x01\x02 nonsense\r\n\r\n");
    check_error(g.read(), 400, "bad_request");
    CHECK(g.closed());
    conn h(f.port);
    h.send(
        "POST /v1/reports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer token-a\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n");
    check_error(h.read(), 400, "bad_request");
    CHECK(h.closed());
    conn i(f.port);
    i.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n");
    check_error(i.read(), 400, "bad_request");
    // A header over 16 KiB.
    conn j(f.port);
    j.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n");
    auto big = j.read();
    REQUIRE(big);
    CHECK(big->status == 431);
}

TEST_CASE("unknown paths and wrong methods") {
    fixture f;
    check_error(roundtrip(f.port, get("/nope")), 404, "not_found");
    check_error(roundtrip(f.port, get("/v1/reports/1")), 404, "not_found");
    auto r = roundtrip(f.port, get("/healthz", "DELETE"));
    check_error(r, 405, "method_not_allowed");
    CHECK(r->header("allow") == "GET, HEAD");
    r = roundtrip(f.port, get("/v1/reports"));
    check_error(r, 405, "method_not_allowed");
    CHECK(r->header("allow") == "POST");
    r = roundtrip(f.port, get("/metrics", "POST", "Content-Length: 0\r\n"));
    check_error(r, 405, "method_not_allowed");
    CHECK(f.metric("hotline_http_requests_total", {{"route", "other"}, {"code", "404"}}) == 2);
    CHECK(f.metric("hotline_reports_rejected_total",
                   {{"source", ""}, {"reason", "method_not_allowed"}}) == 1);
}

TEST_CASE("keep-alive: 100 requests on one connection, and pipelining") {
    fixture f;
    conn c(f.port);
    for (int i = 0; i < 100; ++i) {
        const bool report = i % 10 == 0;
        REQUIRE(c.send(report ? post(good_report) : get("/healthz")));
        auto r = c.read();
        REQUIRE(r);
        CHECK(r->status == (report ? 202 : 200));
        CHECK(r->header("connection") != "close");
    }
    CHECK(f.app.submissions == 10);
    // Two requests in one write: two answers, in order.
    REQUIRE(c.send(get("/healthz") + post(good_report)));
    auto a = c.read();
    auto b = c.read();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->status == 200);
    CHECK(b->status == 202);
    // Connection: close is honoured.
    REQUIRE(c.send(get("/healthz", "GET", "Connection: close\r\n")));
    auto last = c.read();
    REQUIRE(last);
    CHECK(last->header("connection") == "close");
    CHECK(c.closed());
}

TEST_CASE("Expect: 100-continue") {
    fixture f;
    conn c(f.port);
    std::string head = post(good_report, "token-a", "Expect: 100-continue\r\n");
    head.resize(head.size() - good_report.size());
    REQUIRE(c.send(head));
    auto interim = c.read();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send(good_report));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 202);
    // Refused before the body: no 100, the answer, and the connection is closed.
    conn d(f.port);
    std::string bad = post(good_report, "wrong", "Expect: 100-continue\r\n");
    bad.resize(bad.size() - good_report.size());
    REQUIRE(d.send(bad));
    auto refused = d.read();
    check_error(refused, 401, "unauthorized");
    CHECK(refused->header("connection") == "close");
}

TEST_CASE("200 concurrent connections") {
    fixture f(test_config(), 50ms);
    std::vector<std::unique_ptr<conn>> conns;
    for (int i = 0; i < 200; ++i) {
        conns.push_back(std::make_unique<conn>(f.port));
    }
    for (auto& c : conns) {
        REQUIRE(c->send(post(good_report)));
    }
    int accepted = 0;
    for (auto& c : conns) {
        auto r = c->read();
        REQUIRE(r);
        accepted += r->status == 202 ? 1 : 0;
    }
    CHECK(accepted == 200);
    CHECK(f.app.submissions == 200);
    CHECK(f.connections() == 200);
    conns.clear();
    for (int i = 0; i < 100 && f.connections() > 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(f.connections() == 0);
}

TEST_CASE("max_connections") {
    auto cfg = test_config();
    cfg.max_connections = 3;
    fixture f(cfg);
    std::vector<std::unique_ptr<conn>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<conn>(f.port));
        REQUIRE(held.back()->send(get("/healthz")));
        REQUIRE(held.back()->read());
    }
    CHECK(f.connections() == 3);
    conn extra(f.port);
    CHECK(extra.closed());
    CHECK(f.metric("hotline_http_connections_rejected_total", {{"reason", "max_connections"}}) ==
          1);
    // The held ones still work; after one goes, a new one is served.
    REQUIRE(held[0]->send(get("/healthz")));
    REQUIRE(held[0]->read());
    held.pop_back();
    for (int i = 0; i < 100 && f.connections() > 2; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    auto r = roundtrip(f.port, get("/healthz"));
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("slow and idle clients are cut off") {
    auto cfg = test_config();
    cfg.read_timeout = 300ms;
    cfg.idle_timeout = 400ms;
    fixture f(cfg);
    conn slow(f.port);
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(slow.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: "));
    CHECK(slow.closed());
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 250ms);
    CHECK(took < 3s);
    // A body that never completes.
    conn body(f.port);
    REQUIRE(body.send(post(good_report).substr(0, 150)));
    CHECK(body.closed());
    // A connection that never says anything gets read_timeout too.
    conn silent(f.port);
    CHECK(silent.closed());
    // An idle keep-alive connection is closed after idle_timeout.
    conn idle(f.port);
    REQUIRE(idle.send(get("/healthz")));
    REQUIRE(idle.read());
    const auto idle_start = std::chrono::steady_clock::now();
    CHECK(idle.closed());
    CHECK(std::chrono::steady_clock::now() - idle_start >= 350ms);
    CHECK(f.app.submissions == 0);
}

TEST_CASE("store failure is 503 with Retry-After") {
    fixture f;
    f.app.fail = true;
    auto r = roundtrip(f.port, post(good_report));
    check_error(r, 503, "unavailable");
    CHECK(r->header("retry-after") == "1");
    CHECK(f.metric("hotline_reports_received_total", {{"source", "src-a"}}) == 0);
}

TEST_CASE("shutdown drains an in-flight request and closes idle ones") {
    fixture f(test_config(), 300ms);
    conn idle(f.port);
    REQUIRE(idle.send(get("/healthz")));
    REQUIRE(idle.read());
    conn busy(f.port);
    REQUIRE(busy.send(post(good_report)));
    for (int i = 0; i < 200 && f.app.submissions == 0; ++i) {
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(f.app.submissions == 1);
    std::promise<void> drained;
    f.on_io([&] {
        f.srv->shutdown(5s, [&] { drained.set_value(); });
        return 0;
    });
    CHECK(idle.closed());  // closed at once, not after idle_timeout
    auto r = busy.read();  // the commit answers after shutdown started
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK(r->header("connection") == "close");
    CHECK(drained.get_future().wait_for(3s) == std::future_status::ready);
    CHECK(f.connections() == 0);
    // No longer accepting.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(f.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0);
    ::close(fd);
}

TEST_CASE("shutdown gives up after the grace period") {
    fixture f(test_config(), 10s);  // the commit never answers in time
    conn busy(f.port);
    REQUIRE(busy.send(post(good_report)));
    for (int i = 0; i < 200 && f.app.submissions == 0; ++i) {
        std::this_thread::sleep_for(5ms);
    }
    std::promise<void> drained;
    const auto start = std::chrono::steady_clock::now();
    f.on_io([&] {
        f.srv->shutdown(200ms, [&] { drained.set_value(); });
        return 0;
    });
    REQUIRE(drained.get_future().wait_for(3s) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - start >= 150ms);
    CHECK(busy.closed());
    for (int i = 0; i < 100 && f.connections() > 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(f.connections() == 0);
}

TEST_CASE("shutdown with no connections completes at once") {
    fixture f;
    std::promise<void> drained;
    f.on_io([&] {
        f.srv->shutdown(10s, [&] { drained.set_value(); });
        return 0;
    });
    CHECK(drained.get_future().wait_for(1s) == std::future_status::ready);
}

TEST_CASE("start fails cleanly on a bad address or a taken port") {
    asio::io_context io;
    core::metrics metrics;
    fake_app app(io, metrics);
    http::server a(io, app, app.routes(), metrics);
    auto cfg = test_config();
    cfg.listen_address = "not-an-address";
    auto bad = a.start(cfg);
    REQUIRE(!bad.ok());
    CHECK(bad.err().code == "listen");
    cfg = test_config();
    auto port = a.start(cfg);
    REQUIRE(port.ok());
    http::server b(io, app, app.routes(), metrics);
    cfg.port = *port;
    auto taken = b.start(cfg);
    REQUIRE(!taken.ok());
    CHECK(taken.err().code == "listen");
}

namespace {

asio::awaitable<http::reply> echo(http::exchange& ex) {
    if (auto failed = co_await ex.read_body()) {
        co_return std::move(*failed);
    }
    co_return http::text_reply(200, std::string(ex.param("name")) + "|" + ex.source() + "|" +
                                        ex.body() + "|" + std::string(ex.path()));
}

}  // namespace

TEST_CASE("a new endpoint with a dynamic segment needs no change to the server") {
    auto observed = std::make_shared<std::vector<std::string>>();  // io thread only
    http::route_table routes;
    http::endpoint e;
    e.pattern = "/v1/echo/{name}";
    e.methods = http::method::post;
    e.auth = http::auth_kind::source_token;
    e.handle = [](http::exchange& ex) { return echo(ex); };
    e.observe = [observed](const std::string& source, const http::reply& r) {
        observed->push_back(source + ":" + std::to_string(r.status));
    };
    REQUIRE(routes.add(std::move(e)).ok());
    fixture f(test_config(), 5ms, std::move(routes));

    const std::string body = "hi";
    auto r = roundtrip(f.port,
                       "POST /v1/echo/a%20b?q=1 HTTP/1.1\r\nHost: t\r\n"
                       "Authorization: Bearer token-b1\r\nContent-Length: 2\r\n\r\n" +
                           body);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "a b|src-b|hi|/v1/echo/a%20b");
    r = roundtrip(f.port, "POST /v1/echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    check_error(r, 401, "unauthorized");
    r = roundtrip(f.port, get("/v1/echo/x"));
    check_error(r, 405, "method_not_allowed");
    CHECK(r->header("allow") == "POST");
    check_error(roundtrip(f.port, get("/v1/echo/")), 404, "not_found");
    check_error(roundtrip(f.port, get("/v1/reports", "POST")), 404,
                "not_found");  // not in this table
    check_error(roundtrip(f.port, get("/healthz")), 404, "not_found");

    CHECK(f.metric("hotline_http_requests_total",
                   {{"route", "/v1/echo/{name}"}, {"code", "200"}}) == 1);
    CHECK(f.metric("hotline_http_requests_total", {{"route", "other"}, {"code", "404"}}) == 3);
    const auto seen = f.on_io([observed] { return *observed; });
    CHECK(seen == std::vector<std::string>{"src-b:200", ":401", ":405"});
}

TEST_CASE("a person_token route: 401 without a responder's or admin's token, the caller else") {
    http::route_table routes;
    http::endpoint e;
    e.pattern = "/v1/whoami";
    e.methods = http::method::get;
    e.auth = http::auth_kind::person_token;
    e.handle = [](http::exchange& ex) -> asio::awaitable<http::reply> {
        const http::api_caller* c = ex.caller();
        co_return http::text_reply(200, c == nullptr ? std::string("none")
                                                     : c->target + "|" + (c->admin ? "a" : "r") +
                                                           "|" + c->who->id + "|" + ex.source());
    };
    REQUIRE(routes.add(std::move(e)).ok());
    http::endpoint src;  // a source's route
    src.pattern = "/v1/echo/{name}";
    src.methods = http::method::post;
    src.auth = http::auth_kind::source_token;
    src.handle = [](http::exchange& ex) { return echo(ex); };
    REQUIRE(routes.add(std::move(src)).ok());
    fixture f(test_config(), 5ms, std::move(routes));
    const auto as = [&f](const std::string& auth) {
        return roundtrip(f.port, get("/v1/whoami", "GET", auth));
    };
    auto r = as("Authorization: Bearer alice-api-token-0123\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "responder:alice|r|alice|");
    r = as("Authorization: bearer   root-api-token-01234 \r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "admin:root|a|root|");
    for (const std::string bad : {
             "",                                                 // no header
             "Authorization: Bearer \r\n",                       // no token
             "Authorization: Basic YWxpY2U6eA==\r\n",            // another scheme
             "Authorization: Bearer alice-api-token-012\r\n",    // a prefix
             "Authorization: Bearer alice-api-token-01234\r\n",  // longer
             "Authorization: Bearer token-a\r\n",                // a source's token
             "Authorization: Bearer ALICE-API-TOKEN-0123\r\n",   // case matters
         }) {
        CAPTURE(bad);
        r = as(bad);
        check_error(r, 401, "unauthorized");
        CHECK(r->header("www-authenticate") == R"(Bearer realm="hotline")");
    }
    // A person token does not open a source's route, and the other way round.
    check_error(roundtrip(f.port,
                          "POST /v1/echo/x HTTP/1.1\r\nHost: t\r\n"
                          "Authorization: Bearer alice-api-token-0123\r\n"
                          "Content-Length: 0\r\n\r\n"),
                401, "unauthorized");
    r = roundtrip(f.port,
                  "POST /v1/echo/x HTTP/1.1\r\nHost: t\r\n"
                  "Authorization: Bearer token-a\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("/metrics: a 404 on the main listener when it has its own, a token when set") {
    SUBCASE("main listener without /metrics") {
        fixture f(test_config(), 5ms, std::nullopt,
                  [](fake_app& app) { return app.routes_without_metrics(); });
        const auto r = roundtrip(f.port, get("/metrics"));
        REQUIRE(r);
        CHECK(r->status == 404);
        const auto health = roundtrip(f.port, get("/healthz"));
        REQUIRE(health);
        CHECK(health->status == 200);
    }
    SUBCASE("metrics listener with a token") {
        fixture f(test_config(), 5ms, std::nullopt,
                  [](fake_app& app) { return app.metrics_routes(); });
        f.on_io([&f] {
            f.app.set_metrics_token("m3trics");
            return 0;
        });
        auto r = roundtrip(f.port, get("/metrics"));
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->header("www-authenticate") == R"(Bearer realm="hotline")");
        r = roundtrip(f.port, get("/metrics", "GET", "Authorization: Bearer token-a\r\n"));
        REQUIRE(r);
        CHECK(r->status == 401);  // a source token is not the metrics token
        r = roundtrip(f.port, get("/metrics", "GET", "Authorization: Bearer m3trics\r\n"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.find("hotline_http_requests_total") != std::string::npos);
        r = roundtrip(f.port, get("/v1/reports", "POST"));
        REQUIRE(r);
        CHECK(r->status == 404);  // the metrics listener serves no reports
    }
}

namespace {

// The ack link's store and case service: cases by id, the once keys seen (io thread only).
struct fake_cases {
    std::map<std::int64_t, http::ack_case> cases;
    std::set<std::string> once_keys;
    std::vector<std::string> actions;  // "ack 42 responder:alice"
    bool fail{false};

    http::endpoints::ack_backend backend(std::shared_ptr<const core::crypto::key> key) {
        http::endpoints::ack_backend b;
        b.key = std::move(key);
        b.get_case = [this](std::int64_t id, auto done) {
            if (fail) {
                done(core::make_error("busy", "database is locked"));
                return;
            }
            const auto it = cases.find(id);
            done(it == cases.end() ? std::optional<http::ack_case>{}
                                   : std::optional<http::ack_case>{it->second});
        };
        b.act = [this](bool resolve, std::int64_t id, std::string target, std::string once,
                       auto done) {
            if (fail) {
                done(core::make_error("busy", "database is locked"));
                return;
            }
            const auto it = cases.find(id);
            if (it == cases.end()) {
                done(core::make_error("not_found", "no such case"));
                return;
            }
            if (!once_keys.insert(once).second) {
                done(core::make_error("used", "link used"));
                return;
            }
            actions.push_back(std::string{resolve ? "resolve " : "ack "} + std::to_string(id) +
                              " " + target);
            http::ack_done d;
            d.before = it->second.state;
            const std::string want = resolve ? "resolved" : "acknowledged";
            d.changed = d.before != want && !(d.before == "resolved" && !resolve);
            if (d.changed) {
                it->second.state = want;
            }
            d.after = it->second.state;
            done(d);
        };
        return b;
    }
};

std::string form_post(const std::string& target, const std::string& body) {
    return "POST " + target +
           " HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("/v1/ack/{token}: GET shows, POST acts once; used, expired and forged pages") {
    const auto storage = core::crypto::key::generate();
    const auto key = hotline::dispatch::ack_key(storage);
    auto cases = std::make_shared<fake_cases>();
    http::ack_case c;
    c.id = 42;
    c.state = "open";
    c.severity = "critical";
    c.created_at = 1'764'061'200'000;
    domain::report r;
    r.text = "Задержан активист";
    c.first_report = r;
    cases->cases[42] = c;
    fixture f(test_config(), 5ms, std::nullopt, [&](fake_app& app) {
        domain::person alice;
        alice.id = "alice";
        domain::person boris;
        boris.id = "boris";
        boris.language = "ru";
        app.set_people({alice, boris}, {});
        auto routes = app.routes();
        REQUIRE(http::endpoints::add_ack(routes, app, cases->backend(key)).ok());
        return routes;
    });
    const std::int64_t now = 1'764'061'200'000;  // the fixture's clock
    const auto token = hotline::dispatch::make_ack_token(*key, 42, "responder:alice", now + 60'000);
    const std::string path = "/v1/ack/" + token;

    const auto check_page = [](const std::optional<response>& p, int status) {
        REQUIRE(p.has_value());
        CHECK(p->status == status);
        CHECK(p->header("content-type") == "text/html; charset=utf-8");
        CHECK(p->header("cache-control") == "no-store");
        CHECK(p->header("referrer-policy") == "no-referrer");
        CHECK(p->header("x-frame-options") == "DENY");
        CHECK(p->header("content-security-policy")
                  .rfind("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", 0) ==
              0);
    };

    // GET (twice, and HEAD) changes nothing.
    for (int i = 0; i < 2; ++i) {
        const auto page = roundtrip(f.port, get(path));
        check_page(page, 200);
        CHECK(page->body.find("Case #42") != std::string::npos);
        CHECK(page->body.find("Задержан активист") != std::string::npos);
        CHECK(page->body.find("value=\"ack\"") != std::string::npos);
    }
    check_page(roundtrip(f.port, get(path, "HEAD"), true), 200);
    CHECK(f.on_io([&] { return cases->actions.size(); }) == 0);

    // A POST without a known action: 400, nothing done, the link still works.
    check_page(roundtrip(f.port, form_post(path, "action=delete")), 400);
    check_page(roundtrip(f.port, form_post(path, "")), 400);
    check_page(roundtrip(f.port, form_post(path, "action=%zz")), 400);
    CHECK(f.on_io([&] { return cases->actions.size(); }) == 0);

    // The POST acts once, as the token's target.
    auto done = roundtrip(f.port, form_post(path, "action=ack"));
    check_page(done, 200);
    CHECK(done->body.find("Acknowledged") != std::string::npos);
    CHECK(f.on_io([&] { return cases->actions; }) ==
          std::vector<std::string>{"ack 42 responder:alice"});
    CHECK(f.on_io([&] { return *cases->once_keys.begin(); }) ==
          hotline::dispatch::ack_once_key(token));
    // Used: 410, for resolve too.
    auto used = roundtrip(f.port, form_post(path, "action=resolve"));
    check_page(used, 410);
    CHECK(used->body.find("already used") != std::string::npos);
    // The GET after shows the new state and only Resolve.
    auto after = roundtrip(f.port, get(path));
    check_page(after, 200);
    CHECK(after->body.find("value=\"ack\"") == std::string::npos);
    CHECK(after->body.find("value=\"resolve\"") != std::string::npos);

    // A Russian speaker's link resolves: the result in Russian.
    const auto ru =
        "/v1/ack/" + hotline::dispatch::make_ack_token(*key, 42, "responder:boris", now + 60'000);
    auto ru_done = roundtrip(f.port, form_post(ru, "action=resolve"));
    check_page(ru_done, 200);
    CHECK(ru_done->body.find("Закрыто — спасибо") != std::string::npos);

    // Expired: 410 in the person's language, GET and POST alike.
    const auto old =
        "/v1/ack/" + hotline::dispatch::make_ack_token(*key, 42, "responder:boris", now - 1);
    auto expired = roundtrip(f.port, get(old));
    check_page(expired, 410);
    CHECK(expired->body.find("Срок действия ссылки истёк") != std::string::npos);
    check_page(roundtrip(f.port, form_post(old, "action=ack")), 410);

    // Forged (another key, a changed character, junk): 404 in both languages.
    const auto other = core::crypto::key::generate();
    for (const auto& bad :
         {"/v1/ack/" + hotline::dispatch::make_ack_token(other, 42, "responder:alice", now + 1000),
          "/v1/ack/" + std::string(token).replace(5, 1, token[5] == 'A' ? "B" : "A"),
          std::string{"/v1/ack/not-a-token"}, std::string{"/v1/ack/%00%01"}}) {
        auto forged = roundtrip(f.port, get(bad));
        REQUIRE(forged);
        CHECK(forged->status == 404);
        if (forged->header("content-type") == "text/html; charset=utf-8") {
            CHECK(forged->body.find("This link is not valid") != std::string::npos);
            CHECK(forged->body.find("Ссылка недействительна") != std::string::npos);
        }
        check_page(roundtrip(f.port, form_post(bad.rfind("/v1/ack/%", 0) == 0 ? path + "x" : bad,
                                               "action=ack")),
                   404);
    }
    // A token longer than a path segment may be never reaches the handler.
    CHECK(roundtrip(f.port, get("/v1/ack/" + std::string(300, 'A')))->status == 404);

    // A person no longer configured, or a case that does not exist: 404.
    const auto gone =
        "/v1/ack/" + hotline::dispatch::make_ack_token(*key, 42, "responder:carol", now + 60'000);
    check_page(roundtrip(f.port, get(gone)), 404);
    const auto no_case =
        "/v1/ack/" + hotline::dispatch::make_ack_token(*key, 77, "responder:alice", now + 60'000);
    check_page(roundtrip(f.port, get(no_case)), 404);
    check_page(roundtrip(f.port, form_post(no_case, "action=ack")), 404);

    // The store failing: 503 with Retry-After; the link is not used up.
    f.on_io([&] {
        cases->fail = true;
        return 0;
    });
    const auto fresh =
        "/v1/ack/" + hotline::dispatch::make_ack_token(*key, 42, "responder:alice", now + 1000);
    auto busy = roundtrip(f.port, form_post(fresh, "action=ack"));
    check_page(busy, 503);
    CHECK(busy->header("retry-after") == "1");
    check_page(roundtrip(f.port, get(fresh)), 503);
    CHECK(f.on_io([&] { return cases->once_keys.size(); }) == 2);

    // Other methods: 405.
    CHECK(roundtrip(f.port, get(path, "PUT"))->status == 405);
}

namespace {

namespace store = hotline::store;

// The cases API's backend over a map: case 42 notified alice, case 43 only bob.
struct fake_case_store {
    std::map<std::int64_t, store::case_view> cases;
    std::vector<std::string> actions;  // "ack 42 responder:alice note"
    std::vector<store::case_query> queries;
    bool fail{false};

    fake_case_store() {
        for (const std::int64_t id : {42, 43}) {
            store::case_view v;
            v.record.id = id;
            v.record.severity = "critical";
            v.record.route = "root/detention";
            v.record.created_at = 1'764'061'200'000;
            v.targets = {id == 42 ? "responder:alice" : "responder:bob"};
            domain::report r;
            r.source = "sms";
            r.text = "Задержан активист";
            r.received_at = v.record.created_at;
            v.first_report = r;
            store::case_event e;
            e.id = 1;
            e.at = v.record.created_at;
            e.actor = "source:sms";
            e.kind = "report_received";
            v.events.push_back(e);
            cases[id] = v;
        }
    }

    http::endpoints::cases_backend backend() {
        http::endpoints::cases_backend b;
        b.list = [this](store::case_query q, auto done) {
            if (fail) {
                done(core::make_error("busy", "database is locked"));
                return;
            }
            queries.push_back(q);
            std::vector<store::case_record> out;
            for (auto it = cases.rbegin(); it != cases.rend(); ++it) {
                const auto& v = it->second;
                if (q.target.empty() ||
                    std::find(v.targets.begin(), v.targets.end(), q.target) != v.targets.end()) {
                    out.push_back(v.record);
                }
            }
            if (out.size() > q.limit) {
                out.resize(q.limit);
            }
            done(std::move(out));
        };
        b.get = [this](std::int64_t id, auto done) {
            if (fail) {
                done(core::make_error("busy", "database is locked"));
                return;
            }
            const auto it = cases.find(id);
            done(it == cases.end() ? std::optional<store::case_view>{}
                                   : std::optional<store::case_view>{it->second});
        };
        b.act = [this](store::case_action::kind what, std::int64_t id, std::string target,
                       std::string note, auto done) {
            auto& rec = cases.at(id).record;
            store::case_action_result r;
            r.before = rec.state;
            const char* name = what == store::case_action::kind::acknowledge ? "ack"
                               : what == store::case_action::kind::resolve   ? "resolve"
                                                                             : "note";
            if (what == store::case_action::kind::acknowledge &&
                rec.state == domain::case_state::open) {
                rec.state = domain::case_state::acknowledged;
            } else if (what == store::case_action::kind::resolve) {
                rec.state = domain::case_state::resolved;
            }
            r.after = rec.state;
            r.changed = r.before != r.after || what == store::case_action::kind::note;
            actions.push_back(std::string(name) + " " + std::to_string(id) + " " + target +
                              (note.empty() ? "" : " " + note));
            done(r);
        };
        return b;
    }
};

std::string as_person(const std::string& method, const std::string& target,
                      const std::string& token, const std::string& body = {},
                      const std::string& type = "application/json") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
    if (!token.empty()) {
        req += "Authorization: Bearer " + token + "\r\n";
    }
    if (!body.empty() && !type.empty()) {
        req += "Content-Type: " + type + "\r\n";
    }
    return req + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("the cases API: a responder sees and acts on their cases, an admin on all") {
    auto cases = std::make_shared<fake_case_store>();
    http::route_table routes;
    REQUIRE(http::endpoints::add_cases(routes, cases->backend()).ok());
    fixture f(test_config(), 5ms, std::move(routes));
    const std::string alice = "alice-api-token-0123";
    const std::string root = "root-api-token-01234";
    const auto call = [&f](const std::string& req) {
        auto r = roundtrip(f.port, req);
        REQUIRE(r.has_value());
        return *r;
    };
    const auto body_of = [](const response& r) { return nlohmann::json::parse(r.body); };

    // Lists: alice's query is restricted to her; root's is not.
    auto r = call(as_person("GET", "/v1/cases", alice));
    CHECK(r.status == 200);
    auto j = body_of(r);
    REQUIRE(j["cases"].size() == 1);
    CHECK(j["cases"][0]["id"] == 42);
    CHECK(j["cases"][0]["state"] == "open");
    CHECK(j["cases"][0]["created_at"] == "2025-11-25T09:00:00Z");
    CHECK(j["cases"][0]["acked_by"].is_null());
    CHECK(j["next_before"].is_null());
    r = call(as_person("GET", "/v1/cases?state=open&limit=1", root));
    CHECK(r.status == 200);
    j = body_of(r);
    REQUIRE(j["cases"].size() == 1);
    CHECK(j["cases"][0]["id"] == 43);
    CHECK(j["next_before"] == 43);
    const auto queries = f.on_io([&] { return cases->queries; });
    REQUIRE(queries.size() == 2);
    CHECK(queries[0].target == "responder:alice");
    CHECK(queries[1].target.empty());
    CHECK(queries[1].limit == 1);
    CHECK(queries[1].state == domain::case_state::open);
    for (const std::string bad : {"?state=closed", "?limit=0", "?limit=1001", "?limit=x",
                                  "?before=-1", "?sort=id", "?state=%zz"}) {
        CAPTURE(bad);
        check_error(roundtrip(f.port, as_person("GET", "/v1/cases" + bad, alice)), 400,
                    "bad_request");
    }

    // One case: alice sees 42 with its report and history; 43 is a 404 for her, not for root.
    r = call(as_person("GET", "/v1/cases/42", alice));
    CHECK(r.status == 200);
    j = body_of(r);
    CHECK(j["case"]["id"] == 42);
    CHECK(j["targets"] == nlohmann::json::array({"responder:alice"}));
    CHECK(j["report"]["text"] == "Задержан активист");
    CHECK(j["events"][0]["kind"] == "report_received");
    check_error(roundtrip(f.port, as_person("GET", "/v1/cases/43", alice)), 404, "not_found");
    CHECK(call(as_person("GET", "/v1/cases/43", root)).status == 200);
    for (const std::string bad : {"/v1/cases/0", "/v1/cases/-4", "/v1/cases/abc", "/v1/cases/99",
                                  "/v1/cases/99999999999999999999"}) {
        CAPTURE(bad);
        check_error(roundtrip(f.port, as_person("GET", bad, root)), 404, "not_found");
    }

    // Acting: as the caller, channel api; an empty body is fine, a note is kept.
    r = call(as_person("POST", "/v1/cases/42/ack", alice, R"({"note":"еду"})"));
    CHECK(r.status == 200);
    j = body_of(r);
    CHECK(j["changed"] == true);
    CHECK(j["before"] == "open");
    CHECK(j["after"] == "acknowledged");
    r = call(as_person("POST", "/v1/cases/42/ack", alice));
    CHECK(body_of(r)["changed"] == false);
    CHECK(call(as_person("POST", "/v1/cases/42/note", alice, R"({"note":"at the station"})"))
              .status == 200);
    CHECK(call(as_person("POST", "/v1/cases/43/resolve", root)).status == 200);
    CHECK(f.on_io([&] { return cases->actions; }) ==
          std::vector<std::string>{"ack 42 responder:alice еду", "ack 42 responder:alice",
                                   "note 42 responder:alice at the station",
                                   "resolve 43 admin:root"});
    // Not hers: 404 and nothing done; bad bodies: 400/415 and nothing done.
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/43/ack", alice)), 404, "not_found");
    for (const std::string& bad : std::vector<std::string>{
             R"([1])", R"({"note":5})", R"({"text":"x"})", "not json", "{\"note\":\"\xff\"}"}) {
        CAPTURE(bad);
        check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/resolve", alice, bad)), 400,
                    "bad_request");
    }
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/note", alice)), 400,
                "bad_request");
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/note", alice, R"({"note":" "})")),
                400, "bad_request");
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/ack", alice, "note=x",
                                            "application/x-www-form-urlencoded")),
                415, "unsupported_media_type");
    CHECK(f.on_io([&] { return cases->actions.size(); }) == 4);

    // A note over 4096 bytes (the test server's body limit is smaller: checked directly).
    CHECK(
        http::endpoints::parse_action_body(R"({"note":")" + std::string(4096, 'a') + R"("})", true)
            .ok());
    CHECK(
        http::endpoints::parse_action_body(R"({"note":")" + std::string(4097, 'a') + R"("})", false)
            .err()
            .message == "note is longer than 4096 bytes");

    // No token, a source's token: 401. The store failing: 503 with Retry-After.
    check_error(roundtrip(f.port, as_person("GET", "/v1/cases", "")), 401, "unauthorized");
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/ack", "token-a")), 401,
                "unauthorized");
    f.on_io([&] {
        cases->fail = true;
        return 0;
    });
    auto busy = roundtrip(f.port, as_person("GET", "/v1/cases", root));
    check_error(busy, 503, "unavailable");
    CHECK(busy->header("retry-after") == "1");
    check_error(roundtrip(f.port, as_person("POST", "/v1/cases/42/resolve", root)), 503,
                "unavailable");
    CHECK(f.on_io([&] { return cases->actions.size(); }) == 4);
}
