// channel: basic.consume/get/ack/nack/reject/recover/qos, delivery and the unacked ledger.
// basic.publish, confirm.* and tx.* are in channel_publish.cpp.
#include "arguments.hpp"
#include "delivery_count.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>

#include <algorithm>

namespace warren::broker {

namespace {
amqp_error unknown_tag(std::uint64_t tag) {
    return make_error(reply_code::precondition_failed,
                      "unknown delivery tag " + std::to_string(tag));
}
}  // namespace

channel::channel(connection& conn, std::uint16_t id) : conn_(conn), id_(id) {
    auto& b = conn_.host().owner();
    if (b.options().consumer_timeout.count() > 0) b.add_timed_channel(this);
}

channel::~channel() {
    close();
    auto& b = conn_.host().owner();
    b.remove_timed_channel(this);
    b.deadline_gone();
}

void channel::note_unacked() {
    auto& b = conn_.host().owner();
    const auto timeout = b.options().consumer_timeout;
    if (timeout.count() <= 0) return;
    auto& e = unacked_.back();
    e.at = b.now();
    // The oldest unacked delivery decides; a new one is the oldest only if it is alone.
    if (live_unacked_ == 1) b.schedule(e.at + timeout);
}

time_point channel::tick(time_point now) {
    const auto timeout = conn_.host().owner().options().consumer_timeout;
    if (timeout.count() <= 0 || closed_ || live_unacked_ == 0) return never;
    trim_settled();
    if (unacked_.empty()) return never;
    const auto deadline = unacked_.front().at + timeout;
    if (now < deadline) return deadline;
    // RabbitMQ 3.10: 406 with class/method 0/0; unacked messages are requeued at once. The
    // channel closes itself now; the client's session sends channel.close and releases it once
    // the event is handed out, after this call.
    close();
    conn_.post<events::channel_closed>(
        id_, reply_code::precondition_failed,
        "PRECONDITION_FAILED - delivery acknowledgement on channel " + std::to_string(id_) +
            " timed out. Timeout value used: " + std::to_string(timeout.count()) +
            " ms. This timeout value can be configured, see consumers "
            "doc guide to learn more");
    return never;
}

result<void> channel::qos(const protocol::basic_qos& m) {
    if (m.prefetch_size != 0) {
        return make_error(reply_code::not_implemented,
                          "prefetch_size!=0 (" + std::to_string(m.prefetch_size) + ")");
    }
    // RabbitMQ 3.10: global=false limits each consumer created afterwards; global=true the channel.
    if (m.global) {
        prefetch_global_ = m.prefetch_count;
    } else {
        prefetch_consumer_ = m.prefetch_count;
    }
    kick_consumers();
    return {};
}

result<std::string> channel::consume(const protocol::basic_consume& m) {
    if (m.queue == reply_to_queue) return consume_reply_to(m);
    auto q = find_queue_for_use(m.queue);
    if (!q) return q.error();
    if ((*q)->quorum() && prefetch_global_ != 0) {
        return make_error(reply_code::not_implemented, "queue '" + (*q)->name() + "' in vhost '" +
                                                           conn_.host().name() +
                                                           "' does not support global qos");
    }
    std::string tag =
        m.consumer_tag.empty() ? conn_.host().generate_name("amq.ctag") : m.consumer_tag;
    if (by_tag_.contains(tag) || (reply_consumer_ && reply_consumer_->tag == tag)) {
        return make_error(reply_code::not_allowed, "attempt to reuse consumer tag '" + tag + "'");
    }
    auto priority = consumer_priority(m.arguments, (*q)->name());
    if (!priority) return priority.error();
    if ((*q)->has_exclusive_consumer() || (m.exclusive && (*q)->consumer_count() > 0)) {
        return make_error(
            reply_code::access_refused,
            "queue '" + (*q)->name() + "' in vhost '" + conn_.host().name() + "' in exclusive use");
    }
    auto c = std::make_unique<consumer>();
    c->tag = tag;
    c->ch = this;
    c->q = *q;
    c->no_ack = m.no_ack;
    c->exclusive = m.exclusive;
    c->prefetch = prefetch_consumer_;
    c->priority = *priority;
    c->arguments = m.arguments;
    (*q)->add_consumer(*c);
    by_tag_.emplace(tag, c.get());
    consumers_.push_back(std::move(c));
    return tag;
}

void channel::start_consumer(const std::string& tag) {
    if (reply_consumer_ && reply_consumer_->tag == tag) {
        reply_consumer_->active = true;
        return;
    }
    if (auto it = by_tag_.find(tag); it != by_tag_.end()) {
        it->second->active = true;
        it->second->q->dispatch();
    }
}

void channel::cancel(const std::string& tag) {
    if (cancel_reply_to(tag)) return;
    if (auto it = by_tag_.find(tag); it != by_tag_.end()) remove_consumer(*it->second, false);
}

void channel::consumer_gone(consumer& c) { remove_consumer(c, true); }

void channel::remove_consumer(consumer& c, bool notify) {
    auto q = c.q;
    bool last_auto_delete = q->remove_consumer(c);
    for (auto& e : unacked_) {
        if (e.c == &c) e.c = nullptr;
    }
    by_tag_.erase(c.tag);
    if (notify) conn_.post<events::consumer_cancelled>(id_, c.tag);
    // From the back: close() removes the newest first. The consumer is kept until the events
    // naming it have been handed out.
    if (auto it = std::find_if(consumers_.rbegin(), consumers_.rend(),
                               [&](const std::unique_ptr<consumer>& p) { return p.get() == &c; });
        it != consumers_.rend()) {
        auto owned = std::move(*it);
        consumers_.erase(std::next(it).base());
        conn_.retire(std::move(owned));
    }
    if (last_auto_delete && !q->deleted()) conn_.host().delete_queue(*q);
}

bool channel::has_credit_for(consumer& c) const noexcept {
    if (!c.active || closed_) return false;
    if (!conn_.writable()) {
        conn_.note_stalled(c);
        return false;
    }
    if (c.no_ack) return true;
    if (c.prefetch != 0 && c.unacked >= c.prefetch) return false;
    if (prefetch_global_ != 0 && global_unacked_ >= prefetch_global_) return false;
    return true;
}

void channel::deliver(consumer& c, queued_message qm) {
    // A message returned to a quorum queue carries x-delivery-count (0 in classic queues).
    if (qm.delivery_count != 0) return deliver_counted(c, std::move(qm));
    const std::uint64_t tag = next_delivery_tag_++;
    const auto qid = c.q->store_id();
    if (qid != 0 && qm.msg->id != 0) {
        if (c.no_ack) {
            store()->removed(qid, qm.msg->id);
        } else {
            store()->delivered(qid, qm.msg->id);
        }
    }
    if (c.no_ack) {
        conn_.post_delivery(id_, c, tag, qm.redelivered, std::move(qm.msg));
        return;
    }
    ++c.unacked;
    ++global_unacked_;
    ++live_unacked_;
    const bool redelivered = qm.redelivered;
    conn_.post_delivery(id_, c, tag, redelivered, qm.msg);
    unacked_.push_back(unacked_entry{tag, c.q, std::move(qm), &c, true, false});
    note_unacked();
}

void channel::deliver_counted(consumer& c, queued_message qm) {
    const std::uint64_t tag = next_delivery_tag_++;
    const auto qid = c.q->store_id();
    if (qid != 0 && qm.msg->id != 0) {
        if (c.no_ack) {
            store()->removed(qid, qm.msg->id);
        } else {
            store()->delivered(qid, qm.msg->id);
        }
    }
    auto wire = detail::with_delivery_count(*qm.msg, qm.delivery_count);
    conn_.post_delivery(id_, c, tag, qm.redelivered, std::move(wire));
    if (c.no_ack) return;
    ++c.unacked;
    ++global_unacked_;
    ++live_unacked_;
    unacked_.push_back(unacked_entry{tag, c.q, std::move(qm), &c, true, false});
    note_unacked();
}

result<std::optional<get_result>> channel::get(const protocol::basic_get& m) {
    auto q = find_queue_for_use(m.queue);
    if (!q) return q.error();
    (*q)->touch();
    auto qm = (*q)->pop();
    if (!qm) return std::optional<get_result>{};
    get_result g{next_delivery_tag_++, qm->redelivered,
                 static_cast<std::uint32_t>((*q)->ready_count()), qm->msg};
    // RabbitMQ 3.10 adds x-delivery-count to every basic.get from a quorum queue (0 at first).
    const bool quorum = (*q)->quorum();
    if (quorum) g.msg = detail::with_delivery_count(*qm->msg, qm->delivery_count);
    if (const auto qid = (*q)->store_id(); qid != 0 && qm->msg->id != 0) {
        if (m.no_ack) {
            store()->removed(qid, qm->msg->id);
        } else {
            store()->delivered(qid, qm->msg->id);
        }
    }
    if (!m.no_ack) {
        ++live_unacked_;
        unacked_.push_back(
            unacked_entry{g.delivery_tag, *q, std::move(*qm), nullptr, false, false, quorum});
        if (quorum) (*q)->get_unsettled();
        note_unacked();
    }
    return std::optional<get_result>{std::move(g)};
}

channel::unacked_entry* channel::find_unacked(std::uint64_t tag) {
    auto it = std::lower_bound(unacked_.begin(), unacked_.end(), tag,
                               [](const unacked_entry& e, std::uint64_t t) { return e.tag < t; });
    if (it == unacked_.end() || it->tag != tag || it->settled) return nullptr;
    return &*it;
}

result<void> channel::ack(std::uint64_t tag, bool multiple) {
    if (tx_) {
        if (!(multiple && tag == 0) && !find_unacked(tag)) return unknown_tag(tag);
        tx_ops_.emplace_back(tx_settle{tag, multiple, true, false});
        return {};
    }
    return settle(tag, multiple, true, false);
}

result<void> channel::nack(std::uint64_t tag, bool multiple, bool requeue) {
    if (tx_) {
        if (!(multiple && tag == 0) && !find_unacked(tag)) return unknown_tag(tag);
        tx_ops_.emplace_back(tx_settle{tag, multiple, false, requeue});
        return {};
    }
    return settle(tag, multiple, false, requeue);
}

result<void> channel::reject(std::uint64_t tag, bool requeue) { return nack(tag, false, requeue); }

void channel::settle_entry(unacked_entry& e, bool ack, bool requeue,
                           std::vector<queued_message>* requeue_out, dead_letters* dead_out) {
    e.settled = true;
    if (e.quorum_get) e.q->get_settled();
    --live_unacked_;
    if (e.c) --e.c->unacked;
    if (e.counted) --global_unacked_;
    if (!ack && requeue && requeue_out) {
        requeue_out->push_back(std::move(e.qm));
    } else {
        if (e.qm.msg && e.qm.msg->id != 0 && e.q->store_id() != 0 && !e.q->deleted()) {
            store()->removed(e.q->store_id(), e.qm.msg->id);
        }
        if (!ack && dead_out && e.qm.msg && e.q->limits().dead_letter_exchange) {
            dead_out->emplace_back(e.q, std::move(e.qm.msg));
        }
    }
    e.qm.msg.reset();
}

result<void> channel::settle(std::uint64_t tag, bool multiple, bool ack, bool requeue) {
    std::uint64_t upto = tag;
    if (multiple && tag == 0) {
        if (live_unacked_ == 0) return {};
        upto = unacked_.back().tag;
    } else if (!find_unacked(tag)) {
        return unknown_tag(tag);
    }
    // Requeued messages go back per queue; keep runs of the same queue together.
    std::vector<std::pair<std::shared_ptr<queue>, std::vector<queued_message>>> back;
    dead_letters dead;
    // The queues whose consumers got credit back: usually one.
    std::shared_ptr<queue> freed;
    bool freed_many = false;
    auto one = [&](unacked_entry& e) {
        if (e.c) {
            if (!freed) {
                freed = e.q;
            } else if (freed != e.q) {
                freed_many = true;
            }
        }
        std::vector<queued_message>* out = nullptr;
        if (!ack && requeue) {
            if (back.empty() || back.back().first != e.q)
                back.emplace_back(e.q, std::vector<queued_message>{});
            out = &back.back().second;
        }
        settle_entry(e, ack, requeue, out, &dead);
    };
    if (multiple) {
        for (auto& e : unacked_) {
            if (e.tag > upto) break;
            if (!e.settled) one(e);
        }
    } else {
        one(*find_unacked(tag));
    }
    trim_settled();
    for (auto& [q, items] : back) q->requeue(std::move(items));
    // In delivery order, after the ledger walk (dead-lettering may deliver to this channel).
    for (auto& [q, msg] : dead) q->dead_letter(msg, death_reason::rejected);
    // A plain ack frees credit only on its own consumer: dispatch its queue, not every queue
    // this channel consumes from (O(consumers) per ack with thousands of consumers). A global
    // prefetch, requeues and dead-lettering may concern every consumer: kick them all.
    if (prefetch_global_ != 0 || freed_many || !back.empty() || !dead.empty()) {
        kick_consumers();
    } else if (freed && !closed_) {
        freed->dispatch();
    }
    return {};
}

void channel::trim_settled() {
    while (!unacked_.empty() && unacked_.front().settled) unacked_.pop_front();
}

void channel::requeue_all() {
    std::vector<std::pair<std::shared_ptr<queue>, std::vector<queued_message>>> back;
    for (auto& e : unacked_) {
        if (e.settled) continue;
        auto it =
            std::find_if(back.begin(), back.end(), [&](const auto& p) { return p.first == e.q; });
        if (it == back.end()) {
            back.emplace_back(e.q, std::vector<queued_message>{});
            it = back.end() - 1;
        }
        settle_entry(e, false, true, &it->second);
    }
    unacked_.clear();
    for (auto& [q, items] : back) q->requeue(std::move(items));
}

result<void> channel::recover(bool requeue) {
    if (!requeue) return make_error(reply_code::not_implemented, "requeue=false");
    requeue_all();
    kick_consumers();
    return {};
}

persistence* channel::store() const noexcept { return conn_.host().owner().store(); }

result<void> channel::flow(bool active) {
    if (!active) return make_error(reply_code::not_implemented, "active=false");
    return {};
}

void channel::kick_consumers() {
    if (closed_) return;
    for (std::size_t i = 0; i < consumers_.size(); ++i) consumers_[i]->q->dispatch();
}

void channel::close() {
    if (closed_) return;
    closed_ = true;
    if (reply_consumer_) cancel_reply_to(std::string(reply_consumer_->tag));
    while (!consumers_.empty()) remove_consumer(*consumers_.back(), false);
    requeue_all();
    tx_ops_.clear();
}

}  // namespace warren::broker
