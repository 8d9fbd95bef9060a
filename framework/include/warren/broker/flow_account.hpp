#pragma once
// Publisher flow control's count for one publishing connection: the ready messages of the
// queues with consumers that this connection published to last. Each queue adds its own
// count to one account (queue::feed_flow) and keeps it exact as messages come and go, so the
// connection reads its backlog in O(1) (connection::backlogged) instead of polling queues.

#include <cstddef>

namespace warren::broker {

struct flow_account {
    /// The account's queues holding more than this many ready messages together (in one
    /// queue or spread over 10,000) throttle the publisher...
    static constexpr std::size_t high_water = 1000;
    /// ...until they are back at this many or fewer.
    static constexpr std::size_t low_water = 500;

    std::size_t total = 0;  // sum of the queues' counts

    /// One queue's count went from `before` to `after`.
    void change(std::size_t before, std::size_t after) noexcept { total = total - before + after; }
    bool over_high_water() const noexcept { return total > high_water; }
    bool over_low_water() const noexcept { return total > low_water; }
};

}  // namespace warren::broker
