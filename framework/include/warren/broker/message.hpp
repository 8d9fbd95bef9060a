#pragma once
// An immutable message: published once, shared by every queue it is routed to.

#include <warren/protocol/properties.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace warren::broker {

struct message {
    std::string exchange;
    std::string routing_key;
    protocol::basic_properties properties;
    /// The properties exactly as received (flags + list), re-sent verbatim on delivery.
    std::string encoded_properties;
    std::string body;
    /// Broker-assigned id of a persistent message (0 for transient ones).
    std::uint64_t id = 0;
    /// The `expiration` property parsed at publish, milliseconds; -1 when absent.
    std::int64_t expiration_ms = -1;
    /// Wall-clock publish time (ms since the epoch) of a persistent message (id != 0), kept
    /// in the store so that its TTL keeps counting across a restart.
    std::int64_t published_ms = 0;
    /// BCC routing keys, removed from the headers at publish but still used when the
    /// message is dead-lettered with its original routing keys (as RabbitMQ).
    std::vector<std::string> bcc;

    bool persistent() const noexcept { return properties.persistent(); }
};

/// Shared, immutable: fanout to N queues holds one body.
using message_ptr = std::shared_ptr<const message>;

/// A new, empty message for the publish path. Messages released earlier on the calling thread
/// are recycled with their strings' capacity (and their shared_ptr control blocks), so that a
/// steady stream of small messages does not call malloc per message. Any thread may release
/// a message; it then goes to that thread's cache (bounded) or back to the heap.
std::shared_ptr<message> acquire_message();

}  // namespace warren::broker
