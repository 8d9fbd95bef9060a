#pragma once
// Private to the broker: the x-delivery-count header of quorum queues
// (docs/rabbitmq-extensions-behaviour.md §14.2).

#include <warren/broker/message.hpp>

#include <cstdint>

namespace warren::broker::detail {

/// A copy of `m` for one delivery, whose headers carry `x-delivery-count` (type `l`) = `count`,
/// replacing a publisher's own, and are re-sorted by key, as RabbitMQ 3.10 adds the header.
/// The queue keeps `m` itself: dead-lettering and later deliveries start from the original.
message_ptr with_delivery_count(const message& m, std::uint32_t count);

}  // namespace warren::broker::detail
