#pragma once
// An AMQP channel: every broker operation as an awaitable.

#include <warren/client/consumer.hpp>
#include <warren/client/delivery.hpp>
#include <warren/client/fwd.hpp>
#include <warren/client/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace warren {

/// The confirm of one publish, from channel::start_publish.
class confirmation {
public:
    /// The publish sequence number (0 when the channel is not in confirm mode).
    std::uint64_t sequence() const noexcept;
    /// True once the broker acked or nacked it (always true outside confirm mode).
    bool settled() const noexcept;
    /// Resumes when the broker acked the message. Throws publish_nacked on basic.nack,
    /// channel_error / connection_error if the channel closed first. Cancellation: stops
    /// waiting only; the confirm is still tracked (see channel::wait_for_confirms).
    boost::asio::awaitable<void> wait() const;

private:
    friend class detail::channel_impl;
    std::shared_ptr<detail::confirm_state> state_;
};

/// A channel of a connection. Copies share one channel; when the last copy (and every delivery
/// and consumer of it) is gone, an open channel is closed in the background.
///
/// Errors: a broker refusal closes the channel and throws channel_error (`e.code() ==
/// protocol::reply_code::not_found`); every later operation on it throws the same error.
/// Open a new channel to continue; the connection is unaffected.
///
/// Threading: every member must be called from the connection's executor (see connection).
/// Cancellation: every awaitable accepts per-operation (terminal) cancellation. A synchronous
/// operation (declare, bind, ...) that is cancelled after its request was sent still takes
/// effect on the broker; its reply is consumed and dropped. See consume(), get() and publish()
/// for what cancellation keeps.
class channel {
public:
    std::uint16_t id() const noexcept;
    /// False once closed (by close(), by the broker, or with its connection).
    bool is_open() const noexcept;
    boost::asio::any_io_executor get_executor() const;

    /// exchange.declare. Throws channel_error (406 if it exists with other options, 404 for a
    /// passive declare of a missing exchange, 403 for "amq.*" names).
    boost::asio::awaitable<void> declare_exchange(std::string name, exchange_options options = {});
    boost::asio::awaitable<void> declare_exchange(std::string name, exchange_type type);
    boost::asio::awaitable<void> delete_exchange(std::string name, delete_exchange_options options = {});
    /// exchange.bind: messages routed by `source` with `routing_key` also go to `destination`.
    boost::asio::awaitable<void> bind_exchange(std::string destination, std::string source,
                                               std::string routing_key, field_table arguments = {});
    boost::asio::awaitable<void> unbind_exchange(std::string destination, std::string source,
                                                 std::string routing_key, field_table arguments = {});

    /// queue.declare; returns the (possibly server-generated) name and the counts.
    boost::asio::awaitable<queue_info> declare_queue(queue_options options = {});
    boost::asio::awaitable<void> bind_queue(std::string queue, std::string exchange,
                                            std::string routing_key, field_table arguments = {});
    boost::asio::awaitable<void> unbind_queue(std::string queue, std::string exchange,
                                              std::string routing_key, field_table arguments = {});
    /// queue.purge; returns the number of messages removed.
    boost::asio::awaitable<std::uint32_t> purge_queue(std::string queue);
    /// queue.delete; returns the number of messages deleted with it. Consumers of the queue (on
    /// any channel) see their streams end (basic.cancel from the broker).
    boost::asio::awaitable<std::uint32_t> delete_queue(std::string queue, delete_queue_options options = {});

    /// basic.qos. `global == false`: each new consumer of this channel may hold `count`
    /// unacked deliveries; `true`: the channel's consumers share `count` (RabbitMQ 3.x).
    boost::asio::awaitable<void> set_prefetch(std::uint16_t count, bool global = false);

    /// basic.consume; resumes on consume-ok with the stream of deliveries. The tag is generated
    /// by the client when options.tag is empty. Cancellation: if cancelled before consume-ok,
    /// the consumer is cancelled on the broker and anything it received is requeued.
    boost::asio::awaitable<consumer> consume(std::string queue, consume_options options = {});

    /// basic.consume on each of `queues` (in order), one stream for all of them: next() hands
    /// out deliveries in the order they arrived, whichever queue they came from
    /// (delivery::consumer_tag() tells which consumer, tags() lists them); it returns
    /// std::nullopt once every one of these consumers was cancelled (cancel() cancels them
    /// all; the broker cancels one when its queue is deleted). One loop serves many queues
    /// without a coroutine per queue. Tags: generated when options.tag is empty, else
    /// "<options.tag>.<i>" for queues[i]. Resumes once every consume-ok arrived.
    /// Cancellation: as consume(); the consumers already started are cancelled.
    boost::asio::awaitable<consumer> consume_many(std::vector<std::string> queues, consume_options options = {});

    /// basic.get: a message, or std::nullopt when the queue is empty (get-empty).
    /// Cancellation: a message that arrives for a cancelled get is nacked with requeue (it is
    /// lost when options.no_ack is true).
    boost::asio::awaitable<std::optional<delivery>> get(std::string queue, get_options options = {});

    /// Settle by delivery tag (delivery::ack and friends call these).
    boost::asio::awaitable<void> ack(std::uint64_t delivery_tag, bool multiple = false);
    boost::asio::awaitable<void> nack(std::uint64_t delivery_tag, bool requeue = true, bool multiple = false);
    boost::asio::awaitable<void> reject(std::uint64_t delivery_tag, bool requeue = true);
    /// basic.recover: redeliver every unacked message of the channel.
    boost::asio::awaitable<void> recover(bool requeue = true);

    /// Transactions (tx.select / commit / rollback).
    boost::asio::awaitable<void> tx_select();
    boost::asio::awaitable<void> tx_commit();
    boost::asio::awaitable<void> tx_rollback();

    /// confirm.select: publisher confirms from now on (also via channel_options::confirms).
    boost::asio::awaitable<void> confirm_select();
    bool confirm_mode() const noexcept;

    /// basic.publish. Waits (before sending) while the connection is blocked by the broker
    /// (connection.blocked), while too much output is queued, and in confirm mode while
    /// channel_options::max_unconfirmed publishes are unconfirmed. Then sends; outside confirm
    /// mode it resumes at once, in confirm mode when the broker acks (throws publish_nacked on
    /// a nack). Throws channel_error / connection_error if the channel or connection closed.
    /// Cancellation: before sending, nothing is sent; after sending, only the wait stops; the
    /// confirm is still tracked and counted by wait_for_confirms().
    boost::asio::awaitable<void> publish(std::string exchange, std::string routing_key,
                                         std::string body, publish_options options = {});
    /// As publish() but resumes once sent, returning the confirm to wait for later. Many
    /// publishes may thus be in flight.
    boost::asio::awaitable<confirmation> start_publish(std::string exchange, std::string routing_key,
                                                       std::string body, publish_options options = {});
    /// Waits until every publish so far is settled; true if all publishes settled since the
    /// previous call were acked. Throws channel_error / connection_error.
    boost::asio::awaitable<bool> wait_for_confirms();
    /// Publishes sent and not yet confirmed.
    std::size_t unconfirmed() const noexcept;

    /// Mandatory publishes the broker returns go to `handler` (called on the connection's
    /// executor; it must not throw). Without a handler they are buffered for next_return().
    void set_return_handler(std::function<void(returned_message)> handler);
    /// The next returned message (waits). Throws channel_error when the channel closed.
    /// Cancellation: throws operation_aborted without taking a message from the buffer.
    boost::asio::awaitable<returned_message> next_return();

    /// channel.close; resumes on close-ok. No-op when already closed.
    boost::asio::awaitable<void> close();

private:
    friend class detail::channel_impl;
    explicit channel(std::shared_ptr<detail::channel_impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<detail::channel_impl> impl_;
};

}  // namespace warren
