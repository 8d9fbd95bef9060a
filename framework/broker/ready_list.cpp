#include <warren/broker/ready_list.hpp>

#include <algorithm>

namespace warren::broker {

ready_list::ready_list(std::uint8_t max_priority)
    : upper_(max_priority != 0 ? std::make_unique<message_fifo[]>(max_priority) : nullptr),
      max_priority_(max_priority) {}

void ready_list::added(std::size_t level, const queued_message& qm) noexcept {
    ++size_;
    bytes_ += qm.msg->body.size();
    top_ = std::max(top_, level);
}

queued_message ready_list::pop_front() {
    auto qm = level(top_).pop_front();
    --size_;
    bytes_ -= qm.msg->body.size();
    while (top_ > 0 && level(top_).empty()) --top_;
    return qm;
}

void ready_list::push_back(queued_message qm) {
    const auto l = level_of(*qm.msg);
    auto& fifo = level(l);
    fifo.push_back(std::move(qm));
    added(l, fifo[fifo.size() - 1]);
}

void ready_list::insert_by_seq(queued_message qm) {
    const auto l = level_of(*qm.msg);
    auto& fifo = level(l);
    // Usually the requeued message is older than everything still ready in its level.
    if (fifo.empty() || qm.seq < fifo.front().seq) {
        fifo.push_front(std::move(qm));
        added(l, fifo.front());
        return;
    }
    // The first message with a larger seq (binary search over the ring).
    std::size_t lo = 0, hi = fifo.size();
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (fifo[mid].seq <= qm.seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    fifo.insert(lo, std::move(qm));
    added(l, fifo[lo]);
}

void ready_list::clear() noexcept {
    for (std::size_t l = 0; l <= max_priority_; ++l) level(l).clear();
    top_ = 0;
    size_ = 0;
    bytes_ = 0;
}

}  // namespace warren::broker
