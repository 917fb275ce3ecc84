// The seam between the dispatcher and the network: the curl transport implements it in
// production, a scripted fake in the dispatcher's unit test.
#pragma once
#include <cstddef>
#include <functional>

#include "core/duration.hpp"
#include "net/request.hpp"

namespace hotline::net {

class sender {
public:
    virtual ~sender() = default;

    // Starts one transfer; `done` runs once, on the io thread, never inside this call.
    virtual void perform(request req, core::duration timeout, std::function<void(reply)> done) = 0;

    // Transfers started and not yet completed.
    [[nodiscard]] virtual std::size_t in_flight() const = 0;

    // Aborts every transfer: each `done` gets a transport error (curl_code 42,
    // CURLE_ABORTED_BY_CALLBACK), on the io thread, after this call. For shutdown.
    virtual void cancel_all() = 0;
};

}  // namespace hotline::net
