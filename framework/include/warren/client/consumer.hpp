#pragma once
// A consumer as a stream of deliveries: `while (auto d = co_await stream.next()) { ... }`.

#include <warren/client/delivery.hpp>
#include <warren/client/fwd.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace warren {

/// Returned by channel::consume (one queue) and channel::consume_many (one stream for several
/// queues: it ends once every one of its consumers ended). Buffers what the broker sends (which the
/// channel's prefetch bounds) and hands it out in order.
///
/// Thread-safety: use from the connection's executor only; one next() at a time.
/// Lifetime: move-only. Destroying an active consumer cancels it in the background
/// (basic.cancel); deliveries that were still buffered, or arrive before the broker confirms
/// the cancel, are nacked with requeue (unless no_ack).
class consumer {
  public:
    consumer(consumer&&) noexcept;
    consumer& operator=(consumer&&) noexcept;
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;
    ~consumer();

    /// The consumer tag (of a channel::consume_many() stream: its first consumer's).
    const std::string& tag() const;

    /// Every consumer tag of this stream that has not ended (one, unless consume_many()).
    std::vector<std::string> tags() const;

    /// The next delivery, waiting for one if none is buffered. Returns std::nullopt once the
    /// consumer was cancelled (cancel(), or basic.cancel from the broker, e.g. because its queue
    /// was deleted) and every buffered delivery was handed out.
    /// Throws channel_error / connection_error when the channel or connection closed (after the
    /// buffered deliveries were handed out).
    /// Cancellation: per-operation (terminal) cancellation makes it throw
    /// system_error(operation_aborted) *without* taking a delivery from the buffer, so
    /// `race(stream.next(), timer)` never loses a message.
    boost::asio::awaitable<std::optional<delivery>> next();

    /// A buffered delivery, taken without waiting, or std::nullopt if none is buffered (also
    /// once the stream ended or failed: next() then says which). For loops that drain what
    /// one read brought in before they wait; next() is for waiting. A next() of this stream
    /// waiting in another coroutine meanwhile may wake to find nothing: it then waits again.
    std::optional<delivery> try_next();

    /// basic.cancel; resumes on cancel-ok. Deliveries that arrived before are still returned by
    /// next(), then it returns std::nullopt. Idempotent. Cancellation: stops waiting; the cancel
    /// still completes in the background.
    boost::asio::awaitable<void> cancel();

    /// Deliveries buffered and not yet handed out.
    std::size_t buffered() const;

  private:
    friend class detail::channel_impl;
    consumer(std::shared_ptr<detail::channel_impl> ch, std::shared_ptr<detail::consumer_state> st);
    std::shared_ptr<detail::channel_impl> channel_;
    std::shared_ptr<detail::consumer_state> state_;
};

}  // namespace warren
