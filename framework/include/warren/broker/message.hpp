#pragma once
// An immutable message: published once, shared by every queue it is routed to.

#include <warren/protocol/properties.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace warren::broker {

struct message {
    // What a delivery reads first, `properties` (~450 bytes, rarely read) last: with 10,000
    // queues a message is cold when it is delivered, and this keeps that to two cache lines.
    std::string exchange;
    std::string routing_key;
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
    protocol::basic_properties properties;

    /// True when encoded_properties carries property flags and they are all zero: then
    /// `properties` is all-empty and need not be read (with 10,000 queues a recycled message
    /// is cold, and its properties span seven cache lines). Every writer of `properties`
    /// writes encoded_properties too (deliveries send it verbatim); a message built without
    /// them (empty encoded_properties) answers false, and its properties are read.
    bool no_properties() const noexcept {
        return encoded_properties.size() >= 2 && encoded_properties[0] == 0 &&
               encoded_properties[1] == 0;
    }
    bool persistent() const noexcept { return !no_properties() && properties.persistent(); }
};

/// Shared, immutable: fanout to N queues holds one body.
using message_ptr = std::shared_ptr<const message>;

/// A new, empty message for the publish path (its properties are all empty: a writer of
/// `properties` need not reset them first). Messages released earlier on the calling thread
/// are recycled with their strings' capacity (and their shared_ptr control blocks), so that a
/// steady stream of small messages does not call malloc per message. Any thread may release
/// a message; it then goes to that thread's cache (bounded) or back to the heap.
std::shared_ptr<message> acquire_message();

/// Makes `m.body` (of a message from acquire_message, still empty) hold `n` bytes without
/// reallocating. A body of more than 4 KiB reuses, when there is one, the buffer of a large
/// body released earlier on the calling thread (up to 32 buffers of at most 1 MiB each and
/// 8 MiB in all per thread, most recently released first): a stream of 64 KiB messages then
/// cycles through a few buffers that stay in the CPU's cache, instead of taking every body
/// from wherever the heap has a free 64 KiB (after a run of small messages the heap is full
/// of holes, which costs large bodies dearly).
void reserve_body(message& m, std::size_t n);

/// Bytes of messages (the object and its strings' capacity) given back to the heap rather
/// than recycled since the last call, from any thread; resets the count. warren-broker uses it
/// to decide when to hand freed memory back to the OS (`--trim-mb`).
std::size_t take_released_bytes() noexcept;
/// The same count, without resetting it.
std::size_t released_bytes() noexcept;

}  // namespace warren::broker
