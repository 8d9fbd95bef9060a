#pragma once
// One message received from a consumer stream (basic.deliver) or from channel::get (basic.get-ok).

#include <warren/client/fwd.hpp>
#include <warren/client/options.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace warren {

/// A received message plus the means to settle it. Settling (ack/nack/reject) goes to the
/// channel the message came from, at most once: a second settle, a settle of a message the
/// channel already settled with `multiple`, or of a delivery from a no_ack consumer throws
/// std::logic_error and sends nothing (the broker would close the channel with 406
/// PRECONDITION_FAILED). After the channel closed, settling throws channel_error (the broker has
/// already requeued the message).
///
/// Move-only: one object per delivery, so that it cannot be settled through a copy.
/// Thread-safety: use from the connection's executor only. Lifetime: keeps its channel's state
/// alive (not the channel open); it may outlive the `channel` handle.
class delivery {
  public:
    delivery() = default;
    /// Gives the buffers of its strings back to a per-thread pool that the next deliveries
    /// received on this thread decode into (no malloc and free per message).
    ~delivery();
    delivery(const delivery&) = delete;
    delivery& operator=(const delivery&) = delete;
    delivery(delivery&&) noexcept = default;
    delivery& operator=(delivery&&) noexcept = default;

    const std::string& body() const noexcept { return body_; }
    std::string& body() noexcept { return body_; }
    const basic_properties& properties() const noexcept { return properties_; }
    basic_properties& properties() noexcept { return properties_; }
    const std::string& exchange() const noexcept { return exchange_; }
    const std::string& routing_key() const noexcept { return routing_key_; }
    /// The consumer's tag ("" for a basic.get).
    const std::string& consumer_tag() const noexcept { return consumer_tag_; }
    bool redelivered() const noexcept { return redelivered_; }
    std::uint64_t delivery_tag() const noexcept { return delivery_tag_; }
    /// For basic.get: messages left in the queue. 0 for consumer deliveries.
    std::uint32_t message_count() const noexcept { return message_count_; }
    /// True once settled by this object, by an earlier `multiple` settle on its channel, or
    /// from the start for a no_ack delivery.
    bool settled() const noexcept;

    /// basic.ack; `multiple::yes` also acks every earlier unsettled delivery of the channel.
    /// Resumes once the frame is queued for sending (there is no reply). Throws
    /// std::logic_error (already settled, see above), channel_error (channel closed) or
    /// connection_error. Not cancellable (it does not wait).
    boost::asio::awaitable<void> ack(multiple m = multiple::no);
    /// basic.nack (RabbitMQ extension). Same contract as ack().
    boost::asio::awaitable<void> nack(requeue r = requeue::yes, multiple m = multiple::no);
    /// basic.reject. Same contract as ack().
    boost::asio::awaitable<void> reject(requeue r = requeue::yes);

  private:
    friend class detail::channel_impl;
    std::shared_ptr<detail::channel_impl> channel_;
    std::string exchange_;
    std::string routing_key_;
    std::string consumer_tag_;
    std::uint64_t delivery_tag_ = 0;
    std::uint32_t message_count_ = 0;
    bool redelivered_ = false;
    basic_properties properties_;
    std::string body_;
};

}  // namespace warren
