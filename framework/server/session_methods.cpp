// session: one decoded method of an open channel, handed to the broker, and its reply.
#include "session_detail.hpp"

#include <warren/broker/broker.hpp>

namespace warren::server {

using protocol::reply_code;

/// Dispatches one decoded method of an open channel to the broker and writes the reply.
struct channel_methods {
    session& s;
    session::channel_slot& slot;
    broker::channel& ch;

    template <class M>
    void fail(const broker::amqp_error& e) {
        if (e.code == reply_code::internal_error) {
            // RabbitMQ's channel process crashed: no class/method in the close.
            s.connection_error(e.code, e.text, 0, 0);
        } else if (protocol::is_hard_error(e.code)) {
            s.connection_error(e.code, e.text, M::class_id_v, M::method_id_v);
        } else {
            s.channel_error(slot, e.code, e.text, M::class_id_v, M::method_id_v);
        }
    }
    template <class M, class Reply>
    void reply_unless_nowait(const M& m, const broker::result<void>& r, const Reply& ok) {
        if (!r) return fail<M>(r.error());
        if (!m.nowait) s.send(slot.id, ok);
    }

    void operator()(const protocol::channel_open& m) {
        (void)m;
        s.connection_error(reply_code::channel_error, "CHANNEL_ERROR - second 'channel.open' seen",
                           20, 10);
    }
    void operator()(const protocol::channel_close&) {
        s.flush_confirms(slot);
        s.conn_->close_channel(slot.id);
        s.after_broker();
        s.send(slot.id, protocol::channel_close_ok{});
        s.channels_[slot.id].reset();  // `slot` is gone now
    }
    void operator()(const protocol::channel_close_ok&) {
        unimplemented<protocol::channel_close_ok>();
    }
    void operator()(const protocol::channel_flow& m) {
        auto r = s.flushed(ch.flow(m.active));
        if (!r) return fail<protocol::channel_flow>(r.error());
        protocol::channel_flow_ok ok;
        ok.active = m.active;
        s.send(slot.id, ok);
    }
    void operator()(const protocol::channel_flow_ok&) {}
    void operator()(const protocol::access_request&) {
        protocol::access_request_ok ok;
        ok.ticket = 1;
        s.send(slot.id, ok);
    }
    void operator()(const protocol::exchange_declare& m) {
        reply_unless_nowait(m, s.flushed(ch.exchange_declare(m)), protocol::exchange_declare_ok{});
    }
    void operator()(const protocol::exchange_delete& m) {
        reply_unless_nowait(m, s.flushed(ch.exchange_delete(m)), protocol::exchange_delete_ok{});
    }
    void operator()(const protocol::exchange_bind& m) {
        reply_unless_nowait(m, s.flushed(ch.exchange_bind(m)), protocol::exchange_bind_ok{});
    }
    void operator()(const protocol::exchange_unbind& m) {
        reply_unless_nowait(m, s.flushed(ch.exchange_unbind(m)), protocol::exchange_unbind_ok{});
    }
    void operator()(const protocol::queue_declare& m) {
        auto r = s.flushed(ch.queue_declare(m));
        if (!r) return fail<protocol::queue_declare>(r.error());
        if (!m.nowait) s.send(slot.id, *r);
    }
    void operator()(const protocol::queue_bind& m) {
        reply_unless_nowait(m, s.flushed(ch.queue_bind(m)), protocol::queue_bind_ok{});
    }
    void operator()(const protocol::queue_unbind& m) {
        auto r = s.flushed(ch.queue_unbind(m));
        if (!r) return fail<protocol::queue_unbind>(r.error());
        s.send(slot.id, protocol::queue_unbind_ok{});
    }
    void operator()(const protocol::queue_purge& m) {
        auto r = s.flushed(ch.queue_purge(m));
        if (!r) return fail<protocol::queue_purge>(r.error());
        protocol::queue_purge_ok ok;
        ok.message_count = *r;
        if (!m.nowait) s.send(slot.id, ok);
    }
    void operator()(const protocol::queue_delete& m) {
        auto r = s.flushed(ch.queue_delete(m));
        if (!r) return fail<protocol::queue_delete>(r.error());
        protocol::queue_delete_ok ok;
        ok.message_count = *r;
        if (!m.nowait) s.send(slot.id, ok);
    }
    void operator()(const protocol::basic_qos& m) {
        auto r = s.flushed(ch.qos(m));
        if (!r) return fail<protocol::basic_qos>(r.error());
        s.send(slot.id, protocol::basic_qos_ok{});
    }
    void operator()(const protocol::basic_consume& m) {
        auto r = s.flushed(ch.consume(m));
        if (!r) return fail<protocol::basic_consume>(r.error());
        if (!m.nowait) {
            protocol::basic_consume_ok ok;
            ok.consumer_tag = *r;
            s.send(slot.id, ok);
        }
        ch.start_consumer(*r);
        s.after_broker();
    }
    void operator()(const protocol::basic_cancel& m) {
        ch.cancel(m.consumer_tag);
        s.after_broker();
        if (!m.nowait) {
            protocol::basic_cancel_ok ok;
            ok.consumer_tag = m.consumer_tag;
            s.send(slot.id, ok);
        }
    }
    void operator()(const protocol::basic_publish& m) {
        slot.publish = m;
        start_publish();
    }
    /// slot.publish holds the method: wait for its content.
    void start_publish() {
        slot.msg = broker::acquire_message();
        slot.body_size = 0;
        slot.expect = session::channel_slot::content::header;
    }
    void operator()(const protocol::basic_get& m) {
        auto r = s.flushed(ch.get(m));
        if (!r) return fail<protocol::basic_get>(r.error());
        if (!*r) {
            s.send(slot.id, protocol::basic_get_empty{});
            return;
        }
        const auto& g = **r;
        protocol::basic_get_ok ok;
        ok.delivery_tag = g.delivery_tag;
        ok.redelivered = g.redelivered;
        ok.exchange = g.msg->exchange;
        ok.routing_key = g.msg->routing_key;
        ok.message_count = g.message_count;
        s.send(slot.id, ok);
        protocol::append_content_header_raw(s.out_, slot.id, g.msg->body.size(),
                                            g.msg->encoded_properties);
        s.append_body(slot.id, *g.msg, &g.msg);
    }
    void operator()(const protocol::basic_ack& m) {
        if (auto r = s.flushed(ch.ack(m.delivery_tag, m.multiple)); !r)
            fail<protocol::basic_ack>(r.error());
    }
    void operator()(const protocol::basic_nack& m) {
        if (auto r = s.flushed(ch.nack(m.delivery_tag, m.multiple, m.requeue)); !r) {
            fail<protocol::basic_nack>(r.error());
        }
    }
    void operator()(const protocol::basic_reject& m) {
        if (auto r = s.flushed(ch.reject(m.delivery_tag, m.requeue)); !r)
            fail<protocol::basic_reject>(r.error());
    }
    void operator()(const protocol::basic_recover_async& m) {
        if (auto r = s.flushed(ch.recover(m.requeue)); !r)
            fail<protocol::basic_recover_async>(r.error());
    }
    void operator()(const protocol::basic_recover& m) {
        auto r = s.flushed(ch.recover(m.requeue));
        if (!r) return fail<protocol::basic_recover>(r.error());
        s.send(slot.id, protocol::basic_recover_ok{});
    }
    void operator()(const protocol::confirm_select& m) {
        reply_unless_nowait(m, s.flushed(ch.confirm_select()), protocol::confirm_select_ok{});
    }
    void operator()(const protocol::tx_select&) {
        simple<protocol::tx_select>(s.flushed(ch.tx_select()), protocol::tx_select_ok{});
    }
    void operator()(const protocol::tx_commit&) {
        s.flush_confirms(slot);
        // commit-ok is the event tx_committed, raised once the committed persistent messages
        // are durable.
        if (auto r = s.flushed(ch.tx_commit()); !r) fail<protocol::tx_commit>(r.error());
    }
    void operator()(const protocol::tx_rollback&) {
        simple<protocol::tx_rollback>(s.flushed(ch.tx_rollback()), protocol::tx_rollback_ok{});
    }
    template <class M, class Reply>
    void simple(const broker::result<void>& r, const Reply& ok) {
        if (!r) return fail<M>(r.error());
        s.send(slot.id, ok);
    }
    /// Methods a client must not send on a channel (server-to-client methods, connection.*).
    template <class M>
    void operator()(const M&) {
        unimplemented<M>();
    }
    template <class M>
    void unimplemented() {
        s.connection_error(reply_code::command_invalid, "COMMAND_INVALID - unimplemented method",
                           M::class_id_v, M::method_id_v);
    }
};

void session::handle_channel_method(channel_slot& slot, protocol::method& m) {
    std::visit(channel_methods{*this, slot, *slot.ch}, m);
}

bool session::handle_hot_method(channel_slot& slot, std::string_view payload) {
    // basic.publish and basic.ack decoded in place, without the method variant and its
    // allocations; anything unusual goes the general way (which reports exact errors).
    if (protocol::decode_into(payload, slot.publish)) {
        channel_methods{*this, slot, *slot.ch}.start_publish();
        return true;
    }
    if (protocol::basic_ack a; protocol::decode_into(payload, a)) {
        channel_methods{*this, slot, *slot.ch}(a);
        return true;
    }
    return false;
}

}  // namespace warren::server
