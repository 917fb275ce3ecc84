// The HTTP front door (Beast, coroutines): POST /v1/reports, /healthz, /readyz, /metrics.
// Beast itself appears only in http/*.cpp; this header is Beast-free.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "config/model.hpp"
#include "core/metrics.hpp"
#include "domain/report.hpp"
#include "core/result.hpp"

namespace hotline::http {

// What the server needs from the rest of the daemon.
class application {
public:
    virtual ~application() = default;
    // The config in force (swapped atomically on reload). Called on the io thread.
    [[nodiscard]] virtual std::shared_ptr<const config::config> current_config() const = 0;
    // Routes, plans and durably stores a report; `done` runs on the io thread after commit.
    // An error here is a server-side failure (the store could not commit): answer 503.
    virtual void submit_report(domain::report r,
                               std::function<void(core::result<domain::report_ids>)> done) = 0;
    // /readyz: config loaded and store writable.
    [[nodiscard]] virtual bool ready() const = 0;
};

class server {
public:
    server(asio::io_context& io, application& app, core::metrics& metrics);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and starts accepting. Returns the bound port (useful with port 0).
    [[nodiscard]] core::result<std::uint16_t> start(const config::server_config& cfg);

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
