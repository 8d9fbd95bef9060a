#pragma once
// A condition-variable-like wakeup for coroutines on one executor: waiters re-check their
// condition after wait() returns. Built on a steady_timer that never expires (cancel() wakes
// every pending wait), so per-operation cancellation of a waiter works as for any Asio op.

#include <warren/client/detail/asio.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

namespace warren::detail {

/// Throws system_error(operation_aborted) if the calling coroutine was cancelled.
inline asio::awaitable<void> throw_if_cancelled() {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
    }
}

/// Suspends once (a post to the current executor), then checks for cancellation. Operations
/// that hand out a value call this before taking it: a coroutine that suspended at least once
/// completes without co_spawn's trailing post, so race() cannot see a result after the other
/// branch won (asio#1041).
inline asio::awaitable<void> suspend_then_check() {
    auto ex = co_await asio::this_coro::executor;
    co_await asio::post(ex, use_nothrow);
    co_await throw_if_cancelled();
}

class signal {
  public:
    explicit signal(const asio::any_io_executor& ex)
        : timer_(ex, asio::steady_timer::time_point::max()) {}

    /// Wakes every current waiter.
    void notify() noexcept { timer_.cancel(); }

    /// Waits for notify(). Throws system_error(operation_aborted) if the calling coroutine is
    /// cancelled (before or during the wait), even if notify() also happened.
    asio::awaitable<void> wait() {
        co_await timer_.async_wait(use_nothrow);
        check_not_cancelled((co_await asio::this_coro::cancellation_state).cancelled());
    }

    /// The bare wait, for a hot loop that awaits it directly (no coroutine frame of its own)
    /// and then calls check_not_cancelled itself.
    auto wait_inline() { return timer_.async_wait(use_nothrow); }
    static void check_not_cancelled(asio::cancellation_type t) {
        if (t != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
    }

    /// For the connection's own loops, which are never cancelled per operation.
    asio::awaitable<void> wait_nothrow() { co_await timer_.async_wait(use_nothrow); }

  private:
    asio::steady_timer timer_;
};

}  // namespace warren::detail
