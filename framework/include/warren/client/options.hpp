#pragma once
// The options of channel operations, the named choices that replace bare booleans, and the
// plain results of channel operations.
//
// Shape (docs/client.md, "Why the options look like this"): every *_options struct holds flags
// and numbers only and is trivially destructible, so it can be written as a braced temporary
// with designated initializers anywhere, including inside a co_await expression:
//     co_await ch.declare_queue("jobs", {.durable = true});
// Data that owns memory (names, bodies, argument tables, message properties, consumer tags) is
// passed as separate parameters of types with constructors. GCC 12 destroys a braced
// *aggregate* temporary that owns memory twice when it appears inside a co_await expression;
// temporaries made by a constructor are not affected, and field_table and basic_properties
// have constructors so that they cannot be written as such aggregates.

#include <warren/protocol/field_table.hpp>
#include <warren/protocol/properties.hpp>
#include <warren/protocol/reply_code.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace warren {

using protocol::basic_properties;
using protocol::field_table;
using protocol::field_value;

enum class exchange_type { direct, fanout, topic, headers };

/// "direct", "fanout", "topic" or "headers".
std::string to_string(exchange_type t);

/// What a nack, a reject or basic.recover does with the message.
enum class requeue : bool {
    no = false,  ///< drop it, or dead-letter it when its queue has a dead-letter exchange
    yes = true,  ///< put it back in its queue (redelivered)
};

/// Whether an ack or a nack also settles every earlier unsettled delivery of the channel.
enum class multiple : bool { no = false, yes = true };

/// What basic.qos limits (RabbitMQ 3.x semantics).
enum class prefetch_scope {
    consumer,  ///< each consumer started afterwards on the channel may hold `count` unacked
    channel,   ///< the channel's consumers share `count` unacked deliveries (global = true)
};

struct exchange_options {
    bool durable = false;
    bool auto_delete = false;
    /// Only other exchanges may publish to it (exchange-to-exchange bindings).
    bool internal = false;
    /// Only check that the exchange exists (404 channel_error if not).
    bool passive = false;
};

struct delete_exchange_options {
    bool if_unused = false;
};

struct queue_options {
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    /// Only check that the queue exists (404 channel_error if not).
    bool passive = false;
};

/// queue.declare-ok.
struct queue_info {
    std::string name{};
    std::uint32_t message_count = 0;
    std::uint32_t consumer_count = 0;
};

struct delete_queue_options {
    bool if_unused = false;
    bool if_empty = false;
};

struct consume_options {
    /// Automatic acknowledgement: deliveries are settled when sent (settling them is an error).
    bool no_ack = false;
    bool exclusive = false;
    bool no_local = false;
};

struct get_options {
    bool no_ack = false;
};

struct publish_options {
    /// Return the message (see channel::next_return / set_return_handler) if unroutable.
    bool mandatory = false;
    /// Shorthand for properties.delivery_mode = 2.
    bool persistent = false;
};

struct channel_options {
    /// Put the channel in publisher-confirm mode: publish() resumes on the broker's ack.
    bool confirms = false;
    /// In confirm mode, at most this many publishes are unconfirmed; further publishes wait
    /// before sending (0 = unlimited).
    std::uint32_t max_unconfirmed = 0;
};

static_assert(std::is_trivially_destructible_v<exchange_options> &&
                  std::is_trivially_destructible_v<queue_options> &&
                  std::is_trivially_destructible_v<consume_options> &&
                  std::is_trivially_destructible_v<publish_options> &&
                  std::is_trivially_destructible_v<channel_options>,
              "options must stay safe as braced temporaries inside co_await (GCC 12)");

/// A message the broker returned (mandatory publish that no queue accepted).
struct returned_message {
    protocol::reply_code code = protocol::reply_code::no_route;
    std::string reply_text{};
    std::string exchange{};
    std::string routing_key{};
    basic_properties properties{};
    std::string body{};
};

}  // namespace warren
