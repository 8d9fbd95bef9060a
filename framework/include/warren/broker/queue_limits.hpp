#pragma once
// A queue's TTL, expiry, length-limit and dead-letter settings, parsed once from its
// (validated) declare arguments.

#include <warren/broker/clock.hpp>
#include <warren/protocol/field_table.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::broker {

enum class overflow_mode { drop_head, reject_publish, reject_publish_dlx };

struct queue_limits {
    /// x-message-ttl, milliseconds.
    std::optional<std::int64_t> message_ttl;
    /// x-expires, milliseconds.
    std::optional<std::int64_t> expires;
    /// x-dead-letter-exchange ("" is the default exchange).
    std::optional<std::string> dead_letter_exchange;
    /// x-dead-letter-routing-key.
    std::optional<std::string> dead_letter_routing_key;
    /// x-max-length (ready messages).
    std::optional<std::uint64_t> max_length;
    /// x-max-length-bytes (body bytes of ready messages).
    std::optional<std::uint64_t> max_length_bytes;
    overflow_mode overflow = overflow_mode::drop_head;
    /// x-queue-type quorum.
    bool quorum = false;
    /// x-delivery-limit of a quorum queue: a message returned more often than this is
    /// dead-lettered (reason delivery_limit) or dropped. RabbitMQ compares the count with the
    /// argument as an Erlang term, so an integer or float limits (a float as its floor), any
    /// other type never does.
    std::optional<std::int64_t> delivery_limit;

    bool has_length_limit() const noexcept { return max_length || max_length_bytes; }
};

/// Reads the settings from declare arguments (a quorum queue's reject-publish-dlx acts as
/// drop-head, as in RabbitMQ 3.10). Values of the wrong type are ignored (declare
/// validated them; recovered definitions were validated when first declared).
queue_limits parse_queue_limits(const protocol::field_table& args);

/// The `expiration` property in milliseconds, or nullopt when RabbitMQ would refuse it.
std::optional<std::int64_t> parse_expiration_ms(std::string_view value);

/// RabbitMQ's upper bound for x-message-ttl, x-expires and the expiration property (10 years).
inline constexpr std::int64_t max_ttl_ms = 315360000000;

}  // namespace warren::broker
