#pragma once
// with_timeout(op, d): any Warren awaitable with a deadline.
//
//     auto d = co_await warren::with_timeout(stream.next(), 2s);      // throws timeout_error
//     co_await warren::with_timeout(ch.publish("", "q", body), 500ms);

#include <warren/client/detail/race.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace warren {

/// Thrown by with_timeout() when the deadline passed first. code() is
/// boost::asio::error::timed_out.
class timeout_error : public boost::system::system_error {
  public:
    explicit timeout_error(std::chrono::steady_clock::duration after)
        : boost::system::system_error(boost::asio::error::timed_out),
          text_(
              "operation timed out after " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(after).count()) +
              " ms") {}
    const char* what() const noexcept override { return text_.c_str(); }

  private:
    std::string text_;
};

namespace detail {

template <class T>
struct timed_result {
    std::optional<T> value;
    std::exception_ptr error;
};
template <>
struct timed_result<void> {
    std::exception_ptr error;
};

/// Runs `op` to its end and captures its outcome, so that it always "succeeds" for race():
/// Asio's `||` waits for the first *success*, and a failing `op` would otherwise wait for the
/// timer before its error was seen.
template <class T>
boost::asio::awaitable<timed_result<T>> captured(boost::asio::awaitable<T> op) {
    timed_result<T> r;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(op);
        } else {
            r.value.emplace(co_await std::move(op));
        }
    } catch (...) {
        r.error = std::current_exception();
    }
    co_return r;
}

inline boost::asio::awaitable<void> expire_after(std::chrono::steady_clock::duration d) {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
    co_await t.async_wait(boost::asio::use_awaitable);
}

}  // namespace detail

/// Runs `op` on the calling coroutine's executor with a deadline. Returns what `op` returns, or
/// rethrows what it throws. If `timeout` passes first, `op` is cancelled (terminal
/// cancellation, which every Warren awaitable supports without losing data: a cancelled
/// consumer::next() leaves its delivery buffered, a cancelled publish keeps its confirm
/// tracked) and awaited, then timeout_error is thrown.
/// Cancellation: cancelling the caller cancels `op` and the timer.
template <class T>
boost::asio::awaitable<T> with_timeout(boost::asio::awaitable<T> op,
                                       std::chrono::steady_clock::duration timeout) {
    auto winner =
        co_await detail::race(detail::captured(std::move(op)), detail::expire_after(timeout));
    if (winner.index() == 1) throw timeout_error(timeout);
    auto& r = std::get<0>(winner);
    if (r.error) std::rethrow_exception(r.error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*r.value);
}

}  // namespace warren
