#pragma once
// An immutable message: published once, shared by every queue it is routed to.

#include <warren/protocol/properties.hpp>

#include <cstdint>
#include <memory>
#include <string>

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

    bool persistent() const noexcept { return properties.persistent(); }
};

/// Shared, immutable: fanout to N queues holds one body.
using message_ptr = std::shared_ptr<const message>;

}  // namespace warren::broker
