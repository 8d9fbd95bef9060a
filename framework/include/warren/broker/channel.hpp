#pragma once
// The broker side of one AMQP channel: topology operations on behalf of the client, publishing
// (with confirms, returns and transactions), consumers with prefetch, and the unacked ledger.

#include <warren/broker/clock.hpp>
#include <warren/broker/error.hpp>
#include <warren/broker/exchange.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>
#include <warren/broker/persistence.hpp>
#include <warren/broker/queue.hpp>
#include <warren/protocol/methods.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace warren::broker {

/// What basic.get hands out (nullopt from channel::get means get-empty).
struct get_result {
    std::uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::uint32_t message_count = 0;  // ready messages left in the queue
    message_ptr msg;
};

class channel {
  public:
    channel(connection& conn, std::uint16_t id);
    /// Same as close(): requeues unacked messages, cancels consumers.
    ~channel();
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    std::uint16_t id() const noexcept { return id_; }
    connection& owner() const noexcept { return conn_; }

    // ---- topology (exchange.*, queue.*) ----
    result<void> exchange_declare(const protocol::exchange_declare& m);
    result<void> exchange_delete(const protocol::exchange_delete& m);
    result<void> exchange_bind(const protocol::exchange_bind& m);
    result<void> exchange_unbind(const protocol::exchange_unbind& m);
    result<protocol::queue_declare_ok> queue_declare(const protocol::queue_declare& m);
    result<void> queue_bind(const protocol::queue_bind& m);
    result<void> queue_unbind(const protocol::queue_unbind& m);
    result<std::uint32_t> queue_purge(const protocol::queue_purge& m);
    result<std::uint32_t> queue_delete(const protocol::queue_delete& m);

    // ---- basic.* ----
    result<void> qos(const protocol::basic_qos& m);
    /// Returns the consumer tag (generated when the request's is empty).
    result<std::string> consume(const protocol::basic_consume& m);
    /// Starts dispatch to a consumer after consume-ok has been sent.
    void start_consumer(const std::string& tag);
    /// Cancels a consumer; unknown tags are not an error (as RabbitMQ).
    void cancel(const std::string& tag);
    result<std::optional<get_result>> get(const protocol::basic_get& m);
    result<void> ack(std::uint64_t tag, bool multiple);
    result<void> nack(std::uint64_t tag, bool multiple, bool requeue);
    result<void> reject(std::uint64_t tag, bool requeue);
    result<void> recover(bool requeue);
    /// Routes a complete message. Confirms and returns are events of the connection; a
    /// confirm for a persistent message on a persisted queue waits until the store made it
    /// durable, and confirms are always reported in order.
    result<void> publish(const protocol::basic_publish& m, std::shared_ptr<message> msg);

    // ---- modes ----
    result<void> confirm_select();
    result<void> tx_select();
    /// Applies the transaction. Its completion is the event events::tx_committed, raised once
    /// its persistent messages are durable (at once when there are none), and never if the
    /// channel closes first.
    result<void> tx_commit();
    result<void> tx_rollback();
    result<void> flow(bool active);
    bool confirm_mode() const noexcept { return confirm_; }
    bool tx_mode() const noexcept { return tx_; }

    /// Requeues every unacked message (in original order, redelivered) and cancels consumers.
    void close();

    /// Dispatch to every queue this channel consumes from (credit was freed or output drained).
    void kick_consumers();

    // Used by queue dispatch.
    bool has_credit_for(consumer& c) const noexcept;
    void deliver(consumer& c, queued_message qm);
    /// The broker removed consumer `c` (queue deleted): forget it and notify the client.
    void consumer_gone(consumer& c);

    std::size_t unacked_count() const noexcept { return live_unacked_; }

    /// consumer_timeout: when its oldest unacked delivery is older than
    /// broker_options::consumer_timeout at `now`, the channel closes itself (requeueing its
    /// unacked messages) and raises events::channel_closed; else returns when to look again.
    /// The channel object stays until the connection's close_channel().
    time_point tick(time_point now);
    std::size_t consumer_count() const noexcept { return consumers_.size(); }

    // ---- direct reply-to (amq.rabbitmq.reply-to), channel_reply_to.cpp ----
    /// The pseudo-queue clients consume from (no-ack) and name in `reply_to`.
    static constexpr std::string_view reply_to_queue = "amq.rabbitmq.reply-to";
    /// The reply-to name of this channel's current reply consumer ("" when it has none).
    const std::string& reply_to_name() const noexcept { return reply_to_name_; }
    /// A reply published to this channel's reply-to name: delivered to its reply consumer.
    void deliver_reply(const message_ptr& m);

  private:
    struct unacked_entry {
        std::uint64_t tag = 0;
        std::shared_ptr<queue> q;
        queued_message qm;
        consumer* c = nullptr;  // nullptr for basic.get or a cancelled consumer
        bool counted = false;   // counts against prefetch_global_
        bool settled = false;
        bool quorum_get = false;  // a quorum queue's basic.get: counted as its consumer
        time_point at{};          // delivery time, for consumer_timeout (when enabled)
    };
    // Messages rejected without requeue, dead-lettered once the ledger walk is over.
    using dead_letters = std::vector<std::pair<std::shared_ptr<queue>, message_ptr>>;
    struct tx_publish {
        protocol::basic_publish m;
        message_ptr msg;
    };
    struct tx_settle {
        std::uint64_t tag;
        bool multiple;
        bool ack;
        bool requeue;
    };
    using tx_op = std::variant<tx_publish, tx_settle>;

    result<std::shared_ptr<queue>> find_queue_for_use(std::string_view name);
    result<std::string> expand_queue_name(std::string_view name) const;
    result<void> check_exclusive_access(const queue& q) const;
    static result<void> check_binding_arguments(const exchange& x,
                                                const protocol::field_table& args);
    result<std::pair<exchange*, std::shared_ptr<queue>>> binding_ends(
        std::string_view queue_name, std::string_view exchange_name);
    result<void> do_publish(const protocol::basic_publish& m, const message_ptr& msg);
    // consumer arguments (x-priority, ...) as RabbitMQ 3.10 validates them
    result<std::int64_t> consumer_priority(const protocol::field_table& args,
                                           std::string_view queue_name) const;
    // direct reply-to
    result<std::string> consume_reply_to(const protocol::basic_consume& m);
    bool cancel_reply_to(std::string_view tag);
    result<void> set_fast_reply_to(message& msg);
    void publish_reply(const protocol::basic_publish& m, const message_ptr& msg);
    result<void> settle(std::uint64_t tag, bool multiple, bool ack, bool requeue);
    void deliver_counted(consumer& c, queued_message qm);
    void settle_entry(unacked_entry& e, bool ack, bool requeue,
                      std::vector<queued_message>* requeue_out, dead_letters* dead_out = nullptr);
    void note_unacked();
    void requeue_all();
    void remove_consumer(consumer& c, bool notify);
    void trim_settled();
    void confirm(std::uint64_t seq, bool wait_for_store, bool ack = true, bool requeue = false);
    void release_confirms();
    persistence* store() const noexcept;
    unacked_entry* find_unacked(std::uint64_t tag);

    connection& conn_;
    std::uint16_t id_;
    std::uint64_t next_delivery_tag_ = 1;
    std::deque<unacked_entry> unacked_;  // ascending tags; settled entries trimmed from the front
    std::size_t live_unacked_ = 0;
    std::uint32_t global_unacked_ = 0;  // consumer deliveries counted against prefetch_global_
    std::vector<std::unique_ptr<consumer>> consumers_;
    string_map<consumer*> by_tag_;         // consumers_ by tag: a channel may hold 10,000s of them
    std::uint16_t prefetch_consumer_ = 0;  // basic.qos global=false: for consumers made later
    std::uint16_t prefetch_global_ = 0;    // basic.qos global=true: the whole channel
    bool confirm_ = false;
    std::uint64_t publish_seq_ = 0;
    // Confirms not yet reported: (seq, ready). Shared with pending store callbacks, which
    // find it gone (weak_ptr) if the channel closed first.
    struct pending_confirm {
        std::uint64_t seq;
        bool ready;
        bool ack;
        bool requeue = false;
    };
    struct confirm_queue {
        std::deque<pending_confirm> pending;
    };
    std::shared_ptr<confirm_queue> confirms_ = std::make_shared<confirm_queue>();
    bool tx_ = false;
    std::vector<tx_op> tx_ops_;
    bool stored_in_commit_ = false;
    bool refused_in_commit_ = false;  // a queue refused a publish (x-overflow reject-publish)
    std::string last_queue_;
    bool closed_ = false;
    // direct reply-to: the consumer, its current name, and this channel's part of every name
    std::unique_ptr<consumer> reply_consumer_;
    std::string reply_to_name_;
    std::string reply_channel_key_;
};

}  // namespace warren::broker
