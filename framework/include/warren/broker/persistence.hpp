#pragma once
// The persistence interface the broker calls and the store implements (the broker never
// includes the store; the daemon wires the two together).
//
// What is persisted, as RabbitMQ 3.10: durable exchanges; durable queues that are neither
// exclusive nor auto-delete; bindings whose source and destination are both persisted; and
// persistent messages (delivery_mode 2) routed to persisted queues. Transient messages and
// everything else never reach this interface.
//
// Threading: every call comes from the broker's executor. `when_durable` callbacks must be run
// on that executor too (the store posts them back).

#include <warren/broker/exchange.hpp>
#include <warren/broker/message.hpp>
#include <warren/broker/queue.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace warren::broker {

struct exchange_definition {
    std::string vhost;
    std::string name;
    exchange_kind kind = exchange_kind::direct;
    exchange_options options;
};

struct queue_definition {
    std::string vhost;
    std::string name;
    queue_options options;
};

struct binding_definition {
    std::string vhost;
    std::string source;  ///< exchange
    std::string destination;
    bool destination_is_queue = true;
    std::string key;
    protocol::field_table arguments;
};

/// The store's handle for a persisted queue (0 = not persisted).
using store_queue_id = std::uint32_t;

class persistence {
  public:
    virtual ~persistence() = default;

    virtual void exchange_declared(const exchange_definition& x) = 0;
    virtual void exchange_deleted(std::string_view vhost, std::string_view name) = 0;
    /// Returns the id under which the queue's messages are recorded.
    virtual store_queue_id queue_declared(const queue_definition& q) = 0;
    /// Drops the queue and every message recorded for it.
    virtual void queue_deleted(store_queue_id q) = 0;
    virtual void binding_added(const binding_definition& b) = 0;
    virtual void binding_removed(const binding_definition& b) = 0;

    /// A persistent message (m.id != 0) was routed to these persisted queues. The body is
    /// recorded once for all of them.
    virtual void enqueued(const message& m, std::span<const store_queue_id> queues) = 0;
    /// The message was handed to a consumer that must ack it: after a crash it comes back
    /// flagged redelivered. Advisory: it need not be durable before anything else happens.
    virtual void delivered(store_queue_id q, std::uint64_t message_id) = 0;
    /// The message left the queue for good (ack, reject/nack without requeue, no-ack
    /// delivery, purge).
    virtual void removed(store_queue_id q, std::uint64_t message_id) = 0;
    /// Runs `done` on the broker's executor once everything recorded so far is durable
    /// (group commit: many callers share one fdatasync). May run it before returning when
    /// nothing is pending.
    virtual void when_durable(std::function<void()> done) = 0;
};

}  // namespace warren::broker
