// channel: basic.*, confirm.*, tx.*, and the unacked ledger.
#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>

#include "arguments.hpp"
#include "routing_keys.hpp"

#include <algorithm>

namespace warren::broker {

namespace {
amqp_error unknown_tag(std::uint64_t tag) {
    return make_error(reply_code::precondition_failed, "unknown delivery tag " + std::to_string(tag));
}

// BCC keys route the message but are not delivered: move them out of the headers.
void strip_bcc(message& msg) {
    auto& headers = msg.properties.headers;
    if (!headers || !headers->find("BCC")) return;
    detail::for_each_header_key(&*headers, "BCC",
                                [&](const std::string& k) { msg.bcc.push_back(k); });
    std::erase_if(headers->entries, [](const protocol::field_entry& e) { return e.name == "BCC"; });
    msg.encoded_properties.clear();
    protocol::encode_properties(msg.properties, msg.encoded_properties);
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
    // RabbitMQ 3.10: 406 with class/method 0/0; unacked messages are requeued at once.
    auto& sink = conn_.sink();
    sink.on_channel_error(*this, reply_code::precondition_failed,
                          "PRECONDITION_FAILED - delivery acknowledgement on channel " +
                              std::to_string(id_) + " timed out. Timeout value used: " +
                              std::to_string(timeout.count()) +
                              " ms. This timeout value can be configured, see consumers doc guide to "
                              "learn more");
    return never;  // `this` may be gone
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
    std::string tag = m.consumer_tag.empty() ? conn_.host().generate_name("amq.ctag") : m.consumer_tag;
    for (const auto& c : consumers_) {
        if (c->tag == tag) {
            return make_error(reply_code::not_allowed, "attempt to reuse consumer tag '" + tag + "'");
        }
    }
    if (reply_consumer_ && reply_consumer_->tag == tag) {
        return make_error(reply_code::not_allowed, "attempt to reuse consumer tag '" + tag + "'");
    }
    auto priority = consumer_priority(m.arguments, (*q)->name());
    if (!priority) return priority.error();
    if ((*q)->has_exclusive_consumer() || (m.exclusive && (*q)->consumer_count() > 0)) {
        return make_error(reply_code::access_refused,
                          "queue '" + (*q)->name() + "' in vhost '" + conn_.host().name() +
                              "' in exclusive use");
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
    consumers_.push_back(std::move(c));
    return tag;
}

void channel::start_consumer(const std::string& tag) {
    if (reply_consumer_ && reply_consumer_->tag == tag) {
        reply_consumer_->active = true;
        return;
    }
    for (const auto& c : consumers_) {
        if (c->tag == tag) {
            c->active = true;
            c->q->dispatch();
            return;
        }
    }
}

void channel::cancel(const std::string& tag) {
    if (cancel_reply_to(tag)) return;
    for (const auto& c : consumers_) {
        if (c->tag == tag) {
            remove_consumer(*c, false);
            return;
        }
    }
}

void channel::consumer_gone(consumer& c) { remove_consumer(c, true); }

void channel::remove_consumer(consumer& c, bool notify) {
    auto q = c.q;
    bool last_auto_delete = q->remove_consumer(c);
    for (auto& e : unacked_) {
        if (e.c == &c) e.c = nullptr;
    }
    std::string tag = c.tag;
    std::erase_if(consumers_, [&](const std::unique_ptr<consumer>& p) { return p.get() == &c; });
    if (notify) conn_.sink().on_consumer_cancelled(*this, tag);
    if (last_auto_delete && !q->deleted()) conn_.host().delete_queue(*q);
}

bool channel::has_credit_for(const consumer& c) const noexcept {
    if (!c.active || closed_) return false;
    if (!conn_.sink().writable()) return false;
    if (c.no_ack) return true;
    if (c.prefetch != 0 && c.unacked >= c.prefetch) return false;
    if (prefetch_global_ != 0 && global_unacked_ >= prefetch_global_) return false;
    return true;
}

void channel::deliver(consumer& c, queued_message qm) {
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
        conn_.sink().on_deliver_shared(*this, c, tag, qm.redelivered, qm.msg);
        return;
    }
    ++c.unacked;
    ++global_unacked_;
    ++live_unacked_;
    unacked_.push_back(unacked_entry{tag, c.q, std::move(qm), &c, true, false});
    note_unacked();
    const auto& e = unacked_.back();
    conn_.sink().on_deliver_shared(*this, c, tag, e.qm.redelivered, e.qm.msg);
}

result<std::optional<get_result>> channel::get(const protocol::basic_get& m) {
    auto q = find_queue_for_use(m.queue);
    if (!q) return q.error();
    (*q)->touch();
    auto qm = (*q)->pop();
    if (!qm) return std::optional<get_result>{};
    get_result g{next_delivery_tag_++, qm->redelivered,
                 static_cast<std::uint32_t>((*q)->ready_count()), qm->msg};
    if (const auto qid = (*q)->store_id(); qid != 0 && qm->msg->id != 0) {
        if (m.no_ack) {
            store()->removed(qid, qm->msg->id);
        } else {
            store()->delivered(qid, qm->msg->id);
        }
    }
    if (!m.no_ack) {
        ++live_unacked_;
        unacked_.push_back(unacked_entry{g.delivery_tag, *q, std::move(*qm), nullptr, false, false});
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
    auto one = [&](unacked_entry& e) {
        std::vector<queued_message>* out = nullptr;
        if (!ack && requeue) {
            if (back.empty() || back.back().first != e.q) back.emplace_back(e.q, std::vector<queued_message>{});
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
    kick_consumers();
    return {};
}

void channel::trim_settled() {
    while (!unacked_.empty() && unacked_.front().settled) unacked_.pop_front();
}

void channel::requeue_all() {
    std::vector<std::pair<std::shared_ptr<queue>, std::vector<queued_message>>> back;
    for (auto& e : unacked_) {
        if (e.settled) continue;
        auto it = std::find_if(back.begin(), back.end(), [&](const auto& p) { return p.first == e.q; });
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

result<void> channel::publish(const protocol::basic_publish& m, std::shared_ptr<message> msg) {
    if (m.immediate) return make_error(reply_code::not_implemented, "immediate=true");
    auto& vh = conn_.host();
    auto* x = vh.find_exchange(m.exchange);
    if (!x) {
        return make_error(reply_code::not_found,
                          "no exchange '" + m.exchange + "' in vhost '" + vh.name() + "'");
    }
    if (x->options().internal) {
        return make_error(reply_code::access_refused, "cannot publish to internal exchange '" +
                                                          m.exchange + "' in vhost '" + vh.name() + "'");
    }
    const auto& uid = msg->properties.user_id;
    if (uid && *uid != conn_.user()) {
        return make_error(reply_code::precondition_failed, "user_id property set to '" + *uid +
                                                               "' but authenticated user was '" +
                                                               conn_.user() + "'");
    }
    if (msg->properties.expiration) {
        auto ms = detail::parse_expiration(*msg->properties.expiration);
        if (!ms) return ms.error();
        msg->expiration_ms = *ms;
    }
    if (auto r = set_fast_reply_to(*msg); !r) return r;
    strip_bcc(*msg);
    if (msg->persistent() && store()) {
        msg->id = conn_.host().owner().next_message_id();
        msg->published_ms = conn_.host().owner().wall_ms();
    }
    if (tx_) {
        tx_ops_.emplace_back(tx_publish{m, std::move(msg)});
        return {};
    }
    return do_publish(m, msg);
}

result<void> channel::do_publish(const protocol::basic_publish& m, const message_ptr& msg) {
    auto& vh = conn_.host();
    auto* x = vh.find_exchange(m.exchange);
    if (!x) {  // deleted between a tx publish and its commit
        return make_error(reply_code::not_found,
                          "no exchange '" + m.exchange + "' in vhost '" + vh.name() + "'");
    }
    std::uint64_t seq = confirm_ ? ++publish_seq_ : 0;
    if (x->is_default() && m.routing_key.starts_with(reply_to_queue) &&
        m.routing_key.size() > reply_to_queue.size() && m.routing_key[reply_to_queue.size()] == '.') {
        publish_reply(m, msg);
        if (confirm_) confirm(seq, false);
        return {};
    }
    thread_local std::vector<queue*> targets;
    thread_local std::vector<std::string_view> extra_keys;
    extra_keys.clear();
    const auto& headers = msg->properties.headers;
    detail::for_each_header_key(headers ? &*headers : nullptr, "CC",
                                [&](const std::string& k) { extra_keys.push_back(k); });
    for (const auto& k : msg->bcc) extra_keys.push_back(k);
    vh.route(*x, m.routing_key, headers ? &*headers : nullptr, targets, extra_keys);
    bool stored = false;
    bool refused = false;
    if (targets.empty()) {
        if (m.mandatory) conn_.sink().on_return(*this, reply_code::no_route, "NO_ROUTE", *msg);
    } else {
        // enqueue may dispatch and re-enter route(); iterate over a copy of the small list.
        std::vector<queue*> local(targets.begin(), targets.end());
        if (msg->id != 0) {
            thread_local std::vector<store_queue_id> ids;
            ids.clear();
            for (auto* q : local) {
                if (q->store_id() != 0) ids.push_back(q->store_id());
            }
            if (!ids.empty()) {
                store()->enqueued(*msg, ids);
                stored = true;
                stored_in_commit_ = true;
            }
        }
        for (auto* q : local) {
            if (!q->enqueue(msg)) refused = true;
            if (q->ready_count() > connection::flow_high_water && q->consumer_count() != 0 && !q->deleted()) {
                conn_.note_backlog(q->shared_from_this());
            }
        }
    }
    if (refused) refused_in_commit_ = true;
    if (confirm_) confirm(seq, stored, !refused);
    return {};
}

void channel::confirm(std::uint64_t seq, bool wait_for_store, bool ack) {
    auto& pending = confirms_->pending;
    if (!wait_for_store) {
        if (pending.empty()) {
            conn_.sink().on_confirm(*this, seq, false, ack);
        } else {
            pending.push_back(pending_confirm{seq, true, ack});
        }
        return;
    }
    pending.push_back(pending_confirm{seq, false, ack});
    std::weak_ptr<confirm_queue> weak = confirms_;
    store()->when_durable([weak, this, seq] {
        auto q = weak.lock();
        if (!q) return;  // the channel closed meanwhile
        for (auto& p : q->pending) {
            if (p.seq == seq) {
                p.ready = true;
                break;
            }
        }
        release_confirms();
    });
}

void channel::release_confirms() {
    auto& pending = confirms_->pending;
    while (!pending.empty() && pending.front().ready) {
        auto p = pending.front();
        pending.pop_front();
        conn_.sink().on_confirm(*this, p.seq, false, p.ack);
    }
}

result<void> channel::confirm_select() {
    if (tx_) {
        return make_error(reply_code::precondition_failed, "cannot switch from tx to confirm mode");
    }
    confirm_ = true;
    return {};
}

result<void> channel::tx_select() {
    if (confirm_) {
        return make_error(reply_code::precondition_failed, "cannot switch from confirm to tx mode");
    }
    tx_ = true;
    return {};
}

result<void> channel::tx_commit(std::function<void()> done) {
    if (!tx_) return make_error(reply_code::precondition_failed, "channel is not transactional");
    auto ops = std::move(tx_ops_);
    tx_ops_.clear();
    stored_in_commit_ = false;
    refused_in_commit_ = false;
    for (auto& op : ops) {
        result<void> r;
        if (auto* p = std::get_if<tx_publish>(&op)) {
            r = do_publish(p->m, p->msg);
        } else {
            auto& s = std::get<tx_settle>(op);
            r = settle(s.tag, s.multiple, s.ack, s.requeue);
        }
        if (!r) return r;
    }
    if (refused_in_commit_) {
        // RabbitMQ 3.10: what was accepted stays; the commit itself fails.
        return make_error(reply_code::precondition_failed, "partial tx completion");
    }
    if (!stored_in_commit_) {
        done();
        return {};
    }
    std::weak_ptr<confirm_queue> alive = confirms_;
    store()->when_durable([alive, done = std::move(done)] {
        if (alive.lock()) done();
    });
    return {};
}

result<void> channel::tx_rollback() {
    if (!tx_) return make_error(reply_code::precondition_failed, "channel is not transactional");
    tx_ops_.clear();
    return {};
}

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
