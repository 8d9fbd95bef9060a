#pragma once
// The ready messages of a queue, in delivery order: FIFO, or by priority for a queue declared
// with x-max-priority (RabbitMQ 3.10: highest priority first, FIFO within a priority).

#include <warren/broker/clock.hpp>
#include <warren/broker/message.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace warren::broker {

/// A message waiting in a queue. `seq` is its position at first enqueue: requeued messages go
/// back to their original place (within their priority).
struct queued_message {
    message_ptr msg;
    std::uint64_t seq = 0;
    bool redelivered = false;
    /// When the message expires in this queue (lower of x-message-ttl and its expiration,
    /// counted from its publish); `never` without a TTL.
    time_point expires = never;
};

/// Ready messages, head first. With `max_priority` 0 this is one FIFO deque (no per-message
/// cost beyond it); otherwise one FIFO per priority level 0..max_priority, and a message's level
/// is its `priority` property capped at max_priority (absent = 0). The head is the oldest
/// message of the highest non-empty level. Not thread-safe (the broker's executor only).
class ready_list {
public:
    explicit ready_list(std::uint8_t max_priority = 0);

    std::uint8_t max_priority() const noexcept { return static_cast<std::uint8_t>(levels_.size() - 1); }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    /// Sum of the body sizes (what x-max-length-bytes counts).
    std::uint64_t bytes() const noexcept { return bytes_; }

    /// The head (highest priority, then oldest). Precondition: !empty().
    const queued_message& front() const noexcept { return levels_[top_].front(); }
    /// Removes and returns the head. Precondition: !empty().
    queued_message pop_front();
    /// Appends a new message at the back of its priority level.
    void push_back(queued_message qm);
    /// Puts a requeued message back at the position of its `seq` within its level.
    void insert_by_seq(queued_message qm);
    /// Drops everything.
    void clear() noexcept;

    /// Calls f(const queued_message&) for every message, head first.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t l = levels_.size(); l-- > 0;) {
            for (const auto& qm : levels_[l]) f(qm);
        }
    }

    /// The level of `m` in this list: its priority capped at max_priority(), 0 when absent.
    std::size_t level_of(const message& m) const noexcept {
        if (levels_.size() == 1) return 0;
        const std::size_t p = m.properties.priority.value_or(0);
        return p < levels_.size() ? p : levels_.size() - 1;
    }

private:
    void added(std::size_t level, const queued_message& qm) noexcept;

    std::vector<std::deque<queued_message>> levels_;  // index = priority; [0] for FIFO queues
    std::size_t top_ = 0;                              // highest level that may be non-empty
    std::size_t size_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace warren::broker
