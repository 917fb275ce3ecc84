// Runs transfers (HTTP, SMTP) through libcurl's multi interface, driven by Asio sockets and
// timers on the transport's own "curl" thread: no blocking call, no thread per transfer;
// requests are posted to it and every reply is posted back to the caller's io_context.
// Idle connections stay cached for keep-alive reuse (up to 256, across hosts).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "core/asio.hpp"
#include "core/duration.hpp"
#include "net/request.hpp"
#include "net/sender.hpp"

namespace hotline::net {

class transport final : public sender {
public:
    explicit transport(asio::io_context& io);
    ~transport() override;
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Starts one transfer; `done` runs on `io`'s thread (the one given to the constructor).
    void perform(request req, core::duration timeout, std::function<void(reply)> done) override;

    [[nodiscard]] std::size_t in_flight() const override;

    // Completed transfers and the connections they had to open (curl's
    // CURLINFO_NUM_CONNECTS: 0 when a cached keep-alive connection was reused), per
    // protocol. Read from any thread (the metrics render).
    struct protocol_stats {
        std::uint64_t transfers{0};
        std::uint64_t connections_opened{0};
    };
    struct stats {
        protocol_stats http;
        protocol_stats smtp;
    };
    [[nodiscard]] stats counters() const;

    // Aborts every transfer (their `done` get a transport error, later, on `io`'s thread).
    // For shutdown.
    void cancel_all() override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::net
