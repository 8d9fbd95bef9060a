#pragma once
// The broker's notion of time. The broker never reads a clock behind its host's back: it asks
// `broker_options::clock` (tests inject a manual one) and is driven by broker::tick.

#include <chrono>

namespace warren::broker {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
/// "No deadline".
inline constexpr time_point never = time_point::max();

}  // namespace warren::broker
