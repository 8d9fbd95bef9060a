#pragma once
// The ready messages of a queue, in delivery order: FIFO, or by priority for a queue declared
// with x-max-priority (RabbitMQ 3.10: highest priority first, FIFO within a priority).

#include <warren/broker/clock.hpp>
#include <warren/broker/message.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace warren::broker {

/// A message waiting in a queue. `seq` is its position at first enqueue: requeued messages go
/// back to their original place (within their priority).
struct queued_message {
    message_ptr msg;
    std::uint64_t seq = 0;
    bool redelivered = false;
    /// Quorum queues: how often the message was returned (x-delivery-count); always 0 in a
    /// classic queue. Sits in what was padding: the struct does not grow.
    std::uint32_t delivery_count = 0;
    /// When the message expires in this queue (lower of x-message-ttl and its expiration,
    /// counted from its publish); `never` without a TTL.
    time_point expires = never;
};

/// A FIFO of queued messages: a ring buffer whose first `inline_slots` slots live in the
/// object itself. A queue is usually empty or holds a message or two while its consumer's
/// socket is full; with 10,000 such queues, std::deque's map, block and the vector around it
/// were three cache misses on each push and pop that this layout does not have.
class message_fifo {
  public:
    static constexpr std::uint32_t inline_slots = 2;

    message_fifo() noexcept = default;
    message_fifo(const message_fifo&) = delete;
    message_fifo& operator=(const message_fifo&) = delete;
    ~message_fifo() {
        clear();
        release();
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    queued_message& front() noexcept { return slot(head_); }
    const queued_message& front() const noexcept { return slot(head_); }
    /// The i-th message from the head. Precondition: i < size().
    const queued_message& operator[](std::size_t i) const noexcept {
        return slot((head_ + static_cast<std::uint32_t>(i)) & (cap_ - 1));
    }

    void push_back(queued_message qm) {
        if (size_ == cap_) grow();
        ::new (static_cast<void*>(&slot((head_ + size_) & (cap_ - 1))))
            queued_message(std::move(qm));
        ++size_;
    }
    void push_front(queued_message qm) {
        if (size_ == cap_) grow();
        head_ = (head_ + cap_ - 1) & (cap_ - 1);
        ::new (static_cast<void*>(&slot(head_))) queued_message(std::move(qm));
        ++size_;
    }
    /// Removes and returns the head. Precondition: !empty().
    queued_message pop_front() noexcept {
        auto& h = slot(head_);
        queued_message qm = std::move(h);
        h.~queued_message();
        head_ = (head_ + 1) & (cap_ - 1);
        if (--size_ == 0) reset_when_empty();
        return qm;
    }
    /// Inserts `qm` before the i-th message (i <= size()).
    void insert(std::size_t i, queued_message qm) {
        push_back(std::move(qm));
        // Rotate it into place: swap down from the back.
        for (std::size_t k = size_ - 1; k > i; --k) std::swap(at(k), at(k - 1));
    }
    void clear() noexcept {
        while (size_ != 0) {
            slot(head_).~queued_message();
            head_ = (head_ + 1) & (cap_ - 1);
            --size_;
        }
        reset_when_empty();
    }

  private:
    queued_message& slot(std::uint32_t i) noexcept { return buf_ ? buf_[i] : local()[i]; }
    const queued_message& slot(std::uint32_t i) const noexcept {
        return buf_ ? buf_[i] : local()[i];
    }
    queued_message& at(std::size_t i) noexcept {
        return slot((head_ + static_cast<std::uint32_t>(i)) & (cap_ - 1));
    }
    queued_message* local() noexcept {
        return std::launder(reinterpret_cast<queued_message*>(inline_));
    }
    const queued_message* local() const noexcept {
        return std::launder(reinterpret_cast<const queued_message*>(inline_));
    }
    void grow() {
        const std::uint32_t cap = cap_ * 2;
        auto* fresh = std::allocator<queued_message>{}.allocate(cap);
        for (std::uint32_t i = 0; i < size_; ++i) {
            auto& old = slot((head_ + i) & (cap_ - 1));
            ::new (static_cast<void*>(fresh + i)) queued_message(std::move(old));
            old.~queued_message();
        }
        release();
        buf_ = fresh;
        cap_ = cap;
        head_ = 0;
    }
    // Empty: start over at slot 0, and give back a large buffer (a burst that is over);
    // a small one is kept for the next message or two.
    void reset_when_empty() noexcept {
        head_ = 0;
        if (buf_ && cap_ > 64) {
            release();
            buf_ = nullptr;
            cap_ = inline_slots;
        }
    }
    void release() noexcept {
        if (buf_) std::allocator<queued_message>{}.deallocate(buf_, cap_);
    }

    queued_message* buf_ = nullptr;  // nullptr: the inline slots
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::uint32_t cap_ = inline_slots;  // a power of two
    alignas(queued_message) unsigned char inline_[inline_slots * sizeof(queued_message)];
};

/// Ready messages, head first. With `max_priority` 0 this is one FIFO, held in the object
/// (no per-message cost beyond it); otherwise one FIFO per priority level 0..max_priority,
/// and a message's level is its `priority` property capped at max_priority (absent = 0). The
/// head is the oldest message of the highest non-empty level. Not thread-safe (the broker's
/// executor only).
class ready_list {
  public:
    explicit ready_list(std::uint8_t max_priority = 0);

    std::uint8_t max_priority() const noexcept { return max_priority_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    /// Sum of the body sizes (what x-max-length-bytes counts).
    std::uint64_t bytes() const noexcept { return bytes_; }

    /// The head (highest priority, then oldest). Precondition: !empty().
    const queued_message& front() const noexcept { return level(top_).front(); }
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
        for (std::size_t l = std::size_t{max_priority_} + 1; l-- > 0;) {
            const auto& fifo = level(l);
            for (std::size_t i = 0; i < fifo.size(); ++i) f(fifo[i]);
        }
    }

    /// The level of `m` in this list: its priority capped at max_priority(), 0 when absent.
    std::size_t level_of(const message& m) const noexcept {
        if (max_priority_ == 0) return 0;
        const std::size_t p = m.properties.priority.value_or(0);
        return p < max_priority_ ? p : max_priority_;
    }

  private:
    message_fifo& level(std::size_t l) noexcept { return l == 0 ? base_ : upper_[l - 1]; }
    const message_fifo& level(std::size_t l) const noexcept {
        return l == 0 ? base_ : upper_[l - 1];
    }
    void added(std::size_t level, const queued_message& qm) noexcept;

    message_fifo base_;                      // level 0: the only one of a FIFO queue
    std::unique_ptr<message_fifo[]> upper_;  // levels 1..max_priority
    std::uint8_t max_priority_ = 0;
    std::size_t top_ = 0;  // highest level that may be non-empty
    std::size_t size_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace warren::broker
