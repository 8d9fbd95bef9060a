#include <warren/broker/ready_list.hpp>

#include <algorithm>

namespace warren::broker {

ready_list::ready_list(std::uint8_t max_priority) : levels_(std::size_t{max_priority} + 1) {}

void ready_list::added(std::size_t level, const queued_message& qm) noexcept {
    ++size_;
    bytes_ += qm.msg->body.size();
    top_ = std::max(top_, level);
}

queued_message ready_list::pop_front() {
    auto& level = levels_[top_];
    auto qm = std::move(level.front());
    level.pop_front();
    --size_;
    bytes_ -= qm.msg->body.size();
    while (top_ > 0 && levels_[top_].empty()) --top_;
    return qm;
}

void ready_list::push_back(queued_message qm) {
    const auto l = level_of(*qm.msg);
    added(l, qm);
    levels_[l].push_back(std::move(qm));
}

void ready_list::insert_by_seq(queued_message qm) {
    const auto l = level_of(*qm.msg);
    added(l, qm);
    auto& level = levels_[l];
    // Usually the requeued message is older than everything still ready in its level.
    if (level.empty() || qm.seq < level.front().seq) {
        level.push_front(std::move(qm));
        return;
    }
    auto pos = std::upper_bound(level.begin(), level.end(), qm.seq,
                                [](std::uint64_t s, const queued_message& m) { return s < m.seq; });
    level.insert(pos, std::move(qm));
}

void ready_list::clear() noexcept {
    for (auto& level : levels_) level.clear();
    top_ = 0;
    size_ = 0;
    bytes_ = 0;
}

}  // namespace warren::broker
