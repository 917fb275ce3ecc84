// Runs plugin-built transport requests (HTTP, SMTP) through libcurl's multi interface,
// driven by Asio sockets and timers on the io thread: no blocking call, no thread per
// transfer.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "core/duration.hpp"
#include "hotline/channel.h"

namespace hotline::net {

struct transport_reply {
    int transport{0};
    int curl_code{0};  // CURLE_OK = 0
    std::string error_text;
    long status{0};    // HTTP status or last SMTP reply code
    std::string body;  // HTTP response body, truncated at 64 KiB
    std::vector<std::pair<std::string, std::string>> headers;  // HTTP response headers
};

class transport {
public:
    explicit transport(asio::io_context& io);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Starts one transfer; `done` runs on the io thread. The request is copied, so the
    // caller may free it right after this returns.
    void perform(const hotline_request& req, core::duration timeout,
                 std::function<void(transport_reply)> done);

    [[nodiscard]] std::size_t in_flight() const;

    // Aborts every transfer (their `done` get a transport error). For shutdown.
    void cancel_all();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::net
