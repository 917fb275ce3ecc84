// The HTTP front door (Beast, coroutines): connections, limits, keep-alive, drain and the
// error answers; the endpoints come in a route_table (endpoints/endpoints.hpp), so the
// server knows none by name. Beast itself appears only in http/*.cpp; this header is
// Beast-free.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "http/route_table.hpp"

namespace hotline::http {

// What the server needs from the rest of the daemon.
class application {
public:
    virtual ~application() = default;
    // The config in force (swapped atomically on reload), for the source tokens. Called
    // on the io thread.
    [[nodiscard]] virtual std::shared_ptr<const config::config> current_config() const = 0;
    // /readyz: config loaded and store writable.
    [[nodiscard]] virtual bool ready() const = 0;
    // Lines appended to /readyz's body (the state of pulling sources); may be empty.
    [[nodiscard]] virtual std::string readiness_detail() const { return {}; }
};

class server {
public:
    // `routes` is fixed for the server's life; its handlers' references must outlive it.
    server(asio::io_context& io, application& app, route_table routes, core::metrics& metrics);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and starts accepting. Returns the bound port (useful with port 0). `role`
    // names a listener other than the main one ("metrics") in its log line, and keeps it
    // out of the hotline_http_connections gauge.
    [[nodiscard]] core::result<std::uint16_t> start(const config::server_config& cfg,
                                                    std::string_view role = {});

    // Graceful drain: stop accepting, let in-flight requests finish (those waiting for a
    // commit get their answer), close idle keep-alive connections. `done` runs on the io
    // thread when no connection is left or after `grace`.
    void shutdown(core::duration grace, std::function<void()> done);

    [[nodiscard]] std::size_t connections() const;

    // Time for report.received_at (default: the system clock). `clock` must outlive the server.
    void set_clock(const core::clock& clock);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::http
