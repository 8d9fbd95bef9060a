#pragma once
// Private to the broker: loading what a publish or a delivery will read into the CPU cache ahead
// of time (the routing look-ahead and connection::resume). Hints only: nothing here reads through
// the addresses it is given, so a stale address (a queue gone meanwhile) is harmless.

#include <warren/broker/queue.hpp>

#include <cstddef>

namespace warren::broker::detail {

inline void prefetch(const void* p) noexcept { __builtin_prefetch(p); }

/// The bytes from the start of a queue object that prefetch_queue_hot() loads: the fields a
/// publish and a delivery read (queue.cpp asserts that they fit).
inline constexpr std::size_t queue_hot_prefix = 320;

/// Loads the hot fields of the queue at `q`, and its shared_ptr control block just before it.
inline void prefetch_queue_hot(const void* q) noexcept {
    const auto* p = static_cast<const char*>(q);
    prefetch(p - 16);
    for (std::size_t off = 0; off < queue_hot_prefix; off += 64) prefetch(p + off);
}

/// Loads what queue::dispatch() reads next: the one consumer and the head message.
inline void prefetch_dispatch(const queue& q) noexcept {
    if (const auto* c = q.sole_consumer()) prefetch(c);
    if (!q.ready().empty()) {
        const auto* m = reinterpret_cast<const char*>(q.ready().front().msg.get());
        prefetch(m);
        prefetch(m + 64);
    }
}

}  // namespace warren::broker::detail
