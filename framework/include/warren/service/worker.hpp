#pragma once
// worker: consumes one or more queues and runs a coroutine handler per message with bounded
// concurrency. Returns -> ack; throws -> the retry policy; decode errors and explicit
// verdict::dead_letter -> the error queue. At-least-once: a message is acked only after its
// handler finished and everything it published was confirmed.
//
//     warren::worker_options o;
//     o.queues = {"jobs"};
//     o.prefetch = 8;
//     o.retry = warren::retry_policy::exponential(5, 1s);
//     warren::worker w{conn, std::move(o)};
//     co_await w.run([](warren::message_context& m) -> asio::awaitable<void> {
//         co_await process(m.body());       // throws -> retried later, then dead-lettered
//     });

#include <warren/client/connection.hpp>
#include <warren/service/codec.hpp>
#include <warren/service/message_context.hpp>
#include <warren/service/retry.hpp>
#include <warren/service/stats.hpp>
#include <warren/service/verdict.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace warren {

/// A handler with its decision as a value. Every handler shape a worker accepts is turned into
/// this one.
using handler = std::function<boost::asio::awaitable<verdict>(message_context&)>;

/// Code around each handling: logging, timing, tracing, metrics. Calls `next` (the rest of the
/// chain and the handler) and returns its verdict, or decides itself. An exception thrown out
/// of it counts as a failed handling, like one from the handler. Middleware runs in the order
/// added: the first added is the outermost.
using middleware =
    std::function<boost::asio::awaitable<verdict>(message_context&, const handler& next)>;

struct worker_options {
    /// The queues to consume (at least one). The worker does not declare them (declare them
    /// with the options your application needs), but it declares its error and retry queues.
    std::vector<std::string> queues;
    /// Unacked messages the broker sends ahead, per queue (basic.qos per consumer).
    std::uint16_t prefetch = 10;
    /// Handlers running at once (1 .. prefetch; 0 = prefetch).
    std::uint16_t concurrency = 0;
    retry_policy retry = retry_policy::exponential(5, std::chrono::seconds(1));
    /// Where messages go when they failed `retry.max_attempts()` times, failed to decode, or
    /// were dead-lettered by the handler. "" = `<queue>.dlq` for each queue.
    std::string error_queue;
    /// Declare the error queue and the retry queues (durable) when run() starts.
    bool declare_topology = true;
    /// Declare them as quorum queues (x-queue-type quorum), e.g. for a RabbitMQ cluster.
    bool quorum = false;
    /// After stop(): how long handlers that are running may take to finish. Those still running
    /// then are cancelled and their messages go back to the broker (requeued, not lost).
    std::chrono::milliseconds drain_timeout{10000};
    /// Headers copied from a message into what its handler publishes (message_context::publish).
    std::vector<std::string> propagate_headers{"traceparent", "tracestate", "baggage"};
    /// Run around each handling, first = outermost.
    std::vector<warren::middleware> middleware;
};

namespace detail {
class worker_core;

template <class F>
handler to_handler(F f) {
    using R = std::invoke_result_t<F&, message_context&>;
    if constexpr (std::is_same_v<R, boost::asio::awaitable<verdict>>) {
        return handler(std::move(f));
    } else {
        static_assert(std::is_same_v<R, boost::asio::awaitable<void>>,
                      "a handler is F(message_context&) -> awaitable<void> or awaitable<verdict>");
        struct adapter {
            F f;
            boost::asio::awaitable<verdict> operator()(message_context& m) { return call(f, m); }
            static boost::asio::awaitable<verdict> call(F& fn, message_context& m) {
                co_await fn(m);
                co_return verdict::ack();
            }
        };
        return handler(adapter{std::move(f)});
    }
}

template <class T, class Codec, class F>
handler to_typed_handler(F f) {
    struct adapter {
        F f;
        boost::asio::awaitable<verdict> operator()(message_context& m) { return call(f, m); }
        static boost::asio::awaitable<verdict> call(F& fn, message_context& m) {
            // A body that does not decode is not retryable: straight to the error queue.
            std::optional<T> value;
            try {
                value.emplace(Codec::template decode<T>(m.body()));
            } catch (const std::exception& e) {
                co_return verdict::dead_letter("cannot decode the message body: " +
                                               std::string(e.what()));
            }
            if constexpr (std::is_invocable_v<F&, T, message_context&>) {
                using R = std::invoke_result_t<F&, T, message_context&>;
                if constexpr (std::is_same_v<R, boost::asio::awaitable<verdict>>) {
                    co_return co_await fn(std::move(*value), m);
                } else {
                    co_await fn(std::move(*value), m);
                    co_return verdict::ack();
                }
            } else {
                using R = std::invoke_result_t<F&, T>;
                if constexpr (std::is_same_v<R, boost::asio::awaitable<verdict>>) {
                    co_return co_await fn(std::move(*value));
                } else {
                    co_await fn(std::move(*value));
                    co_return verdict::ack();
                }
            }
        }
    };
    return handler(adapter{std::move(f)});
}
}  // namespace detail

/// A worker service on one connection.
///
/// Lifetime: `conn` must outlive the worker. run() may be called once.
/// Threading: run(), stop() and stats() from the connection's executor (stats() from any
/// thread); handlers run on the connection's executor, interleaved (use warren::offload for
/// blocking work).
class worker {
  public:
    /// Throws std::invalid_argument for bad options (no queue, concurrency above prefetch).
    worker(connection& conn, worker_options options);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// Consumes until stop() (then drains, see worker_options::drain_timeout, and returns) or
    /// until the connection fails (throws connection_error) or the broker cancels a consumer
    /// (its queue was deleted: throws std::runtime_error naming it). `h` is
    /// F(message_context&) returning awaitable<void> (returns -> ack, throws -> retry policy)
    /// or awaitable<verdict> (an explicit decision).
    template <class F>
    requires std::is_invocable_v<F&, message_context&> boost::asio::awaitable<void> run(F h) {
        using R = std::invoke_result_t<F&, message_context&>;
        if constexpr (std::is_same_v<R, boost::asio::awaitable<void>>) {
            return run_plain_handler(std::move(h));  // no adapter between worker and handler
        } else {
            return run_handler(detail::to_handler(std::move(h)));
        }
    }

    /// The same with a typed body: decoded by `Codec` (json_codec: include
    /// <warren/service/json.hpp>) into T before the handler runs; a body that does not decode
    /// goes to the error queue at once. `h` is F(T, message_context&) or F(T), returning
    /// awaitable<void> or awaitable<verdict>.
    template <class T, class Codec = json_codec, class F>
    boost::asio::awaitable<void> run(F h) {
        return run_handler(detail::to_typed_handler<T, Codec>(std::move(h)));
    }

    /// Graceful stop: no new deliveries (basic.cancel), running handlers get drain_timeout to
    /// finish and settle, the rest is requeued; then run() returns. Idempotent; before run()
    /// it makes run() return at once.
    void stop();
    bool stopping() const noexcept;

    /// The counters so far (any thread).
    worker_stats stats() const noexcept;
    const worker_options& options() const noexcept;

  private:
    boost::asio::awaitable<void> run_handler(handler h);
    boost::asio::awaitable<void> run_plain_handler(
        std::function<boost::asio::awaitable<void>(message_context&)> h);
    std::shared_ptr<detail::worker_core> core_;
};

}  // namespace warren
