#pragma once
// A queue: ready messages in FIFO order, its consumers, and round-robin dispatch that honours
// every consumer's prefetch credit.

#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace warren::broker {

struct queue_options {
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    protocol::field_table arguments;
};

/// One subscription of a channel to a queue (basic.consume).
struct consumer {
    std::string tag;
    channel* ch = nullptr;
    std::shared_ptr<queue> q;
    bool no_ack = false;
    bool exclusive = false;
    /// False between basic.consume and consume-ok: no delivery may precede consume-ok.
    bool active = false;
    /// Per-consumer prefetch (basic.qos global=false at the time of consume); 0 = unlimited.
    std::uint16_t prefetch = 0;
    /// Deliveries to this consumer that are not yet settled.
    std::uint32_t unacked = 0;
    protocol::field_table arguments;
};

/// A message waiting in a queue. `seq` is its position at first enqueue: requeued messages go
/// back to their original place.
struct queued_message {
    message_ptr msg;
    std::uint64_t seq = 0;
    bool redelivered = false;
};

class queue : public std::enable_shared_from_this<queue> {
public:
    queue(vhost& vh, std::string name, queue_options options, connection* owner);

    const std::string& name() const noexcept { return name_; }
    const queue_options& options() const noexcept { return options_; }
    bool durable() const noexcept { return options_.durable; }
    bool exclusive() const noexcept { return options_.exclusive; }
    bool auto_delete() const noexcept { return options_.auto_delete; }
    /// The connection owning an exclusive queue, else nullptr.
    connection* owner() const noexcept { return owner_; }
    bool deleted() const noexcept { return deleted_; }
    vhost& host() const noexcept { return vhost_; }

    std::size_t ready_count() const noexcept { return ready_.size(); }
    std::size_t consumer_count() const noexcept { return consumers_.size(); }
    bool has_exclusive_consumer() const noexcept { return exclusive_consumer_; }
    const std::vector<consumer*>& consumers() const noexcept { return consumers_; }

    /// The store's id for this queue; 0 when the queue is not persisted.
    std::uint32_t store_id() const noexcept { return store_id_; }
    void set_store_id(std::uint32_t id) noexcept { store_id_ = id; }
    /// Recovery: appends a message read back from the store (no dispatch, nothing recorded).
    void recover(message_ptr msg, bool redelivered);

    /// Appends a newly routed message and dispatches.
    void enqueue(message_ptr msg);
    /// Puts settled-but-not-acked messages back at their original positions, flagged
    /// redelivered, then dispatches. `items` need not be sorted.
    void requeue(std::vector<queued_message> items);
    /// Removes and returns the head (basic.get).
    std::optional<queued_message> pop();
    /// Drops every ready message; returns how many.
    std::uint32_t purge();

    void add_consumer(consumer& c);
    /// Removes the consumer; returns true if the queue is auto-delete and that was its last.
    bool remove_consumer(consumer& c);

    /// Delivers ready messages to consumers with credit, round-robin.
    void dispatch();

    // Bookkeeping of bindings that point at this queue (so deletion can find them).
    void note_bound(exchange& x) { ++bound_from_[&x]; }
    void note_unbound(exchange& x);
    std::vector<exchange*> bound_exchanges() const;

    /// Marks deleted; the vhost drops it. Consumers and bindings are removed by the vhost.
    void mark_deleted() noexcept { deleted_ = true; }

private:
    bool can_take(const consumer& c) const noexcept;
    void deliver_to(consumer& c, queued_message qm);

    vhost& vhost_;
    std::string name_;
    queue_options options_;
    connection* owner_;
    bool deleted_ = false;
    std::uint32_t store_id_ = 0;
    bool exclusive_consumer_ = false;
    bool dispatching_ = false;
    std::uint64_t next_seq_ = 1;
    std::deque<queued_message> ready_;
    std::vector<consumer*> consumers_;
    std::size_t rr_next_ = 0;
    std::unordered_map<exchange*, std::uint32_t> bound_from_;
};

}  // namespace warren::broker
