// The one place Asio is included from. GCC 12 with Boost 1.74 needs <utility>
// before the coroutine headers (awaitable.hpp uses std::exchange without it).
#pragma once
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hotline {
namespace asio = boost::asio;
using error_code = boost::system::error_code;
}  // namespace hotline
