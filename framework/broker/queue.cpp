#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>

namespace warren::broker {

queue::queue(vhost& vh, std::string name, queue_options options, connection* owner)
    : vhost_(vh), name_(std::move(name)), options_(std::move(options)), owner_(owner) {}

void queue::enqueue(message_ptr msg) {
    if (deleted_) return;
    ready_.push_back(queued_message{std::move(msg), next_seq_++, false});
    dispatch();
}

void queue::requeue(std::vector<queued_message> items) {
    if (deleted_ || items.empty()) return;
    std::sort(items.begin(), items.end(),
              [](const queued_message& a, const queued_message& b) { return a.seq < b.seq; });
    // Usually every requeued message is older than everything ready: prepend in reverse.
    if (ready_.empty() || items.back().seq < ready_.front().seq) {
        for (auto it = items.rbegin(); it != items.rend(); ++it) {
            it->redelivered = true;
            ready_.push_front(std::move(*it));
        }
    } else {
        for (auto& item : items) {
            item.redelivered = true;
            auto pos = std::upper_bound(
                ready_.begin(), ready_.end(), item.seq,
                [](std::uint64_t s, const queued_message& m) { return s < m.seq; });
            ready_.insert(pos, std::move(item));
        }
    }
    dispatch();
}

void queue::recover(message_ptr msg, bool redelivered) {
    ready_.push_back(queued_message{std::move(msg), next_seq_++, redelivered});
}

std::optional<queued_message> queue::pop() {
    if (ready_.empty()) return std::nullopt;
    auto qm = std::move(ready_.front());
    ready_.pop_front();
    return qm;
}

std::uint32_t queue::purge() {
    auto n = static_cast<std::uint32_t>(ready_.size());
    if (store_id_ != 0 && !deleted_) {
        if (auto* store = vhost_.owner().store()) {
            for (const auto& qm : ready_) {
                if (qm.msg->id != 0) store->removed(store_id_, qm.msg->id);
            }
        }
    }
    ready_.clear();
    return n;
}

void queue::add_consumer(consumer& c) {
    consumers_.push_back(&c);
    if (c.exclusive) exclusive_consumer_ = true;
}

bool queue::remove_consumer(consumer& c) {
    auto it = std::find(consumers_.begin(), consumers_.end(), &c);
    if (it == consumers_.end()) return false;
    auto idx = static_cast<std::size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (idx < rr_next_) --rr_next_;
    if (c.exclusive) exclusive_consumer_ = false;
    return options_.auto_delete && consumers_.empty();
}

bool queue::can_take(const consumer& c) const noexcept { return c.ch->has_credit_for(c); }

void queue::dispatch() {
    // A delivery can re-enter (e.g. a sink that settles synchronously); the outer loop continues.
    if (dispatching_ || deleted_) return;
    dispatching_ = true;
    while (!ready_.empty() && !consumers_.empty()) {
        consumer* chosen = nullptr;
        const std::size_t n = consumers_.size();
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t idx = (rr_next_ + i) % n;
            if (can_take(*consumers_[idx])) {
                chosen = consumers_[idx];
                rr_next_ = (idx + 1) % n;
                break;
            }
        }
        if (!chosen) break;
        auto qm = std::move(ready_.front());
        ready_.pop_front();
        chosen->ch->deliver(*chosen, std::move(qm));
        if (deleted_) break;
    }
    dispatching_ = false;
}

void queue::note_unbound(exchange& x) {
    auto it = bound_from_.find(&x);
    if (it != bound_from_.end() && --it->second == 0) bound_from_.erase(it);
}

std::vector<exchange*> queue::bound_exchanges() const {
    std::vector<exchange*> out;
    out.reserve(bound_from_.size());
    for (const auto& [x, n] : bound_from_) out.push_back(x);
    return out;
}

}  // namespace warren::broker
