// A small pool for CPU work that must not run on the io thread (config parsing, RE2
// compiles, big MIME parses). Results are posted back to the io_context by the caller.
#pragma once
#include "core/asio.hpp"

namespace hotline::core {

class work_pool {
public:
    explicit work_pool(std::size_t threads = 2) : pool_(threads) {}
    ~work_pool() { pool_.join(); }
    work_pool(const work_pool&) = delete;
    work_pool& operator=(const work_pool&) = delete;

    [[nodiscard]] asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

    // Runs fn on the pool and awaits its result on the caller's executor.
    template <class Fn>
    auto run(Fn fn) -> asio::awaitable<decltype(fn())> {
        co_return co_await asio::co_spawn(
            pool_.get_executor(),
            [fn = std::move(fn)]() mutable -> asio::awaitable<decltype(fn())> { co_return fn(); },
            asio::use_awaitable);
    }

private:
    asio::thread_pool pool_;
};

}  // namespace hotline::core
