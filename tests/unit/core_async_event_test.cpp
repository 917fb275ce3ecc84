// core::async_event / async_result: a coroutine waits for a completion posted from
// another thread without blocking its thread; abort wakes it without a value.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <thread>

#include "core/async_event.hpp"
#include "core/spawn.hpp"

using namespace hotline;

namespace {

template <class Fn>
void run(asio::io_context& io, Fn coroutine) {
    asio::co_spawn(io, coroutine(), core::log_on_exception{"test"});
    io.run();
}

}  // namespace

TEST_CASE("async_event: set before or during the wait, and abort") {
    asio::io_context io;
    std::optional<bool> before;
    std::optional<bool> during;
    std::optional<bool> aborted;
    std::optional<bool> aborted_early;
    run(io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        core::async_event a(ex);
        a.set();
        before = co_await a.wait();

        core::async_event b(ex);
        asio::post(ex, [&b] { b.set(); });
        during = co_await b.wait();
        CHECK(b.is_set());

        core::async_event c(ex);
        asio::post(ex, [&c] { c.abort(); });
        aborted = co_await c.wait();
        CHECK_FALSE(c.is_set());

        core::async_event d(ex);
        d.abort();  // before the wait: not lost
        aborted_early = co_await d.wait();
    });
    CHECK(before == true);
    CHECK(during == true);
    CHECK(aborted == false);
    CHECK(aborted_early == false);
}

TEST_CASE("async_result: a value from another thread arrives on the waiter's executor") {
    asio::io_context io;
    std::optional<int> got;
    std::thread::id io_thread = std::this_thread::get_id();
    std::thread worker;
    run(io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto result = std::make_shared<core::async_result<int>>(ex);
        auto done = core::async_result<int>::completion(result);
        // The io_context has work (this coroutine waits), so run() keeps going.
        worker = std::thread([done] { done(42); });
        CHECK(co_await result->event().wait());
        CHECK(std::this_thread::get_id() == io_thread);
        got = *result->value();
    });
    worker.join();
    CHECK(got == 42);
}

TEST_CASE("async_result: a completion after the waiter gave up is harmless") {
    asio::io_context io;
    std::function<void(int)> late;
    run(io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto result = std::make_shared<core::async_result<int>>(ex);
        late = core::async_result<int>::completion(result);
        result->event().abort();
        CHECK_FALSE(co_await result->event().wait());
    });  // the waiter and its shared_ptr are gone
    late(7);
    io.restart();
    CHECK(io.run() == 1);  // the posted delivery runs on the kept-alive result
}
