#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/queue.hpp>

#include <algorithm>

namespace warren::broker {

queue::queue(vhost& vh, std::string name, queue_options options, connection* owner)
    : vhost_(vh),
      name_(std::move(name)),
      options_(std::move(options)),
      owner_(owner),
      limits_(parse_queue_limits(options_.arguments)) {
    if (limits_.expires) last_used_ = vhost_.owner().now();
}

time_point queue::expiry_for(const message& m, time_point published) const noexcept {
    std::int64_t ttl = -1;
    if (limits_.message_ttl) ttl = *limits_.message_ttl;
    if (m.expiration_ms >= 0 && (ttl < 0 || m.expiration_ms < ttl)) ttl = m.expiration_ms;
    if (ttl < 0) return never;
    return published + std::chrono::milliseconds(ttl);
}

void queue::push_ready(queued_message qm) {
    ready_bytes_ += qm.msg->body.size();
    ready_.push_back(std::move(qm));
}

queued_message queue::pop_ready() {
    auto qm = std::move(ready_.front());
    ready_.pop_front();
    ready_bytes_ -= qm.msg->body.size();
    return qm;
}

bool queue::would_overflow(const message& m) const noexcept {
    if (limits_.max_length && ready_.size() + 1 > *limits_.max_length) return true;
    return limits_.max_length_bytes && ready_bytes_ + m.body.size() > *limits_.max_length_bytes;
}

bool queue::enqueue(message_ptr msg, time_point now) {
    if (deleted_) return true;
    if (limits_.has_length_limit() && limits_.overflow != overflow_mode::drop_head &&
        would_overflow(*msg)) {
        forget_stored(*msg);  // the publish recorded it for this queue already
        if (limits_.overflow == overflow_mode::reject_publish_dlx) dead_letter(msg, death_reason::maxlen);
        return false;
    }
    time_point expires = never;
    if (limits_.message_ttl || msg->expiration_ms >= 0) {
        if (now == never) now = vhost_.owner().now();
        expires = expiry_for(*msg, now);
    }
    push_ready(queued_message{std::move(msg), next_seq_++, false, expires});
    // Dispatch judges expiry at the publish time: a TTL-0 message goes to an idle consumer.
    dispatch_now_ = now;
    dispatch();
    dispatch_now_ = never;
    if (expires != never && !deleted_) {
        // TTL 0 (or a clock that moved on): what no consumer took at once expires now.
        expire_head(now);
        arm();
    }
    if (limits_.has_length_limit()) enforce_limits();
    return true;
}

void queue::requeue(std::vector<queued_message> items) {
    if (deleted_ || items.empty()) return;
    std::sort(items.begin(), items.end(),
              [](const queued_message& a, const queued_message& b) { return a.seq < b.seq; });
    bool timed = false;
    // Usually every requeued message is older than everything ready: prepend in reverse.
    if (ready_.empty() || items.back().seq < ready_.front().seq) {
        for (auto it = items.rbegin(); it != items.rend(); ++it) {
            it->redelivered = true;
            timed = timed || it->expires != never;
            ready_bytes_ += it->msg->body.size();
            ready_.push_front(std::move(*it));
        }
    } else {
        for (auto& item : items) {
            item.redelivered = true;
            timed = timed || item.expires != never;
            ready_bytes_ += item.msg->body.size();
            auto pos = std::upper_bound(
                ready_.begin(), ready_.end(), item.seq,
                [](std::uint64_t s, const queued_message& m) { return s < m.seq; });
            ready_.insert(pos, std::move(item));
        }
    }
    // A requeued message whose TTL has passed expires at once (it is at the head).
    if (timed) {
        expire_head(vhost_.owner().now());
        arm();
    }
    // Requeues are never refused; drop-head trims from the head, where they went.
    if (limits_.has_length_limit() && limits_.overflow == overflow_mode::drop_head) enforce_limits();
    dispatch();
}

void queue::recover(message_ptr msg, bool redelivered, std::int64_t published_ms) {
    time_point expires = never;
    if (limits_.message_ttl || msg->expiration_ms >= 0) {
        auto& b = vhost_.owner();
        const auto now = b.now();
        auto age = published_ms > 0 ? std::max<std::int64_t>(0, b.wall_ms() - published_ms) : 0;
        expires = expiry_for(*msg, now - std::chrono::milliseconds(age));
    }
    push_ready(queued_message{std::move(msg), next_seq_++, redelivered, expires});
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
    while (!ready_.empty() && ((limits_.max_length && ready_.size() > *limits_.max_length) ||
                               (limits_.max_length_bytes && ready_bytes_ > *limits_.max_length_bytes))) {
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
            for (const auto& qm : ready_) {
                if (qm.msg->id != 0) store->removed(store_id_, qm.msg->id);
            }
        }
    }
    ready_.clear();
    ready_bytes_ = 0;
    return n;
}

void queue::add_consumer(consumer& c) {
    consumers_.push_back(&c);
    if (c.exclusive) exclusive_consumer_ = true;
    touch();
}

bool queue::remove_consumer(consumer& c) {
    auto it = std::find(consumers_.begin(), consumers_.end(), &c);
    if (it == consumers_.end()) return false;
    auto idx = static_cast<std::size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (idx < rr_next_) --rr_next_;
    if (c.exclusive) exclusive_consumer_ = false;
    touch();
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
        if (ready_.front().expires != never) {
            // Expired messages are never delivered: drop them, then choose again.
            const auto before = ready_.size();
            expire_head(dispatch_now_ != never ? dispatch_now_ : vhost_.owner().now(), true);
            if (deleted_) break;
            if (ready_.size() != before) continue;
        }
        chosen->ch->deliver(*chosen, pop_ready());
        if (deleted_) break;
    }
    dispatching_ = false;
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
    auto keep = shared_from_this();
    expire_head(now);
    if (deleted_) return never;
    if (limits_.expires && consumers_.empty() && last_used_ != never &&
        now >= last_used_ + std::chrono::milliseconds(*limits_.expires)) {
        vhost_.delete_queue(*this);
        return never;
    }
    return next_deadline();
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
