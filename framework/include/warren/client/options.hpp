#pragma once
// Options structs (use designated initializers) and the plain results of channel operations.

#include <warren/protocol/field_table.hpp>
#include <warren/protocol/properties.hpp>
#include <warren/protocol/reply_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>

// GCC 12 (fixed in 13) mis-copies a braced aggregate temporary that owns memory when it appears
// inside a co_await expression. The options structs therefore hold names as string_view (copied
// when the operation is called), so `co_await ch.declare_queue({.name = n, .durable = true})` is
// safe; a non-empty field_table or basic_properties inside them must come from a named variable
// (`publish_options o{.properties = p}; co_await ch.publish(x, k, b, o);`). See docs/client.md.

namespace warren {

using protocol::basic_properties;
using protocol::field_table;
using protocol::field_value;

enum class exchange_type { direct, fanout, topic, headers };

/// "direct", "fanout", "topic" or "headers".
std::string to_string(exchange_type t);

struct exchange_options {
    exchange_type type = exchange_type::direct;
    /// Overrides `type` when set (plugin types such as "x-delayed-message").
    std::string_view type_name{};
    bool durable = false;
    bool auto_delete = false;
    bool internal = false;
    /// Only check that the exchange exists (404 channel_error if not).
    bool passive = false;
    field_table arguments{};
};

struct delete_exchange_options {
    bool if_unused = false;
};

struct queue_options {
    /// "" asks the server to generate a name (returned in queue_info::name). Copied when the
    /// operation is called, so a view of a temporary is fine.
    std::string_view name{};
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    /// Only check that the queue exists (404 channel_error if not).
    bool passive = false;
    field_table arguments{};
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
    /// "" lets the client generate one. Copied when consume() is called.
    std::string_view tag{};
    /// Automatic acknowledgement: deliveries are settled when sent (do not ack them).
    bool no_ack = false;
    bool exclusive = false;
    bool no_local = false;
    field_table arguments{};
};

struct get_options {
    bool no_ack = false;
};

struct publish_options {
    /// Return the message (see channel::next_return / set_return_handler) if unroutable.
    bool mandatory = false;
    /// Shorthand for properties.delivery_mode = 2.
    bool persistent = false;
    basic_properties properties{};
};

struct channel_options {
    /// Put the channel in publisher-confirm mode: publish() resumes on the broker's ack.
    bool confirms = false;
    /// In confirm mode, at most this many publishes are unconfirmed; further publishes wait
    /// before sending (0 = unlimited).
    std::uint32_t max_unconfirmed = 0;
};

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
