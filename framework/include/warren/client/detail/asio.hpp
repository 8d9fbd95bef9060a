#pragma once
// The completion tokens Warren's client uses (Boost 1.81 has no default token).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace warren::detail {

namespace asio = boost::asio;

/// `auto [ec, n] = co_await op(..., use_nothrow);`: errors as values, never thrown.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace warren::detail
