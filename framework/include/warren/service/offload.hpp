#pragma once
// offload(f): the answer to "my handler blocks". Runs a blocking call (a synchronous database
// client, file I/O, heavy CPU work) on a thread pool and resumes the calling coroutine on its
// own executor with the result, so heartbeats, other handlers and every other coroutine on that
// executor keep running meanwhile.
//
//     auto rows = co_await warren::offload([q = query] { return db.run(q); });

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace warren {

/// The process's pool for offload(): as many threads as the machine has cores (at least 2),
/// made on first use, joined at exit.
boost::asio::thread_pool& blocking_pool();

/// Runs `f()` on `pool` and returns (or rethrows) its result on the caller's executor.
/// Cancellation: not cancellable once started (a blocking call cannot be interrupted); the
/// caller resumes when `f` returns. Thread-safety: `f` runs on another thread; it must not
/// touch the caller's connection, channels or deliveries.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(boost::asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F&>;
    namespace asio = boost::asio;
    if constexpr (std::is_void_v<R>) {
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
            [&pool](auto handler, F fn) {
                auto ex = asio::get_associated_executor(handler);
                asio::post(pool, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
                    std::exception_ptr e;
                    try {
                        fn();
                    } catch (...) {
                        e = std::current_exception();
                    }
                    asio::dispatch(
                        ex, [handler = std::move(handler), e]() mutable { std::move(handler)(e); });
                });
            },
            asio::use_awaitable, std::move(f));
    } else {
        auto r = co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                               void(std::exception_ptr, std::optional<R>)>(
            [&pool](auto handler, F fn) {
                auto ex = asio::get_associated_executor(handler);
                asio::post(pool, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
                    std::exception_ptr e;
                    std::optional<R> value;
                    try {
                        value.emplace(fn());
                    } catch (...) {
                        e = std::current_exception();
                    }
                    asio::dispatch(
                        ex, [handler = std::move(handler), e, value = std::move(value)]() mutable {
                            std::move(handler)(e, std::move(value));
                        });
                });
            },
            asio::use_awaitable, std::move(f));
        co_return std::move(*r);
    }
}

/// offload(f) on blocking_pool().
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(F f) {
    return offload(blocking_pool(), std::move(f));
}

}  // namespace warren
