#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>

namespace warren::broker {

namespace {

// x-max-priority, validated at declare (0..255); a recovered definition is clamped the same way.
std::uint8_t max_priority_argument(const protocol::field_table& args) {
    const auto* v = args.find("x-max-priority");
    auto n = v ? v->as_integer() : std::nullopt;
    if (!n || *n <= 0) return 0;
    return static_cast<std::uint8_t>(std::min<std::int64_t>(*n, 255));
}

bool single_active_argument(const protocol::field_table& args) {
    const auto* v = args.find("x-single-active-consumer");
    const auto* b = v ? v->get_if<bool>() : nullptr;
    return b && *b;
}

}  // namespace

queue::queue(vhost& vh, std::string name, queue_options options, connection* owner)
    : vhost_(vh),
      name_(std::move(name)),
      options_(std::move(options)),
      owner_(owner),
      single_active_(single_active_argument(options_.arguments)),
      ready_(max_priority_argument(options_.arguments)) {}

void queue::enqueue(message_ptr msg) {
    if (deleted_) return;
    ready_.push_back(queued_message{std::move(msg), next_seq_++, false});
    dispatch();
}

void queue::requeue(std::vector<queued_message> items) {
    if (deleted_ || items.empty()) return;
    std::sort(items.begin(), items.end(),
              [](const queued_message& a, const queued_message& b) { return a.seq < b.seq; });
    // Newest first: each one usually goes in front of its level, which is O(1).
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        it->redelivered = true;
        ready_.insert_by_seq(std::move(*it));
    }
    dispatch();
}

void queue::recover(message_ptr msg, bool redelivered) {
    ready_.push_back(queued_message{std::move(msg), next_seq_++, redelivered});
}

std::optional<queued_message> queue::pop() {
    if (ready_.empty()) return std::nullopt;
    return ready_.pop_front();
}

std::uint32_t queue::purge() {
    auto n = static_cast<std::uint32_t>(ready_.size());
    if (store_id_ != 0 && !deleted_) {
        if (auto* store = vhost_.owner().store()) {
            ready_.for_each([&](const queued_message& qm) {
                if (qm.msg->id != 0) store->removed(store_id_, qm.msg->id);
            });
        }
    }
    ready_.clear();
    return n;
}

void queue::add_consumer(consumer& c) {
    // Keep consumers_ ordered by priority (highest first), registration order within one;
    // single-active-consumer queues ignore x-priority and keep registration order only.
    auto pos = consumers_.end();
    if (!single_active_) {
        pos = std::find_if(consumers_.begin(), consumers_.end(),
                           [&](const consumer* o) { return o->priority < c.priority; });
    }
    auto idx = static_cast<std::size_t>(pos - consumers_.begin());
    consumers_.insert(pos, &c);
    if (idx < rr_next_) ++rr_next_;
    note_priorities();
    if (c.exclusive) exclusive_consumer_ = true;
}

bool queue::remove_consumer(consumer& c) {
    auto it = std::find(consumers_.begin(), consumers_.end(), &c);
    if (it == consumers_.end()) return false;
    auto idx = static_cast<std::size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (idx < rr_next_) --rr_next_;
    note_priorities();
    if (c.exclusive) exclusive_consumer_ = false;
    // The next single active consumer takes over at once (RabbitMQ does not wait for the
    // cancelled one's unacked messages).
    if (single_active_ && idx == 0) dispatch();
    return options_.auto_delete && consumers_.empty();
}

bool queue::can_take(const consumer& c) const noexcept { return c.ch->has_credit_for(c); }

void queue::note_priorities() noexcept {
    mixed_priorities_ = !single_active_ && !consumers_.empty() &&
                        consumers_.front()->priority != consumers_.back()->priority;
}

consumer* queue::select_consumer() {
    const std::size_t n = consumers_.size();
    if (n == 0) return nullptr;
    if (single_active_) return can_take(*consumers_.front()) ? consumers_.front() : nullptr;
    // Groups of equal priority, highest first: the first group with a consumer that has
    // credit wins; within it, round-robin from rr_next_ (an index into consumers_).
    std::size_t begin = 0;
    while (begin < n) {
        const auto prio = consumers_[begin]->priority;
        std::size_t end = mixed_priorities_ ? begin + 1 : n;  // usually one group: no scan
        while (end < n && consumers_[end]->priority == prio) ++end;
        const std::size_t len = end - begin;
        const std::size_t start = (rr_next_ >= begin && rr_next_ < end) ? rr_next_ - begin : 0;
        for (std::size_t i = 0; i < len; ++i) {
            const std::size_t idx = begin + (start + i) % len;
            if (can_take(*consumers_[idx])) {
                rr_next_ = idx + 1 < end ? idx + 1 : begin;
                return consumers_[idx];
            }
        }
        begin = end;
    }
    return nullptr;
}

void queue::dispatch() {
    // A delivery can re-enter (e.g. a sink that settles synchronously); the outer loop continues.
    if (dispatching_ || deleted_) return;
    dispatching_ = true;
    while (!ready_.empty()) {
        consumer* chosen = select_consumer();
        if (!chosen) break;
        chosen->ch->deliver(*chosen, ready_.pop_front());
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
