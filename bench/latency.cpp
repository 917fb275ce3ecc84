// bench_latency: report -> webhook latency of hotlined at a fixed request rate.
//
// One process, one io thread, two roles:
//  - load generator: posts unique reports (unique external_id) to POST /v1/reports at a fixed
//    rate over keep-alive connections. The schedule is open-loop: report i is due at
//    t0 + i/rate, fixed before the run starts, and goes out at that time on an idle pooled
//    connection (a new one is opened when all are busy, up to --max-connections), whether or
//    not earlier reports were answered. Every latency is measured from the due time, not from
//    when the request actually left, so a slow answer shows up as latency instead of
//    silently lowering the offered rate (no coordinated omission).
//  - webhook sink: a minimal HTTP/1.1 server (keep-alive) that answers 200 {"id":"x"} and
//    notes when the alert for each report_id first arrives.
// The 202's report_id joins the two: latency = webhook arrival - due time of that report.
// Reports due in the first --warmup seconds are sent but left out of the statistics.
// The run is bounded: warmup + duration of sending, then at most --drain seconds waiting
// for outstanding webhooks. Output: one JSON object on stdout.
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
#include <cstdlib>
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
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct options {
    std::string target_host = "127.0.0.1";
    std::uint16_t target_port = 8080;
    std::string path = "/v1/reports";
    std::string token;
    std::uint16_t sink_port = 0;
    double rate = 1000;
    double duration_s = 10;
    double warmup_s = 1;
    double drain_s = 5;
    int connections = 16;
    int max_connections = 256;
};

struct report_record {
    steady::time_point due{};
    steady::time_point sent{};
    steady::time_point answered{};
    int status = 0;  // 0 = no answer (connection error)
    std::int64_t report_id = -1;
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
    steady::time_point t0{};
    std::vector<report_record> reports;
    std::unordered_map<std::int64_t, steady::time_point> webhook_first;  // report_id -> arrival
    std::int64_t webhooks = 0;
    std::int64_t webhook_duplicates = 0;
    std::int64_t webhook_unparsed = 0;
    std::int64_t connect_errors = 0;
    std::int64_t io_errors = 0;
    std::vector<std::unique_ptr<connection>> idle;
    int in_flight = 0;
    int max_in_flight = 0;
    std::int64_t connections_opened = 0;
    bool sending_done = false;
};

const auto log_exception = hotline_bench::exception_logger("latency: task failed: ");

// ---- webhook sink ---------------------------------------------------------------------

asio::awaitable<void> sink_session(beast::tcp_stream stream, run_state& st) {
    auto on_webhook = [&st](const http::request<http::string_body>& req,
                            steady::time_point arrived) {
        ++st.webhooks;
        const auto body = nlohmann::json::parse(req.body(), nullptr, false);
        if (body.is_object() && body.contains("report_id") &&
            body["report_id"].is_number_integer()) {
            const auto id = body["report_id"].get<std::int64_t>();
            if (!st.webhook_first.emplace(id, arrived).second) {
                ++st.webhook_duplicates;
            }
        } else {
            ++st.webhook_unparsed;
        }
    };
    return hotline_bench::serve_webhooks(std::move(stream), on_webhook, 30s);
}

asio::awaitable<void> sink_accept(tcp::acceptor& acceptor, run_state& st) {
    return hotline_bench::accept_each(
        acceptor, [&st](beast::tcp_stream stream) { return sink_session(std::move(stream), st); },
        log_exception);
}

// ---- load generator -------------------------------------------------------------------

std::string report_body(const run_state& st, std::size_t i) {
    // Fixed-size, plain ASCII report: the point is the pipeline, not the parser.
    return R"({"sender":"+15550100)" + std::to_string(100 + (i % 900)) +
           R"(","subject":"bench","text":"benchmark report )" + std::to_string(i) +
           R"( from the latency tool","external_id":"lat-)" + st.nonce + "-" + std::to_string(i) +
           R"("})";
}

// Takes an idle keep-alive connection or opens a new one.
asio::awaitable<std::unique_ptr<connection>> checkout(run_state& st, const tcp::endpoint& ep) {
    if (!st.idle.empty()) {
        auto c = std::move(st.idle.back());
        st.idle.pop_back();
        co_return c;
    }
    auto c = std::make_unique<connection>(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    c->stream.expires_after(5s);
    co_await c->stream.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        ++st.connect_errors;
        co_return nullptr;
    }
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    ++st.connections_opened;
    co_return c;
}

asio::awaitable<void> send_report(run_state& st, tcp::endpoint ep, std::size_t i) {
    auto& rec = st.reports[i];
    boost::system::error_code ec;
    auto c = co_await checkout(st, ep);
    if (c) {
        http::request<http::string_body> req{http::verb::post, st.opt.path, 11};
        req.set(http::field::host, st.opt.target_host);
        req.set(http::field::content_type, "application/json");
        req.set(http::field::authorization, "Bearer " + st.opt.token);
        req.keep_alive(true);
        req.body() = report_body(st, i);
        req.prepare_payload();
        rec.sent = steady::now();
        c->stream.expires_after(10s);
        co_await http::async_write(c->stream, req, asio::redirect_error(asio::use_awaitable, ec));
        http::response<http::string_body> res;
        if (!ec) {
            co_await http::async_read(c->stream, c->buf, res,
                                      asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) {
            ++st.io_errors;
        } else {
            rec.answered = steady::now();
            rec.status = static_cast<int>(res.result_int());
            const auto body = nlohmann::json::parse(res.body(), nullptr, false);
            if (body.is_object() && body.contains("report_id") &&
                body["report_id"].is_number_integer()) {
                rec.report_id = body["report_id"].get<std::int64_t>();
            }
            if (res.keep_alive()) {
                st.idle.push_back(std::move(c));
            }
        }
    }
    --st.in_flight;
}

// Open loop: report i is spawned at its due time whether or not earlier ones were answered;
// a busy pool grows by another connection instead of delaying the schedule. Only when
// --max-connections requests are in flight does the schedule slip (and the slip is part of
// the measured latency, which counts from the due time).
asio::awaitable<void> scheduler(run_state& st, tcp::endpoint ep) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer{executor};
    boost::system::error_code ec;
    // Pre-open the initial pool so connection setup is not in the first latencies.
    for (int k = 0; k < st.opt.connections; ++k) {
        if (auto c = co_await checkout(st, ep)) {
            st.idle.push_back(std::move(c));
        }
    }
    for (std::size_t i = 0; i < st.reports.size(); ++i) {
        timer.expires_at(st.reports[i].due);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        while (st.in_flight >= st.opt.max_connections) {
            timer.expires_after(100us);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        ++st.in_flight;
        st.max_in_flight = std::max(st.max_in_flight, st.in_flight);
        asio::co_spawn(executor, send_report(st, ep, i), log_exception);
    }
    while (st.in_flight > 0) {
        timer.expires_after(1ms);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    st.sending_done = true;
}

// ---- statistics -----------------------------------------------------------------------

using hotline_bench::ms;
using hotline_bench::summarize;

nlohmann::json report(const run_state& st) {
    std::int64_t sent = 0;
    std::int64_t acked = 0;
    std::int64_t duplicates = 0;
    std::int64_t delivered = 0;
    std::int64_t late_1ms = 0;
    std::int64_t warmup_sent = 0;
    std::map<std::string, std::int64_t> statuses;
    std::vector<double> ack_ms;
    std::vector<double> hook_ms;
    std::optional<steady::time_point> first_sent;
    std::optional<steady::time_point> last_sent;
    for (const auto& r : st.reports) {
        if (r.sent == steady::time_point{}) {
            continue;  // never went out (connect error)
        }
        if (r.warmup) {
            ++warmup_sent;
            continue;
        }
        ++sent;
        first_sent = first_sent ? std::min(*first_sent, r.sent) : r.sent;
        last_sent = last_sent ? std::max(*last_sent, r.sent) : r.sent;
        if (r.sent - r.due > 1ms) {
            ++late_1ms;
        }
        statuses[r.status == 0 ? "no_answer" : std::to_string(r.status)] += 1;
        if (r.status == 200 && r.report_id >= 0) {
            ++duplicates;  // a fresh DB never answers 200 for these unique ids
        }
        if (r.status >= 200 && r.status < 300) {
            ++acked;
            ack_ms.push_back(ms(r.answered - r.due));
        }
        if (r.report_id >= 0) {
            if (const auto it = st.webhook_first.find(r.report_id); it != st.webhook_first.end()) {
                ++delivered;
                hook_ms.push_back(ms(it->second - r.due));
            }
        }
    }
    nlohmann::json j;
    j["target"] = st.opt.target_host + ":" + std::to_string(st.opt.target_port) + st.opt.path;
    j["rate_target"] = st.opt.rate;
    j["duration_s"] = st.opt.duration_s;
    j["warmup_s"] = st.opt.warmup_s;
    j["connections"] = st.opt.connections;
    j["max_connections"] = st.opt.max_connections;
    j["connections_opened"] = st.connections_opened;
    j["max_in_flight"] = st.max_in_flight;
    j["warmup_sent"] = warmup_sent;
    j["sent"] = sent;
    j["acked"] = acked;
    j["duplicate_answers"] = duplicates;
    j["delivered"] = delivered;
    j["statuses"] = statuses;
    const double span = first_sent && last_sent ? ms(*last_sent - *first_sent) / 1000.0 : 0.0;
    j["rate_achieved"] =
        span > 0 ? std::round(static_cast<double>(sent - 1) / span * 10.0) / 10.0 : 0.0;
    j["late_sends_over_1ms"] = late_1ms;
    j["connect_errors"] = st.connect_errors;
    j["io_errors"] = st.io_errors;
    j["webhooks_received"] = st.webhooks;
    j["webhook_duplicates"] = st.webhook_duplicates;
    j["webhook_unparsed"] = st.webhook_unparsed;
    const auto sent_count = static_cast<std::size_t>(sent);
    const auto ack_missing = sent_count - ack_ms.size();
    const auto hook_missing = sent_count - hook_ms.size();
    j["http_ack_ms"] = summarize(std::move(ack_ms), ack_missing);
    j["report_to_webhook_ms"] = summarize(std::move(hook_ms), hook_missing);
    return j;
}

// Ends the run once every answered report's webhook is in, or when the drain time is up.
asio::awaitable<void> finish_when_done(run_state& st, asio::io_context& io) {
    asio::steady_timer timer{io};
    boost::system::error_code ec;
    while (!st.sending_done) {
        timer.expires_after(10ms);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(st.opt.drain_s));
    while (steady::now() < deadline) {
        std::size_t waiting = 0;
        for (const auto& r : st.reports) {
            if (r.report_id >= 0 && !st.webhook_first.contains(r.report_id)) {
                ++waiting;
            }
        }
        if (waiting == 0) {
            break;
        }
        timer.expires_after(10ms);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    io.stop();
}

// ---- command line ---------------------------------------------------------------------

int usage() {
    std::cerr
        << "usage: bench_latency --target HOST:PORT (--token T | --token-file F) --sink-port P\n"
           "                     [--rate 1000] [--duration 10] [--warmup 1] [--drain 5]\n"
           "                     [--connections 16] [--max-connections 256] [--path /v1/reports]\n"
           "Posts unique reports at a fixed open-loop rate and listens on 127.0.0.1:P as the\n"
           "webhook sink (--sink-port 0 picks a port and prints sink_port=N on stderr).\n"
           "Prints one JSON object: counts, achieved rate, latency percentiles (ms) of the\n"
           "HTTP answer and of report -> webhook, both measured from each report's due time.\n";
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
            const auto colon = v.rfind(':');
            if (colon == std::string::npos) {
                return std::nullopt;
            }
            o.target_host = v.substr(0, colon);
            o.target_port = static_cast<std::uint16_t>(std::stoul(v.substr(colon + 1)));
        } else if (a == "--token") {
            o.token = v;
        } else if (a == "--token-file") {
            std::ifstream f{v};
            if (!std::getline(f, o.token)) {
                std::cerr << "latency: cannot read " << v << "\n";
                return std::nullopt;
            }
        } else if (a == "--sink-port") {
            o.sink_port = static_cast<std::uint16_t>(std::stoul(v));
        } else if (a == "--rate") {
            o.rate = std::stod(v);
        } else if (a == "--duration") {
            o.duration_s = std::stod(v);
        } else if (a == "--warmup") {
            o.warmup_s = std::stod(v);
        } else if (a == "--drain") {
            o.drain_s = std::stod(v);
        } else if (a == "--connections") {
            o.connections = std::stoi(v);
        } else if (a == "--max-connections") {
            o.max_connections = std::stoi(v);
        } else if (a == "--path") {
            o.path = v;
        } else {
            return std::nullopt;
        }
    }
    // Bounds keep a typo from turning into an unbounded load loop.
    if (o.rate <= 0 || o.rate > 100000 || o.duration_s <= 0 || o.duration_s > 300 ||
        o.warmup_s < 0 || o.warmup_s > 60 || o.drain_s < 0 || o.drain_s > 60 || o.connections < 1 ||
        o.connections > 1024 || o.max_connections < o.connections || o.max_connections > 4096) {
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
        const tcp::endpoint sink_ep{asio::ip::make_address("127.0.0.1"), st.opt.sink_port};
        hotline_bench::listen_on(acceptor, sink_ep);
        std::cerr << "sink_port=" << acceptor.local_endpoint().port() << std::endl;
        asio::co_spawn(io, sink_accept(acceptor, st), log_exception);

        const auto total = static_cast<std::size_t>(
            std::llround(st.opt.rate * (st.opt.warmup_s + st.opt.duration_s)));
        const auto warmup = static_cast<std::size_t>(std::llround(st.opt.rate * st.opt.warmup_s));
        const std::chrono::duration<double> interval{1.0 / st.opt.rate};
        st.t0 = steady::now() + 100ms;  // let every worker reach its first timer
        st.reports.resize(total);
        for (std::size_t i = 0; i < total; ++i) {
            st.reports[i].due = st.t0 + std::chrono::duration_cast<steady::duration>(
                                            interval * static_cast<double>(i));
            st.reports[i].warmup = i < warmup;
        }
        const tcp::endpoint target{asio::ip::make_address(st.opt.target_host), st.opt.target_port};
        asio::co_spawn(io, scheduler(st, target), log_exception);
        asio::co_spawn(io, finish_when_done(st, io), log_exception);
        io.run();
        std::cout << report(st).dump(2) << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "latency: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
