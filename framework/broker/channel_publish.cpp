// channel: basic.publish (routing, mandatory returns, direct reply-to), confirm.* and tx.*.
#include "arguments.hpp"
#include "routing_keys.hpp"

#include <warren/broker/broker.hpp>
#include <warren/broker/channel.hpp>
#include <warren/broker/connection.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace warren::broker {

namespace {
const std::optional<protocol::field_table> no_headers;

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
                                                          m.exchange + "' in vhost '" + vh.name() +
                                                          "'");
    }
    if (!msg->no_properties()) {  // (not reading the properties of a message without any)
        const auto& uid = msg->properties.user_id;
        if (uid && *uid != conn_.user()) {
            return make_error(reply_code::precondition_failed,
                              "user_id property set to '" + *uid +
                                  "' but authenticated user was '" + conn_.user() + "'");
        }
        if (msg->properties.expiration) {
            auto ms = detail::parse_expiration(*msg->properties.expiration);
            if (!ms) return ms.error();
            msg->expiration_ms = *ms;
        }
        if (auto r = set_fast_reply_to(*msg); !r) return r;
        strip_bcc(*msg);
    }
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
        m.routing_key.size() > reply_to_queue.size() &&
        m.routing_key[reply_to_queue.size()] == '.') {
        publish_reply(m, msg);
        if (confirm_) confirm(seq, false);
        return {};
    }
    // The vhost's scratch space: nothing re-enters a publish while it is in use (deliveries and
    // dead letters are queued as events, never handled inside this call).
    auto& scratch = vh.publish_scratch();
    auto& targets = scratch.targets;
    auto& extra_keys = scratch.keys;
    extra_keys.clear();
    const auto& headers = msg->no_properties() ? no_headers : msg->properties.headers;
    detail::for_each_header_key(headers ? &*headers : nullptr, "CC",
                                [&](const std::string& k) { extra_keys.push_back(k); });
    for (const auto& k : msg->bcc) extra_keys.push_back(k);
    vh.route(*x, m.routing_key, headers ? &*headers : nullptr, targets, extra_keys);
    bool stored = false;
    bool refused = false;
    bool nack_requeue = false;
    if (targets.empty()) {
        if (m.mandatory) conn_.post<events::returned>(id_, reply_code::no_route, "NO_ROUTE", msg);
    } else {
        if (msg->id != 0) {
            auto& ids = scratch.store_ids;
            ids.clear();
            for (auto* q : targets) {
                if (q->store_id() != 0) ids.push_back(q->store_id());
            }
            if (!ids.empty()) {
                store()->enqueued(*msg, ids);
                stored = true;
                stored_in_commit_ = true;
            }
        }
        // enqueue() never deletes a queue, so the routed pointers stay valid.
        for (auto* q : targets) {
            if (!q->enqueue(msg)) {
                refused = true;
                nack_requeue = nack_requeue || q->nacks_with_requeue();
            }
            if (q->ready_count() != 0) q->feed_flow(conn_.flow());
        }
    }
    if (refused) refused_in_commit_ = true;
    if (confirm_) confirm(seq, stored, !refused, nack_requeue);
    return {};
}

void channel::confirm(std::uint64_t seq, bool wait_for_store, bool ack, bool requeue) {
    auto& pending = confirms_->pending;
    if (!wait_for_store) {
        if (pending.empty()) {
            conn_.post<events::confirm>(id_, seq, false, ack, requeue);
        } else {
            pending.push_back(pending_confirm{seq, true, ack, requeue});
        }
        return;
    }
    pending.push_back(pending_confirm{seq, false, ack, requeue});
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
        conn_.post<events::confirm>(id_, p.seq, false, p.ack, p.requeue);
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

result<void> channel::tx_commit() {
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
        conn_.post<events::tx_committed>(id_);
        return {};
    }
    std::weak_ptr<confirm_queue> alive = confirms_;
    store()->when_durable([alive, this] {
        if (alive.lock()) conn_.post<events::tx_committed>(id_);  // else the channel closed first
    });
    return {};
}

result<void> channel::tx_rollback() {
    if (!tx_) return make_error(reply_code::precondition_failed, "channel is not transactional");
    tx_ops_.clear();
    return {};
}

}  // namespace warren::broker
