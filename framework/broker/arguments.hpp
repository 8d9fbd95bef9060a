#pragma once
// Private to the broker: RabbitMQ's equivalence check for declare arguments.

#include <warren/broker/error.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::broker::detail {

/// RabbitMQ's name for a field value's type ("signedint", "longstr", ...).
std::string_view type_name(const protocol::field_value& v) noexcept;

/// Compares the arguments in `keys` of a redeclare with the current ones as RabbitMQ does:
/// numeric types are compatible with each other, values compare by value. `what` is
/// "queue 'q' in vhost '/'". Returns 406 with RabbitMQ's text on the first difference.
result<void> check_equivalent(std::string_view what, const protocol::field_table& current,
                              const protocol::field_table& requested,
                              std::span<const std::string_view> keys);

/// Erlang's ~p rendering of a float ("5.0", "1.0e3"), as RabbitMQ's texts show them.
std::string erlang_float(double d);

/// The flags of a queue.declare that creates a queue; `server_named`: the client sent "".
struct queue_declare_flags {
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    bool server_named = false;
};

/// Validates the arguments (and, for quorum queues and streams, the flags) of a queue.declare
/// that creates a queue, in RabbitMQ 3.10's order (docs/rabbitmq-extensions-behaviour.md §1.1,
/// §14.1); `q` is the queue's name. Returns the first failure with RabbitMQ's code and text.
/// Defined in queue_arguments.cpp.
result<void> validate_queue_arguments(const protocol::field_table& args, std::string_view q,
                                      std::string_view vhost, const queue_declare_flags& flags);

/// Validates the `expiration` property of a publish and returns it in milliseconds (§1.3).
result<std::int64_t> parse_expiration(std::string_view value);

/// The queue arguments RabbitMQ 3.10 compares on redeclare, in its order.
inline constexpr std::string_view queue_equivalence_keys[] = {"x-expires",
                                                              "x-message-ttl",
                                                              "x-dead-letter-exchange",
                                                              "x-dead-letter-routing-key",
                                                              "x-max-length",
                                                              "x-max-length-bytes",
                                                              "x-max-in-memory-length",
                                                              "x-max-in-memory-bytes",
                                                              "x-max-priority",
                                                              "x-overflow",
                                                              "x-queue-mode",
                                                              "x-single-active-consumer",
                                                              "x-queue-master-locator",
                                                              "x-queue-type",
                                                              "x-quorum-initial-group-size",
                                                              "x-max-age",
                                                              "x-stream-max-segment-size-bytes",
                                                              "x-initial-cluster-size",
                                                              "x-queue-leader-locator"};
/// The arguments RabbitMQ 3.10 compares when a quorum queue is redeclared, in its order.
inline constexpr std::string_view quorum_equivalence_keys[] = {"x-dead-letter-exchange",
                                                               "x-dead-letter-routing-key",
                                                               "x-dead-letter-strategy",
                                                               "x-expires",
                                                               "x-max-length",
                                                               "x-max-length-bytes",
                                                               "x-max-in-memory-length",
                                                               "x-max-in-memory-bytes",
                                                               "x-overflow",
                                                               "x-single-active-consumer",
                                                               "x-queue-type",
                                                               "x-quorum-initial-group-size",
                                                               "x-delivery-limit",
                                                               "x-message-ttl",
                                                               "x-queue-leader-locator"};
/// The exchange arguments RabbitMQ 3.10 compares on redeclare.
inline constexpr std::string_view exchange_equivalence_keys[] = {"alternate-exchange"};

// ---- priority queues, single active consumer, alternate exchanges ----

/// Why a new queue's `x-max-priority` is invalid, as RabbitMQ's reason term
/// ("{max_value_exceeded,256}", "{value_negative,-1}", "\"expected integer, got longstr\""),
/// or nullopt when it is valid (any integer type, 0..255).
std::optional<std::string> max_priority_error(const protocol::field_value& v);
/// Why `x-single-active-consumer` is invalid ("{unacceptable_type,longstr}"); only bool is valid.
std::optional<std::string> single_active_consumer_error(const protocol::field_value& v);
/// Validates those two arguments of a new queue, in RabbitMQ's order; `what` is
/// "queue 'q' in vhost '/'". 406 "invalid arg '<arg>' for <what>: <reason>" on the first failure.
result<void> check_priority_and_sac_arguments(std::string_view what,
                                              const protocol::field_table& args);
/// Validates a new exchange's `alternate-exchange` (a long string; the exchange need not exist).
/// `what` is "exchange 'x' in vhost '/'".
result<void> check_alternate_exchange_argument(std::string_view what,
                                               const protocol::field_table& args);

}  // namespace warren::broker::detail
