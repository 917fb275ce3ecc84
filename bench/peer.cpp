// bench_peer: hotline side by side with Alertmanager — ingest and end-to-end (request ->
// webhook) throughput and latency, measured by one tool in the same way for both.
//
// One process, one io thread, two roles:
//  - load generator against one target:
//      --target hotline       POST /v1/reports (bearer token), unique external_id; the answer
//                             must be 202, its report_id is the join key (the webhook body
//                             carries the same report_id).
//      --target alertmanager  POST /api/v2/alerts with an array of one alert whose `id` label
//                             is unique; the answer must be 200; the join key is that label
//                             (the webhook body's alerts[].labels.id).
//    --mode closed: --connections keep-alive connections, each sends its next request as soon
//    as the previous answer arrived, for --count requests in all or for --duration seconds.
//    Latencies count from the send time.
//    --mode paced: the open-loop schedule of bench_latency: request i is due at t0 + i/rate,
//    sent at that time on an idle pooled connection (16 pre-opened, more opened when all are
//    busy, up to --max-connections), whether or not earlier ones were answered; latencies
//    count from the due time (no coordinated omission); the first --warmup seconds are sent
//    but left out of the percentiles.
//  - webhook sink on 127.0.0.1:--sink-port: HTTP/1.1 keep-alive, answers 200, notes the first
//    arrival of each join key, counts duplicates (a key seen again), unknown keys and the TCP
//    connections it accepted (a sender that reuses its connections opens few).
// e2e latency = first webhook arrival - send (closed) or due (paced) time. After sending
// stops the tool waits up to --drain seconds for outstanding webhooks (a webhook still
// missing then counts as infinitely late: a percentile among those is null), then --linger
// seconds more so late duplicates are counted. Output: one JSON object on stdout.
#include "core/asio.hpp"
#include "http_sink.hpp"
#include "stats.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hotline_bench::ms;
using hotline_bench::round3;
using hotline_bench::summarize;

enum class target_kind { hotline, alertmanager };
enum class run_mode { closed, paced };

struct options {
    target_kind target = target_kind::hotline;
    run_mode mode = run_mode::closed;
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string token;
    std::uint16_t sink_port = 0;
    int connections = 16;
    int max_connections = 256;  // paced: the pool's cap
    std::int64_t count = 0;     // closed: 0 = bounded by --duration
    double duration_s = 10;
    double rate = 1000;
    double warmup_s = 0;
    double drain_s = 10;
    double linger_s = 0.5;
    double max_time_s = 300;  // closed --count: stop sending after this long regardless
};

struct request_record {
    steady::time_point due{};  // paced only
    steady::time_point sent{};
    steady::time_point answered{};
    int status = 0;   // 0 = no answer
    std::string key;  // alertmanager: set before sending; hotline: the 202's report_id
    bool ok = false;  // answered with the expected status (and, for hotline, a report_id)
    bool warmup = false;
};

struct connection {
    explicit connection(const asio::any_io_executor& ex) : stream{ex} {}
    beast::tcp_stream stream;
    beast::flat_buffer buf;
};

struct run_state {
    options opt;
    std::string nonce;
    // A deque: closed-loop runs append while other requests are in flight, and a deque keeps
    // references to existing records valid across push_back.
    std::deque<request_record> records;
    steady::time_point stop_sending{};  // closed: no new request after this
    // sink
    std::unordered_map<std::string, steady::time_point> arrivals;  // key -> first arrival
    std::int64_t webhooks = 0;
    std::int64_t duplicates = 0;
    std::int64_t unparsed = 0;
    std::int64_t sink_connections = 0;
    // join: keys answered OK, and how many of those have arrived at the sink
    std::unordered_set<std::string> ok_keys;
    std::int64_t joined = 0;
    // load generator
    std::int64_t connect_errors = 0;
    std::int64_t io_errors = 0;
    std::int64_t client_connections = 0;
    std::vector<std::unique_ptr<connection>> idle;
    int in_flight = 0;
    int max_in_flight = 0;
    int workers = 0;
    bool sending_done = false;
};

const auto log_exception = hotline_bench::exception_logger("peer: task failed: ");

const char* target_name(target_kind t) {
    return t == target_kind::hotline ? "hotline" : "alertmanager";
}

// ---- webhook sink ---------------------------------------------------------------------

void note_arrival(run_state& st, std::string key, steady::time_point arrived) {
    if (!st.arrivals.emplace(key, arrived).second) {
        ++st.duplicates;
        return;
    }
    if (st.ok_keys.contains(key)) {
        ++st.joined;
    }
}

void on_webhook(run_state& st, const http::request<http::string_body>& req,
                steady::time_point arrived) {
    ++st.webhooks;
    const auto body = nlohmann::json::parse(req.body(), nullptr, false);
    if (st.opt.target == target_kind::hotline) {
        if (body.is_object() && body.contains("report_id") &&
            body["report_id"].is_number_integer()) {
            note_arrival(st, std::to_string(body["report_id"].get<std::int64_t>()), arrived);
            return;
        }
    } else if (body.is_object() && body.contains("alerts") && body["alerts"].is_array()) {
        bool any = false;
        for (const auto& alert : body["alerts"]) {
            if (alert.is_object() && alert.contains("labels") && alert["labels"].is_object() &&
                alert["labels"].contains("id") && alert["labels"]["id"].is_string()) {
                note_arrival(st, alert["labels"]["id"].get<std::string>(), arrived);
                any = true;
            }
        }
        if (any) {
            return;
        }
    }
    ++st.unparsed;
}

asio::awaitable<void> sink_session(beast::tcp_stream stream, run_state& st) {
    ++st.sink_connections;
    return hotline_bench::serve_webhooks(
        std::move(stream),
        [&st](const http::request<http::string_body>& req, steady::time_point arrived) {
            on_webhook(st, req, arrived);
        },
        60s);
}

asio::awaitable<void> sink_accept(tcp::acceptor& acceptor, run_state& st) {
    return hotline_bench::accept_each(
        acceptor, [&st](beast::tcp_stream stream) { return sink_session(std::move(stream), st); },
        log_exception);
}

// ---- requests -------------------------------------------------------------------------

std::string rfc3339_now() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(millis));
    return std::string(buf, n) + frac;
}

http::request<http::string_body> make_request(const run_state& st, std::size_t i) {
    const auto& opt = st.opt;
    const std::string n = std::to_string(i);
    http::request<http::string_body> req;
    req.version(11);
    req.method(http::verb::post);
    req.set(http::field::host, opt.host);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    if (opt.target == target_kind::hotline) {
        req.target("/v1/reports");
        req.set(http::field::authorization, "Bearer " + opt.token);
        // The shape bench_latency sends: fixed-size plain ASCII, a unique external_id.
        req.body() = R"({"sender":"+15550100)" + std::to_string(100 + (i % 900)) +
                     R"(","subject":"bench","text":"benchmark report )" + n +
                     R"( from the peer tool","external_id":"peer-)" + st.nonce + "-" + n + R"("})";
    } else {
        req.target("/api/v2/alerts");
        req.body() = R"([{"labels":{"alertname":"bench","id":")" + st.records[i].key +
                     R"("},"annotations":{"summary":"benchmark alert )" + n +
                     R"( from the peer tool"},"startsAt":")" + rfc3339_now() + R"("}])";
    }
    req.prepare_payload();
    return req;
}

asio::awaitable<std::unique_ptr<connection>> open_connection(run_state& st,
                                                             const tcp::endpoint& ep) {
    auto c = std::make_unique<connection>(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    c->stream.expires_after(5s);
    co_await c->stream.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        ++st.connect_errors;
        co_return nullptr;
    }
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    ++st.client_connections;
    co_return c;
}

std::size_t add_record(run_state& st) {
    const std::size_t i = st.records.size();
    auto& rec = st.records.emplace_back();
    if (st.opt.target == target_kind::alertmanager) {
        rec.key = st.nonce + "-" + std::to_string(i);
    }
    return i;
}

// One request and its answer on `c`. True when the connection can carry the next request.
asio::awaitable<bool> exchange(run_state& st, connection& c, std::size_t i) {
    auto req = make_request(st, i);
    boost::system::error_code ec;
    st.records[i].sent = steady::now();
    c.stream.expires_after(30s);
    co_await http::async_write(c.stream, req, asio::redirect_error(asio::use_awaitable, ec));
    http::response<http::string_body> res;
    if (!ec) {
        co_await http::async_read(c.stream, c.buf, res,
                                  asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
        ++st.io_errors;
        co_return false;
    }
    auto& rec = st.records[i];
    rec.answered = steady::now();
    rec.status = static_cast<int>(res.result_int());
    if (st.opt.target == target_kind::hotline) {
        if (rec.status == 202) {
            const auto body = nlohmann::json::parse(res.body(), nullptr, false);
            if (body.is_object() && body.contains("report_id") &&
                body["report_id"].is_number_integer()) {
                rec.key = std::to_string(body["report_id"].get<std::int64_t>());
                rec.ok = true;
            }
        }
    } else {
        rec.ok = rec.status == 200;
    }
    if (rec.ok && st.ok_keys.insert(rec.key).second && st.arrivals.contains(rec.key)) {
        ++st.joined;  // the webhook overtook the answer
    }
    co_return res.keep_alive();
}

// ---- closed loop ----------------------------------------------------------------------

bool may_send_more(const run_state& st) {
    if (steady::now() >= st.stop_sending) {
        return false;
    }
    return st.opt.count == 0 || static_cast<std::int64_t>(st.records.size()) < st.opt.count;
}

// One connection's loop: the next request goes out as soon as the previous answer arrived.
// A connection that failed or was closed by the server is replaced by a new one.
asio::awaitable<void> closed_worker(run_state& st, tcp::endpoint ep,
                                    std::unique_ptr<connection> c) {
    asio::steady_timer timer{co_await asio::this_coro::executor};
    boost::system::error_code ec;
    while (may_send_more(st)) {
        if (!c) {
            c = co_await open_connection(st, ep);
            if (!c) {
                timer.expires_after(100ms);  // no tight loop against a dead target
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
        }
        if (!co_await exchange(st, *c, add_record(st))) {
            c.reset();
        }
    }
    if (--st.workers == 0) {
        st.sending_done = true;
    }
}

asio::awaitable<void> closed_loop(run_state& st, tcp::endpoint ep) {
    auto executor = co_await asio::this_coro::executor;
    // Open every connection first, so connection setup is not in the first latencies.
    std::vector<std::unique_ptr<connection>> pool;
    for (int k = 0; k < st.opt.connections; ++k) {
        pool.push_back(co_await open_connection(st, ep));
    }
    const double limit = st.opt.count > 0 ? st.opt.max_time_s : st.opt.duration_s;
    st.stop_sending = steady::now() + std::chrono::duration_cast<steady::duration>(
                                          std::chrono::duration<double>(limit));
    st.workers = st.opt.connections;
    for (auto& c : pool) {
        asio::co_spawn(executor, closed_worker(st, ep, std::move(c)), log_exception);
    }
}

// ---- paced (open loop) ----------------------------------------------------------------

asio::awaitable<std::unique_ptr<connection>> checkout(run_state& st, const tcp::endpoint& ep) {
    if (!st.idle.empty()) {
        auto c = std::move(st.idle.back());
        st.idle.pop_back();
        co_return c;
    }
    co_return co_await open_connection(st, ep);
}

asio::awaitable<void> paced_send(run_state& st, tcp::endpoint ep, std::size_t i) {
    if (auto c = co_await checkout(st, ep)) {
        if (co_await exchange(st, *c, i)) {
            st.idle.push_back(std::move(c));
        }
    }
    --st.in_flight;
}

// Request i is spawned at its due time whether or not earlier ones were answered; a busy
// pool grows by another connection instead of delaying the schedule. Only when
// --max-connections requests are in flight does the schedule slip (and the slip is part of
// the measured latency, which counts from the due time).
asio::awaitable<void> paced_loop(run_state& st, tcp::endpoint ep) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer{executor};
    boost::system::error_code ec;
    for (int k = 0; k < st.opt.connections; ++k) {
        if (auto c = co_await open_connection(st, ep)) {
            st.idle.push_back(std::move(c));
        }
    }
    const auto total =
        static_cast<std::size_t>(std::llround(st.opt.rate * (st.opt.warmup_s + st.opt.duration_s)));
    const auto warmup = static_cast<std::size_t>(std::llround(st.opt.rate * st.opt.warmup_s));
    const std::chrono::duration<double> interval{1.0 / st.opt.rate};
    const auto t0 = steady::now() + 100ms;
    for (std::size_t i = 0; i < total; ++i) {
        auto& rec = st.records[add_record(st)];
        rec.due =
            t0 + std::chrono::duration_cast<steady::duration>(interval * static_cast<double>(i));
        rec.warmup = i < warmup;
    }
    for (std::size_t i = 0; i < total; ++i) {
        timer.expires_at(st.records[i].due);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        while (st.in_flight >= st.opt.max_connections) {
            timer.expires_after(100us);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        ++st.in_flight;
        st.max_in_flight = std::max(st.max_in_flight, st.in_flight);
        asio::co_spawn(executor, paced_send(st, ep, i), log_exception);
    }
    while (st.in_flight > 0) {
        timer.expires_after(1ms);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    st.sending_done = true;
}

// ---- end of run and statistics --------------------------------------------------------

asio::awaitable<void> sleep_for(asio::steady_timer& timer, double seconds) {
    boost::system::error_code ec;
    timer.expires_after(
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds)));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Ends the run once every request answered OK has its webhook (or the drain time is up),
// after --linger seconds more in which late duplicates are still counted.
asio::awaitable<void> finish_when_done(run_state& st, asio::io_context& io) {
    asio::steady_timer timer{io};
    while (!st.sending_done) {
        co_await sleep_for(timer, 0.01);
    }
    const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(st.opt.drain_s));
    while (st.joined < static_cast<std::int64_t>(st.ok_keys.size()) && steady::now() < deadline) {
        co_await sleep_for(timer, 0.01);
    }
    co_await sleep_for(timer, st.opt.linger_s);
    io.stop();
}

// summarize() with every percentile present: null when it falls among missing samples,
// also when no sample completed at all.
nlohmann::json percentiles(std::vector<double> v, std::size_t missing) {
    auto j = summarize(std::move(v), missing);
    for (const char* key : {"p50", "p90", "p99", "p999", "max"}) {
        if (!j.contains(key)) {
            j[key] = nullptr;
        }
    }
    return j;
}

nlohmann::json per_second(double n, std::optional<steady::time_point> from,
                          std::optional<steady::time_point> to) {
    if (!from || !to || *to <= *from) {
        return nullptr;
    }
    return std::round(n / (ms(*to - *from) / 1000.0) * 10.0) / 10.0;
}

nlohmann::json report(const run_state& st) {
    const bool paced = st.opt.mode == run_mode::paced;
    std::int64_t sent = 0;
    std::int64_t warmup_sent = 0;
    std::int64_t answered_ok = 0;
    std::int64_t non_ok = 0;
    std::int64_t delivered = 0;
    std::int64_t late_1ms = 0;
    std::map<std::string, std::int64_t> statuses;
    std::unordered_set<std::string> keys;
    std::vector<double> answer_ms;
    std::vector<double> e2e_ms;
    std::size_t answer_missing = 0;
    std::size_t e2e_missing = 0;
    std::optional<steady::time_point> first_sent;
    std::optional<steady::time_point> last_answer;
    std::optional<steady::time_point> last_delivery;
    auto later = [](std::optional<steady::time_point>& a, steady::time_point b) {
        a = a ? std::max(*a, b) : b;
    };
    for (const auto& r : st.records) {
        if (!r.key.empty()) {
            keys.insert(r.key);
        }
        const bool was_sent = r.sent != steady::time_point{};
        std::optional<steady::time_point> arrival;
        if (r.ok) {
            if (const auto it = st.arrivals.find(r.key); it != st.arrivals.end()) {
                arrival = it->second;
            }
        }
        if (was_sent) {
            ++sent;
            warmup_sent += r.warmup ? 1 : 0;
            first_sent = first_sent ? std::min(*first_sent, r.sent) : r.sent;
            if (paced && r.sent - r.due > 1ms) {
                ++late_1ms;
            }
            if (r.status == 0) {
                statuses["no_answer"] += 1;
            } else {
                statuses[std::to_string(r.status)] += 1;
                later(last_answer, r.answered);
                ++(r.ok ? answered_ok : non_ok);
            }
            if (arrival) {
                ++delivered;
                later(last_delivery, *arrival);
            }
        }
        if (r.warmup) {
            continue;
        }
        // Latency from the due time (paced) or the send time (closed); a request that was
        // due but never sent, answered or delivered is a missing (infinitely late) sample.
        const auto origin = paced ? r.due : r.sent;
        if (r.ok) {
            answer_ms.push_back(ms(r.answered - origin));
        } else {
            ++answer_missing;
        }
        if (arrival) {
            e2e_ms.push_back(ms(*arrival - origin));
        } else {
            ++e2e_missing;
        }
    }
    std::int64_t unknown = 0;
    for (const auto& [key, when] : st.arrivals) {
        unknown += keys.contains(key) ? 0 : 1;
    }
    nlohmann::json j;
    j["mode"] = paced ? "paced" : "closed";
    j["target"] = target_name(st.opt.target);
    j["address"] = st.opt.host + ":" + std::to_string(st.opt.port);
    j["connections"] = st.opt.connections;
    if (paced) {
        j["rate_target"] = st.opt.rate;
        j["duration_s"] = st.opt.duration_s;
        j["warmup_s"] = st.opt.warmup_s;
        j["max_connections"] = st.opt.max_connections;
        j["max_in_flight"] = st.max_in_flight;
        j["scheduled"] = st.records.size();
        j["late_sends_over_1ms"] = late_1ms;
    } else if (st.opt.count > 0) {
        j["count"] = st.opt.count;
    } else {
        j["duration_s"] = st.opt.duration_s;
    }
    j["sent"] = sent;
    j["warmup_sent"] = warmup_sent;
    j["answered_ok"] = answered_ok;
    j["non_ok"] = non_ok;
    j["statuses"] = statuses;
    j["errors"] = st.connect_errors + st.io_errors;
    j["connect_errors"] = st.connect_errors;
    j["io_errors"] = st.io_errors;
    j["client_connections"] = st.client_connections;
    j["delivered"] = delivered;
    j["webhooks"] = st.webhooks;
    j["duplicates"] = st.duplicates;
    j["unknown"] = unknown;
    j["unparsed"] = st.unparsed;
    j["sink_connections"] = st.sink_connections;
    j["new_connections_per_100"] =
        delivered > 0 ? nlohmann::json(round3(static_cast<double>(st.sink_connections) * 100.0 /
                                              static_cast<double>(delivered)))
                      : nlohmann::json(nullptr);
    j["elapsed_s"] =
        first_sent && last_answer ? round3(ms(*last_answer - *first_sent) / 1000.0) : 0.0;
    j["ingest_rps"] = per_second(static_cast<double>(answered_ok), first_sent, last_answer);
    j["e2e_rps"] = per_second(static_cast<double>(delivered), first_sent, last_delivery);
    j["e2e_span_s"] = first_sent && last_delivery
                          ? nlohmann::json(round3(ms(*last_delivery - *first_sent) / 1000.0))
                          : nlohmann::json(nullptr);
    j["answer_ms"] = percentiles(std::move(answer_ms), answer_missing);
    j["e2e_ms"] = percentiles(std::move(e2e_ms), e2e_missing);
    return j;
}

// ---- command line ---------------------------------------------------------------------

int usage() {
    std::cerr
        << "usage: bench_peer --target hotline|alertmanager --address HOST:PORT --sink-port P\n"
           "                  [--token T | --token-file F]   (hotline: the source's bearer token)\n"
           "                  [--mode closed] [--connections 16] [--count C | --duration 10]\n"
           "                  [--mode paced --rate 1000 --duration 10 --warmup 1]\n"
           "                  [--max-connections 256] [--drain 10] [--linger 0.5] [--max-time "
           "300]\n"
           "Loads hotline (POST /v1/reports) or Alertmanager (POST /api/v2/alerts) and is the\n"
           "webhook receiver on 127.0.0.1:P (0 picks a port, printed as sink_port=N on stderr).\n"
           "Prints one JSON object: counts, connections the sink accepted, answers/s, e2e/s and\n"
           "latency percentiles (ms) of the answer and of request -> webhook.\n";
    return 2;
}

std::optional<options> parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            return std::nullopt;
        }
        const std::string v = argv[++i];
        if (a == "--target") {
            if (v == "hotline") {
                o.target = target_kind::hotline;
            } else if (v == "alertmanager") {
                o.target = target_kind::alertmanager;
            } else {
                return std::nullopt;
            }
        } else if (a == "--address") {
            const auto colon = v.rfind(':');
            if (colon == std::string::npos) {
                return std::nullopt;
            }
            o.host = v.substr(0, colon);
            o.port = static_cast<std::uint16_t>(std::stoul(v.substr(colon + 1)));
        } else if (a == "--token") {
            o.token = v;
        } else if (a == "--token-file") {
            std::ifstream f{v};
            if (!std::getline(f, o.token)) {
                std::cerr << "peer: cannot read " << v << "\n";
                return std::nullopt;
            }
        } else if (a == "--sink-port") {
            o.sink_port = static_cast<std::uint16_t>(std::stoul(v));
        } else if (a == "--mode") {
            if (v == "closed") {
                o.mode = run_mode::closed;
            } else if (v == "paced") {
                o.mode = run_mode::paced;
            } else {
                return std::nullopt;
            }
        } else if (a == "--connections") {
            o.connections = std::stoi(v);
        } else if (a == "--max-connections") {
            o.max_connections = std::stoi(v);
        } else if (a == "--count") {
            o.count = std::stoll(v);
        } else if (a == "--duration") {
            o.duration_s = std::stod(v);
        } else if (a == "--rate") {
            o.rate = std::stod(v);
        } else if (a == "--warmup") {
            o.warmup_s = std::stod(v);
        } else if (a == "--drain") {
            o.drain_s = std::stod(v);
        } else if (a == "--linger") {
            o.linger_s = std::stod(v);
        } else if (a == "--max-time") {
            o.max_time_s = std::stod(v);
        } else {
            return std::nullopt;
        }
    }
    // Bounds keep a typo from turning into an unbounded load loop.
    if (o.port == 0 || (o.target == target_kind::hotline && o.token.empty()) || o.connections < 1 ||
        o.connections > 1024 || o.count < 0 || o.count > 1000000 || o.duration_s <= 0 ||
        o.duration_s > 300 || o.drain_s < 0 || o.drain_s > 120 || o.linger_s < 0 ||
        o.linger_s > 10 || o.max_time_s <= 0 || o.max_time_s > 600) {
        return std::nullopt;
    }
    if (o.mode == run_mode::paced &&
        (o.count != 0 || o.rate <= 0 || o.rate > 100000 || o.warmup_s < 0 || o.warmup_s > 60 ||
         o.max_connections < o.connections || o.max_connections > 4096)) {
        return std::nullopt;
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<options> parsed;
    try {
        parsed = parse_args(argc, argv);
    } catch (const std::exception&) {
        parsed.reset();
    }
    if (!parsed) {
        return usage();
    }
    try {
        asio::io_context io{1};
        run_state st;
        st.opt = *parsed;
        std::random_device rd;
        st.nonce = std::to_string(rd()) + std::to_string(rd());

        tcp::acceptor acceptor{io};
        hotline_bench::listen_on(acceptor, {asio::ip::make_address("127.0.0.1"), st.opt.sink_port});
        std::cerr << "sink_port=" << acceptor.local_endpoint().port() << std::endl;
        asio::co_spawn(io, sink_accept(acceptor, st), log_exception);

        const tcp::endpoint target{asio::ip::make_address(st.opt.host), st.opt.port};
        if (st.opt.mode == run_mode::closed) {
            asio::co_spawn(io, closed_loop(st, target), log_exception);
        } else {
            asio::co_spawn(io, paced_loop(st, target), log_exception);
        }
        asio::co_spawn(io, finish_when_done(st, io), log_exception);
        io.run();
        std::cout << report(st).dump(2) << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "peer: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
