#pragma once
// Private to the broker: loading what a publish or a delivery will read into the CPU cache ahead
// of time (the routing look-ahead and connection::resume). Hints only: nothing here reads through
// the addresses it is given, so a stale address (a queue gone meanwhile) is harmless.

#include <warren/broker/queue.hpp>

#include <cstddef>
#include <utility>

namespace warren::broker::detail {

/// Starts loading the cache line at `p`. The empty volatile asm is there for the compiler: GCC's
/// pure-const pass does not count __builtin_prefetch as an effect, so a function that only
/// prefetches is found "pure" and, returning nothing, its calls are deleted as dead code. GCC 12
/// did that to the routing look-ahead's stages (route_lookahead.cpp compiled to no prefetch at
/// all); a volatile asm makes every function that prefetches impure. It emits no instruction.
inline void prefetch(const void* p) noexcept {
    __builtin_prefetch(p);
    asm volatile("");
}

/// The bytes from the start of a queue object that prefetch_queue_hot() loads: the fields a
/// publish and a delivery read (queue.cpp asserts that they fit).
inline constexpr std::size_t queue_hot_prefix = 320;

/// Loads the hot fields of the queue at `q`, and its shared_ptr control block just before it.
inline void prefetch_queue_hot(const void* q) noexcept {
    const auto* p = static_cast<const char*>(q);
    prefetch(p - 16);
    // Written out rather than a loop: GCC does not unroll a loop holding a volatile asm.
    [p]<std::size_t... line>(std::index_sequence<line...>) { (prefetch(p + line * 64), ...); }
    (std::make_index_sequence<queue_hot_prefix / 64>{});
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
