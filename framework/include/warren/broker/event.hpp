#pragma once
// What the broker has to tell a client: deliveries, returns, confirms, cancels and closes. The
// broker never calls a client while it works. It appends events to the connection's outbox, and
// broker::flush_events() hands each outbox to its client_sink once the broker call that filled
// it has returned (docs/architecture.md, "The broker's events").

#include <warren/broker/error.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>

#include <cstdint>
#include <string>
#include <variant>

namespace warren::broker {

namespace events {

/// A message for consumer `c` (basic.deliver). `c` stays valid until the event has been handed
/// out, even if the consumer was cancelled meanwhile.
struct delivery {
    std::uint16_t channel = 0;
    bool redelivered = false;
    std::uint64_t delivery_tag = 0;
    const consumer* c = nullptr;
    message_ptr msg;
};

/// The broker cancelled a consumer (its queue was deleted): basic.cancel to the client.
struct consumer_cancelled {
    std::uint16_t channel = 0;
    std::string consumer_tag;
};

/// A mandatory message could not be routed (basic.return).
struct returned {
    std::uint16_t channel = 0;
    reply_code code = reply_code::no_route;
    std::string text;
    message_ptr msg;
};

/// A publisher confirm (basic.ack / basic.nack) on a channel in confirm mode.
struct confirm {
    std::uint16_t channel = 0;
    std::uint64_t delivery_tag = 0;
    bool multiple = false;
    bool ack = true;
    /// The requeue flag of a basic.nack (set when a quorum queue refused the message).
    bool requeue = false;
};

/// The broker closed channel `channel` itself (consumer_timeout): its unacked messages are back
/// in their queues and it takes no more deliveries. The client is owed a channel.close; the
/// sink then releases the channel with connection::close_channel().
struct channel_closed {
    std::uint16_t channel = 0;
    reply_code code = reply_code::precondition_failed;
    std::string text;
};

/// A tx.commit is complete (its persistent messages are durable): tx.commit-ok to the client.
struct tx_committed {
    std::uint16_t channel = 0;
};

}  // namespace events

using event = std::variant<events::delivery, events::consumer_cancelled, events::returned,
                           events::confirm, events::channel_closed, events::tx_committed>;

}  // namespace warren::broker
