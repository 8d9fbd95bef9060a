#pragma once
// A consumer's next() waiting for a delivery. The connection's reader wakes the waiting
// consumers of one socket read with a single post that resumes each in turn, instead of a
// timer cancellation (timer-queue removal, a scheduler operation and a strand hand-off) per
// consumer per delivery: with 10,000 consumers on a connection, each delivery woke a
// different one.

#include <warren/client/detail/asio.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mutex>
#include <optional>

namespace warren::detail {

/// The handler of a coroutine suspended in `co_await async_initiate<use_awaitable_t<>, void()>`.
using waiter_handler = asio::async_result<asio::use_awaitable_t<>, void()>::handler_type;

class waiter_registry;

/// One suspended next(), owned by the consumer's state. Invariant: registered in its
/// registry exactly while `handler` holds a value.
struct parked_waiter {
    std::optional<waiter_handler> handler;
    waiter_registry* registry = nullptr;
    parked_waiter* prev = nullptr;
    parked_waiter* next = nullptr;
};

/// Every parked waiter of an execution context, so that the context's shutdown destroys
/// their coroutines as it does those suspended in Asio's own operations (a parked handler
/// owns its coroutine, and the coroutine owns the consumer state holding the handler).
class waiter_registry final : public asio::execution_context::service {
  public:
    static asio::execution_context::id id;
    explicit waiter_registry(asio::execution_context& ctx)
        : asio::execution_context::service(ctx) {}

    /// Stores `h` in `w` and registers it.
    void park(parked_waiter& w, waiter_handler&& h);
    /// Takes the handler out of `w` (empty if none) and unregisters it.
    std::optional<waiter_handler> take(parked_waiter& w) noexcept;

  private:
    void shutdown() override;
    std::mutex mutex_;
    parked_waiter* head_ = nullptr;
};

}  // namespace warren::detail
