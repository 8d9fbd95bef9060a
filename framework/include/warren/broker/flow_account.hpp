#pragma once
// Publisher flow control's count for one publishing connection: the ready messages of the
// queues with consumers that this connection published to last. Each queue adds its own
// count to one account (queue::feed_flow) and keeps it exact as messages come and go, so the
// connection reads its backlog in O(1) (connection::backlogged) instead of polling queues.

#include <cstddef>

namespace warren::broker {

struct flow_account {
    /// A queue holding more than this many ready messages throttles its publisher...
    static constexpr std::size_t high_water = 1000;
    /// ...until it is back at this many or fewer.
    static constexpr std::size_t low_water = 500;
    /// All of an account's queues together (a producer spreading over 10,000 queues never
    /// fills one to high_water).
    static constexpr std::size_t total_high_water = 10000;
    static constexpr std::size_t total_low_water = 5000;

    std::size_t total = 0;      // sum of the queues' counts
    std::size_t over_high = 0;  // queues whose count is over high_water
    std::size_t over_low = 0;   // queues whose count is over low_water

    /// One queue's count went from `before` to `after`.
    void change(std::size_t before, std::size_t after) noexcept {
        total = total - before + after;
        over_high = over_high - (before > high_water) + (after > high_water);
        over_low = over_low - (before > low_water) + (after > low_water);
    }
    bool over_high_waters() const noexcept { return over_high != 0 || total > total_high_water; }
    bool over_low_waters() const noexcept { return over_low != 0 || total > total_low_water; }
};

}  // namespace warren::broker
