#include "prefetch.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>
#include <cassert>

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
    : single_active_(single_active_argument(options.arguments)),  // `options` is moved below
      ready_(max_priority_argument(options.arguments)),
      limits_(parse_queue_limits(options.arguments)),
      vhost_(vh),
      name_(std::move(name)),
      options_(std::move(options)),
      owner_(owner) {
    // The fields a publish and a delivery read come before limits_, within what
    // detail::prefetch_queue_hot loads.
    assert(reinterpret_cast<const char*>(&limits_) - reinterpret_cast<const char*>(this) <=
           static_cast<std::ptrdiff_t>(detail::queue_hot_prefix));
    length_limited_ = limits_.has_length_limit();
    message_ttl_ = limits_.message_ttl.has_value();
    if (limits_.expires) last_used_ = vhost_.owner().now();
}

time_point queue::expiry_for(const message& m, time_point published) const noexcept {
    std::int64_t ttl = -1;
    if (limits_.message_ttl) ttl = *limits_.message_ttl;
    if (m.expiration_ms >= 0 && (ttl < 0 || m.expiration_ms < ttl)) ttl = m.expiration_ms;
    if (ttl < 0) return never;
    return published + std::chrono::milliseconds(ttl);
}

queue::~queue() {
    if (flow_) flow_->change(flow_counted_, 0);
}

void queue::push_ready(queued_message qm) {
    ready_.push_back(std::move(qm));
    sync_flow();
}

queued_message queue::pop_ready() {
    auto qm = ready_.pop_front();
    sync_flow();
    return qm;
}

bool queue::would_overflow(const message& m) const noexcept {
    if (limits_.quorum) {
        // RabbitMQ 3.10's quorum queues refuse publishes only once they are over the limit
        // (so they hold one message or body more than it).
        return (limits_.max_length && ready_.size() > *limits_.max_length) ||
               (limits_.max_length_bytes && ready_.bytes() > *limits_.max_length_bytes);
    }
    if (limits_.max_length && ready_.size() + 1 > *limits_.max_length) return true;
    return limits_.max_length_bytes && ready_.bytes() + m.body.size() > *limits_.max_length_bytes;
}

bool queue::enqueue(message_ptr msg, time_point now) {
    if (deleted_) return true;
    if (length_limited_ && limits_.overflow != overflow_mode::drop_head && would_overflow(*msg)) {
        forget_stored(*msg);  // the publish recorded it for this queue already
        if (limits_.overflow == overflow_mode::reject_publish_dlx)
            dead_letter(msg, death_reason::maxlen);
        return false;
    }
    time_point expires = never;
    if (message_ttl_ || msg->expiration_ms >= 0) {
        if (now == never) now = vhost_.owner().now();
        expires = expiry_for(*msg, now);
    }
    push_ready(queued_message{std::move(msg), next_seq_++, false, 0, expires});
    // Dispatch judges expiry at the publish time: a TTL-0 message goes to an idle consumer.
    dispatch_now_ = now;
    dispatch();
    dispatch_now_ = never;
    if (expires != never) {
        // TTL 0 (or a clock that moved on): what no consumer took at once expires now.
        expire_head(now);
        arm();
    }
    if (length_limited_ && limits_.overflow == overflow_mode::drop_head) enforce_limits();
    return true;
}

void queue::requeue(std::vector<queued_message> items) {
    if (deleted_ || items.empty()) return;
    bool timed = false;
    if (limits_.quorum) {
        timed = return_quorum(items);
    } else {
        std::sort(items.begin(), items.end(),
                  [](const queued_message& a, const queued_message& b) { return a.seq < b.seq; });
        // Newest first: each one usually goes in front of its level, which is O(1).
        for (auto it = items.rbegin(); it != items.rend(); ++it) {
            it->redelivered = true;
            timed = timed || it->expires != never;
            ready_.insert_by_seq(std::move(*it));
        }
    }
    sync_flow();
    // A requeued message whose TTL has passed expires at once (it is at the head).
    if (timed) {
        expire_head(vhost_.owner().now());
        arm();
    }
    // Requeues are never refused; drop-head trims from the head, where they went.
    if (limits_.has_length_limit() && limits_.overflow == overflow_mode::drop_head)
        enforce_limits();
    dispatch();
}

bool queue::return_quorum(std::vector<queued_message>& items) {
    // RabbitMQ 3.10 (rabbit_fifo): a return counts as a delivery attempt; past x-delivery-limit
    // the message is dead-lettered (delivery_limit) or dropped; the others go to the back of
    // the queue in the order they came back (new sequence numbers keep the list ordered).
    std::vector<message_ptr> dead;
    bool timed = false;
    for (auto& qm : items) {
        ++qm.delivery_count;
        if (limits_.delivery_limit && qm.delivery_count > *limits_.delivery_limit) {
            forget_stored(*qm.msg);
            dead.push_back(std::move(qm.msg));
            continue;
        }
        qm.seq = next_seq_++;
        qm.redelivered = true;
        timed = timed || qm.expires != never;
        ready_.push_back(std::move(qm));
    }
    for (auto& m : dead) dead_letter(m, death_reason::delivery_limit);
    return timed;
}

void queue::recover(message_ptr msg, bool redelivered, std::int64_t published_ms) {
    time_point expires = never;
    if (limits_.message_ttl || msg->expiration_ms >= 0) {
        auto& b = vhost_.owner();
        const auto now = b.now();
        auto age = published_ms > 0 ? std::max<std::int64_t>(0, b.wall_ms() - published_ms) : 0;
        expires = expiry_for(*msg, now - std::chrono::milliseconds(age));
    }
    push_ready(queued_message{std::move(msg), next_seq_++, redelivered, 0, expires});
    if (expires != never) arm();
}

void queue::forget_stored(const message& m) {
    if (m.id == 0 || store_id_ == 0 || deleted_) return;
    if (auto* store = vhost_.owner().store()) store->removed(store_id_, m.id);
}

void queue::expire_head(time_point now, bool strict) {
    auto due = [&] {
        const auto t = ready_.front().expires;
        return strict ? t < now : t <= now;
    };
    if (ready_.empty() || !due()) return;
    std::vector<message_ptr> expired;
    while (!ready_.empty() && due()) {
        auto qm = pop_ready();
        forget_stored(*qm.msg);
        expired.push_back(std::move(qm.msg));
    }
    for (auto& m : expired) dead_letter(m, death_reason::expired);
}

void queue::enforce_limits() {
    std::vector<message_ptr> dropped;
    while (!ready_.empty() &&
           ((limits_.max_length && ready_.size() > *limits_.max_length) ||
            (limits_.max_length_bytes && ready_.bytes() > *limits_.max_length_bytes))) {
        auto qm = pop_ready();
        forget_stored(*qm.msg);
        dropped.push_back(std::move(qm.msg));
    }
    for (auto& m : dropped) dead_letter(m, death_reason::maxlen);
}

std::optional<queued_message> queue::pop() {
    const bool timed = !ready_.empty() && ready_.front().expires != never;
    const auto now = timed ? vhost_.owner().now() : time_point{};
    if (timed) expire_head(now);
    if (ready_.empty()) return std::nullopt;
    auto qm = pop_ready();
    // RabbitMQ drops an expired new head right after the fetch (get-ok counts without it).
    if (!ready_.empty() && ready_.front().expires != never) {
        expire_head(timed ? now : vhost_.owner().now());
        arm();
    }
    return qm;
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
    sync_flow();
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
    sole_ = consumers_.size() == 1 ? consumers_.front() : nullptr;
    stalled_on_ = nullptr;
    if (idx < rr_next_) ++rr_next_;
    note_priorities();
    if (c.exclusive) exclusive_consumer_ = true;
    sync_flow();
    touch();
}

bool queue::remove_consumer(consumer& c) {
    auto it = std::find(consumers_.begin(), consumers_.end(), &c);
    if (it == consumers_.end()) return false;
    auto idx = static_cast<std::size_t>(it - consumers_.begin());
    consumers_.erase(it);
    sole_ = consumers_.size() == 1 ? consumers_.front() : nullptr;
    stalled_on_ = nullptr;
    if (idx < rr_next_) --rr_next_;
    note_priorities();
    if (c.exclusive) exclusive_consumer_ = false;
    sync_flow();
    touch();
    // The next single active consumer takes over at once (RabbitMQ does not wait for the
    // cancelled one's unacked messages).
    if (single_active_ && idx == 0) dispatch();
    return options_.auto_delete && consumers_.empty();
}

bool queue::can_take(consumer& c) const noexcept { return c.ch->has_credit_for(c); }

void queue::note_priorities() noexcept {
    mixed_priorities_ = !single_active_ && !consumers_.empty() &&
                        consumers_.front()->priority != consumers_.back()->priority;
}

consumer* queue::select_consumer() {
    if (sole_ != nullptr) {  // one consumer: the same answer for every policy
        if (!can_take(*sole_)) return nullptr;
        rr_next_ = 0;
        return sole_;
    }
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
    // Nothing in this loop calls out of the broker or into this queue again: a delivery is an
    // event queued on the consumer's connection and an expired message a deferred dead letter.
    if (deleted_) return;
    if (stalled_on_ != nullptr) {
        if (stalled_on_->stall_epoch() == stalled_epoch_) return;
        stalled_on_ = nullptr;
    }
    while (!ready_.empty()) {
        consumer* chosen = select_consumer();
        if (!chosen) break;
        if (ready_.front().expires != never) {
            // Expired messages are never delivered: drop them, then choose again.
            const auto before = ready_.size();
            expire_head(dispatch_now_ != never ? dispatch_now_ : vhost_.owner().now(), true);
            if (ready_.size() != before) continue;
        }
        chosen->ch->deliver(*chosen, pop_ready());
    }
}

void queue::touch() {
    if (!limits_.expires || deleted_) return;
    last_used_ = vhost_.owner().now();
    arm();
}

time_point queue::next_deadline() const noexcept {
    time_point t = never;
    if (!ready_.empty()) t = ready_.front().expires;
    if (limits_.expires && consumers_.empty() && last_used_ != never) {
        t = std::min(t, last_used_ + std::chrono::milliseconds(*limits_.expires));
    }
    return t;
}

void queue::arm() {
    if (deleted_) return;
    auto& b = vhost_.owner();
    if (!timed_) {
        timed_ = true;
        b.add_timed_queue(shared_from_this());
    }
    if (auto t = next_deadline(); t != never) b.schedule(t);
}

time_point queue::tick(time_point now) {
    if (deleted_) return never;
    expire_head(now);
    if (limits_.expires && consumers_.empty() && last_used_ != never &&
        now >= last_used_ + std::chrono::milliseconds(*limits_.expires)) {
        vhost_.delete_queue(*this);
        return never;
    }
    return next_deadline();
}

void queue::note_unbound(exchange& x, std::string_view key) {
    auto it = bound_from_.find(&x);
    if (it == bound_from_.end()) return;
    auto& keys = it->second;
    if (auto k = std::find(keys.begin(), keys.end(), key); k != keys.end()) {
        *k = std::move(keys.back());
        keys.pop_back();
    }
    if (keys.empty()) bound_from_.erase(it);
}

}  // namespace warren::broker
