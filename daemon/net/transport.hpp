// Runs transfers (HTTP, SMTP) through libcurl's multi interface, driven by Asio sockets and
// timers on the io thread: no blocking call, no thread per transfer.
#pragma once
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

    // Starts one transfer; `done` runs on the io thread.
    void perform(request req, core::duration timeout, std::function<void(reply)> done) override;

    [[nodiscard]] std::size_t in_flight() const override;

    // Aborts every transfer (their `done` get a transport error). For shutdown.
    void cancel_all() override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::net
