#pragma once
// The settings of one server-side AMQP connection (server::session).

#include <cstddef>
#include <cstdint>

namespace warren::server {

struct session_options {
    std::uint16_t channel_max = 2047;
    std::uint32_t frame_max = 131072;
    /// Heartbeat the server proposes in connection.tune, seconds (0 = off).
    std::uint16_t heartbeat = 60;
    /// Above this many unsent output bytes, queues stop dispatching to this connection.
    std::size_t output_high_water = 1u << 20;
};

}  // namespace warren::server
