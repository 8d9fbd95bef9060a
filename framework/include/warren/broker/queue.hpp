#pragma once
// A queue: ready messages in FIFO (or priority) order, its consumers, and dispatch that honours
// every consumer's prefetch credit: round-robin among the highest-priority consumers with
// credit, or only the single active consumer.

#include <warren/broker/flow_account.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>
#include <warren/broker/queue_limits.hpp>
#include <warren/broker/ready_list.hpp>
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

/// One subscription of a channel to a queue (basic.consume). What dispatch reads comes first
/// (one cache line: with 10,000 queues each has a consumer, and each is cold).
struct consumer {
    channel* ch = nullptr;
    /// False between basic.consume and consume-ok: no delivery may precede consume-ok.
    bool active = false;
    bool no_ack = false;
    bool exclusive = false;
    /// Per-consumer prefetch (basic.qos global=false at the time of consume); 0 = unlimited.
    std::uint16_t prefetch = 0;
    /// Deliveries to this consumer that are not yet settled.
    std::uint32_t unacked = 0;
    /// The connection's stall epoch in which this consumer was last refused for a full
    /// outbound buffer (connection::note_stalled; one note per consumer per epoch).
    std::uint64_t stalled_in = 0;
    /// The x-priority consumer argument (0 when absent; any integer, negative allowed).
    std::int64_t priority = 0;
    std::shared_ptr<queue> q;
    std::string tag;
    protocol::field_table arguments;
};

/// Why a message left a queue for its dead-letter exchange (x-death `reason`).
enum class death_reason { rejected, expired, maxlen, delivery_limit };

class queue : public std::enable_shared_from_this<queue> {
  public:
    queue(vhost& vh, std::string name, queue_options options, connection* owner);
    ~queue();
    queue(const queue&) = delete;
    queue& operator=(const queue&) = delete;

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
    /// The ready messages, head first.
    const ready_list& ready() const noexcept { return ready_; }
    /// x-max-priority (0: not a priority queue).
    std::uint8_t max_priority() const noexcept { return ready_.max_priority(); }
    /// x-single-active-consumer: only the first registered consumer gets deliveries.
    bool single_active_consumer() const noexcept { return single_active_; }
    std::size_t consumer_count() const noexcept { return consumers_.size(); }
    /// x-queue-type quorum (docs/rabbitmq-extensions-behaviour.md §14).
    bool quorum() const noexcept { return limits_.quorum; }
    /// The consumer_count of queue.declare-ok: a quorum queue also counts each basic.get
    /// delivery that is not yet settled, as RabbitMQ 3.10 does.
    std::size_t declared_consumer_count() const noexcept {
        return consumers_.size() + unsettled_gets_;
    }
    /// A quorum queue's basic.get (no_ack=false) delivery was handed out / settled.
    void get_unsettled() noexcept { ++unsettled_gets_; }
    void get_settled() noexcept {
        if (unsettled_gets_ != 0) --unsettled_gets_;
    }
    bool has_exclusive_consumer() const noexcept { return exclusive_consumer_; }
    const std::vector<consumer*>& consumers() const noexcept { return consumers_; }
    /// The consumer when there is exactly one, else null (read without touching the vector).
    const consumer* sole_consumer() const noexcept { return sole_; }

    /// The store's id for this queue; 0 when the queue is not persisted.
    std::uint32_t store_id() const noexcept { return store_id_; }
    void set_store_id(std::uint32_t id) noexcept { store_id_ = id; }
    /// Recovery: appends a message read back from the store (no dispatch, nothing recorded).
    /// `published_ms` (wall clock) restarts its TTL where it was; 0 = unknown (now).
    void recover(message_ptr msg, bool redelivered, std::int64_t published_ms = 0);

    /// Appends a newly routed message and dispatches. Returns false when the queue refused
    /// it (x-overflow reject-publish / reject-publish-dlx on a full queue): the publisher
    /// then gets a nack. `now` is the publish time (`never`: read the broker's clock if a TTL
    /// applies).
    bool enqueue(message_ptr msg, time_point now = never);
    /// Puts settled-but-not-acked messages back at their original positions, flagged
    /// redelivered, then dispatches. `items` need not be sorted.
    void requeue(std::vector<queued_message> items);
    /// Whether a refused publish is nacked with requeue=true (a quorum queue's reject-publish).
    bool nacks_with_requeue() const noexcept { return limits_.quorum; }
    /// Removes and returns the head (basic.get), dropping expired messages at the head
    /// before and after it.
    std::optional<queued_message> pop();

    /// The queue's TTL, length-limit and dead-letter settings (from its arguments).
    const queue_limits& limits() const noexcept { return limits_; }
    /// Body bytes of the ready messages (x-max-length-bytes counts these).
    std::uint64_t ready_bytes() const noexcept { return ready_.bytes(); }
    /// The queue was "used" (declare, get, consume, cancel): x-expires restarts.
    void touch();
    /// Fires expiries due at `now`; returns the queue's next deadline. May delete the queue.
    time_point tick(time_point now);
    /// A message left this queue for good without requeue (reject/nack requeue=false) or
    /// by expiry/overflow: if the queue has a dead-letter exchange, the message is republished
    /// there by the next broker::flush_events() (never inside the call that dropped it).
    void dead_letter(const message_ptr& msg, death_reason reason);
    /// Internal (broker::flush_events): republishes a message dead_letter() deferred, even if
    /// this queue was deleted since.
    void route_dead_letter(const message_ptr& msg, death_reason reason);
    /// Drops every ready message; returns how many.
    std::uint32_t purge();

    void add_consumer(consumer& c);
    /// Removes the consumer; returns true if the queue is auto-delete and that was its last.
    bool remove_consumer(consumer& c);

    /// Delivers ready messages to consumers with credit: round-robin among the consumers of the
    /// highest x-priority that can take one (or only the first consumer of an SAC queue).
    void dispatch();
    /// Its consumer on `conn` was refused because `conn`'s outbound buffer is full (epoch
    /// `epoch`, connection::note_stalled). With that one consumer only, dispatch() returns at
    /// once until `conn`'s next resume(), without reading the consumer: with 10,000 queues
    /// each holding a message or two while the consumer's socket is full, that read was a
    /// cache miss per publish.
    void note_stalled(connection& conn, std::uint64_t epoch) noexcept {
        if (sole_ != nullptr) {
            stalled_on_ = &conn;
            stalled_epoch_ = epoch;
        }
    }

    // Bookkeeping of bindings that point at this queue (so deletion can find them).
    // The keys are kept so that deleting the queue visits only its own bindings' buckets,
    // not every binding of the exchange (10,000 queues on one exchange: O(n) per delete).
    void note_bound(exchange& x, const std::string& key) { bound_from_[&x].push_back(key); }
    void note_unbound(exchange& x, std::string_view key);
    /// Each exchange with a binding to this queue, and the keys of those bindings (a key
    /// repeats when bindings differ only in their arguments).
    const std::unordered_map<exchange*, std::vector<std::string>>& bound_from() const noexcept {
        return bound_from_;
    }

    /// Publisher flow control: a publish by a connection left messages in this queue, so this
    /// queue's count (its ready messages while it has consumers and is not deleted) now goes
    /// to that connection's account, and leaves the account of the one that published before.
    void feed_flow(const std::shared_ptr<flow_account>& account) {
        if (flow_ == account) return;
        if (flow_) flow_->change(flow_counted_, 0);
        flow_counted_ = 0;
        flow_ = account;
        sync_flow();
    }

    /// Marks deleted; the vhost drops it. Consumers and bindings are removed by the vhost.
    void mark_deleted() noexcept {
        deleted_ = true;
        sync_flow();
    }

  private:
    bool can_take(consumer& c) const noexcept;
    consumer* select_consumer();
    void note_priorities() noexcept;
    void deliver_to(consumer& c, queued_message qm);
    time_point expiry_for(const message& m, time_point published) const noexcept;
    void push_ready(queued_message qm);
    queued_message pop_ready();
    /// Brings this queue's count in its flow account up to date (after every change of the
    /// ready messages, the consumers or deleted_).
    void sync_flow() noexcept {
        if (!flow_) return;
        const std::size_t now = deleted_ || consumers_.empty() ? 0 : ready_.size();
        if (now != flow_counted_) {
            flow_->change(flow_counted_, now);
            flow_counted_ = now;
        }
    }
    /// Drops (dead-letters) expired messages at the head only, as RabbitMQ.
    /// `strict`: only messages whose expiry is before `now` (a TTL-0 message may still go
    /// to a consumer that takes it at once).
    void expire_head(time_point now, bool strict = false);
    /// drop-head: drops from the head until within the length limits.
    void enforce_limits();
    bool would_overflow(const message& m) const noexcept;
    void forget_stored(const message& m);
    /// requeue() of a quorum queue: returned messages go to the back in return order, counted
    /// against x-delivery-limit. Returns whether one of those kept has a TTL.
    bool return_quorum(std::vector<queued_message>& items);
    /// Asks the broker to tick us by our next deadline; registers with it the first time.
    void arm();
    time_point next_deadline() const noexcept;

    // Read on every publish and delivery: together at the front of the object (with 10,000
    // queues each visit to a queue is a cache miss per line it touches).
    bool deleted_ = false;
    bool single_active_ = false;
    bool mixed_priorities_ = false;  // consumers_ holds more than one x-priority
    bool exclusive_consumer_ = false;
    bool timed_ = false;           // registered with the broker's tick
    bool length_limited_ = false;  // limits_.has_length_limit()
    bool message_ttl_ = false;     // limits_.message_ttl is set
    std::uint32_t store_id_ = 0;
    std::uint64_t next_seq_ = 1;
    // note_stalled(): the one consumer's connection, and its stall epoch then (cleared when
    // a consumer comes or goes).
    connection* stalled_on_ = nullptr;
    std::uint64_t stalled_epoch_ = 0;
    // Highest x-priority first, registration order within a priority (registration order
    // only, for single-active-consumer queues).
    std::vector<consumer*> consumers_;
    consumer* sole_ = nullptr;  // consumers_[0] when it is the only one (no read of the vector)
    std::size_t rr_next_ = 0;
    // The account this queue's count goes to (feed_flow), and the count it holds there.
    std::shared_ptr<flow_account> flow_;
    std::size_t flow_counted_ = 0;
    time_point dispatch_now_ = never;  // the publish time while enqueue() dispatches
    ready_list ready_;
    // Cold: after what detail::prefetch_queue_hot loads (queue.cpp checks the layout).
    queue_limits limits_;
    vhost& vhost_;
    std::string name_;
    queue_options options_;
    connection* owner_;
    time_point last_used_ = never;
    std::size_t unsettled_gets_ = 0;  // quorum queues: see declared_consumer_count()
    std::unordered_map<exchange*, std::vector<std::string>> bound_from_;
};

}  // namespace warren::broker
