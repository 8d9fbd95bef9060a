#pragma once
// Private: a wake-up for coroutines on one executor (waiters re-check their condition after
// wait() returns). A steady_timer that never expires: notify() cancels every pending wait.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace warren::detail {

class notifier {
  public:
    explicit notifier(const boost::asio::any_io_executor& ex)
        : timer_(ex, boost::asio::steady_timer::time_point::max()) {}
    /// Wakes every current waiter.
    void notify() noexcept {
        boost::system::error_code ignored;  // cancel(ec) cannot throw; cancel() could, in theory
        timer_.cancel(ignored);
    }
    /// Returns on notify() or when the calling coroutine is cancelled (never throws).
    boost::asio::awaitable<void> wait() {
        co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }

  private:
    boost::asio::steady_timer timer_;
};

}  // namespace warren::detail
