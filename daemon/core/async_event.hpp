// Waiting in a coroutine for something that completes elsewhere (the store's writer
// thread, the pipeline) without blocking the thread: a timer that never expires on its own
// serves as the event, and setting it cancels the timer (Icinga's AsioEvent).
#pragma once
#include <chrono>
#include <memory>
#include <optional>

#include "core/asio.hpp"

namespace hotline::core {

// Used on one executor (one thread); set() and abort() come from that executor too.
class async_event {
public:
    explicit async_event(const asio::any_io_executor& ex) : timer_(ex) {
        timer_.expires_at(asio::steady_timer::time_point::max());
    }

    // Wakes the waiter; a later wait() returns at once.
    void set() {
        set_ = true;
        timer_.cancel();
    }

    // Wakes the waiter without setting the event (a forced close); a later wait()
    // returns at once too, so an abort that comes before the wait is not lost.
    void abort() {
        aborted_ = true;
        timer_.cancel();
    }

    [[nodiscard]] bool is_set() const noexcept { return set_; }

    // Returns when set() or abort() was called; true when the event is set.
    asio::awaitable<bool> wait() {
        if (!set_ && !aborted_) {
            error_code ec;
            co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return set_;
    }

    [[nodiscard]] asio::any_io_executor get_executor() { return timer_.get_executor(); }

private:
    asio::steady_timer timer_;
    bool set_{false};
    bool aborted_{false};
};

// A value delivered by a completion that may run on any thread, awaited on one executor.
// Keep it in a shared_ptr: the completion holds it, so a waiter that gave up (aborted)
// may go away before the value arrives.
template <class T>
class async_result {
public:
    explicit async_result(const asio::any_io_executor& ex) : event_(ex) {}

    // The callback to hand to the work: posts the value to the event's executor, stores
    // it there and wakes the waiter.
    [[nodiscard]] static auto completion(const std::shared_ptr<async_result>& self) {
        return [self](T value) {
            auto ex = self->event_.get_executor();
            asio::post(ex, [self, value = std::move(value)]() mutable {
                self->value_.emplace(std::move(value));
                self->event_.set();
            });
        };
    }

    [[nodiscard]] async_event& event() noexcept { return event_; }

    // Set once the event is: the delivered value.
    [[nodiscard]] std::optional<T>& value() noexcept { return value_; }

private:
    async_event event_;
    std::optional<T> value_;
};

}  // namespace hotline::core
