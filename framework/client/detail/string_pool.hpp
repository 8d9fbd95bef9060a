#pragma once
// Per-thread pools of the strings of received deliveries. A delivery's consumer tag, exchange,
// routing key and body are usually longer than the 15 characters std::string holds inline, so
// without the pools each delivery costs four mallocs and, when the application drops it, four
// frees. A destroyed delivery gives its strings' buffers back here; the next deliveries decode
// into them.

#include <cstddef>
#include <string>

namespace warren::detail {

enum class pooled { name, body };

/// The largest string capacity the pools keep (a body larger than this is not taken from the
/// pool: its buffer would be reallocated at once).
constexpr std::size_t pooled_max_capacity = 4096;

/// An empty string, with the capacity of one given back earlier on this thread if any.
std::string take_string(pooled kind) noexcept;
/// Keeps `s`'s buffer for a later take_string(kind) on this thread (bounded: a string without
/// a buffer of its own, a large one or one past the pool's limits is simply freed).
void give_string(pooled kind, std::string&& s) noexcept;

}  // namespace warren::detail
