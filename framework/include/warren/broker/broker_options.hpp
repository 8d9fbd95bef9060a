#pragma once
// The broker's settings, apart from the broker itself so that a program can hold them (e.g. in
// warren::embedded_options) without including the broker.

#include <warren/broker/clock.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace warren::broker {

struct broker_options {
    /// Largest message body accepted (RabbitMQ 3.10 default: 128 MiB).
    std::uint64_t max_message_size = 128ull * 1024 * 1024;
    /// A channel whose oldest unacked delivery is older than this is closed with 406
    /// (RabbitMQ 3.10's consumer_timeout, default 30 minutes). Zero disables the check.
    std::chrono::milliseconds consumer_timeout{1800000};
    /// Monotonic time for TTLs, queue expiry and consumer_timeout (default: steady_clock).
    std::function<time_point()> clock;
    /// Wall-clock milliseconds since the epoch, for x-death `time` and for persisted
    /// messages' publish time (default: system_clock).
    std::function<std::int64_t()> wall_clock_ms;
    /// Seeds server-generated names (amq.gen-..., amq.ctag-...); 0 picks a random seed. Tests set
    /// it to make a broker's replies repeatable.
    std::uint64_t rng_seed = 0;
};

}  // namespace warren::broker
