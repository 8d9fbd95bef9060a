// session: channel frames, content assembly, and the channel-level methods.
#include "session_detail.hpp"

#include <warren/broker/broker.hpp>
#include <warren/common/log.hpp>

#include <algorithm>

namespace warren::server {

using protocol::reply_code;

void session::channel_error(channel_slot& slot, reply_code code, std::string_view text,
                            std::uint16_t class_id, std::uint16_t method_id) {
    log(log_level::warning, "channel error on connection " + peer_ + ", channel " +
                                std::to_string(slot.id) + ": " + std::string(text));
    flush_confirms(slot);
    protocol::channel_close c;
    c.reply_code = static_cast<std::uint16_t>(code);
    c.reply_text = std::string(text.substr(0, 255));
    c.class_id = class_id;
    c.method_id = method_id;
    send(slot.id, c);
    if (conn_) conn_->close_channel(slot.id);
    slot.ch = nullptr;
    slot.st = channel_slot::status::closing;
    slot.expect = channel_slot::content::none;
    slot.msg.reset();
    notify();
}

void session::handle_channel_frame(const protocol::frame_view& f) {
    auto* slot = slot_for(f.channel);
    if (!slot) {
        if (f.type != protocol::frame_type::method) {
            connection_error(reply_code::channel_error, "CHANNEL_ERROR - expected 'channel.open'", 0, 0);
            return;
        }
        auto m = protocol::decode_method(f.payload);
        if (!m) return protocol_error(m.error(), &f);
        if (!std::holds_alternative<protocol::channel_open>(*m)) {
            connection_error(reply_code::channel_error, "CHANNEL_ERROR - expected 'channel.open'",
                             protocol::class_id_of(*m), protocol::method_id_of(*m));
            return;
        }
        // RabbitMQ 3.10 limits how many channels are open, not their numbers.
        auto open = std::count_if(channels_.begin(), channels_.end(), [](const auto& c) { return c != nullptr; });
        if (static_cast<std::size_t>(open) >= channel_max_) {
            connection_error(reply_code::not_allowed,
                             "NOT_ALLOWED - number of channels opened (" + std::to_string(open) +
                                 ") has reached the negotiated channel_max (" +
                                 std::to_string(channel_max_) + ")",
                             20, 10);
            return;
        }
        if (channels_.size() <= f.channel) channels_.resize(std::size_t{f.channel} + 1);
        auto s = std::make_unique<channel_slot>();
        s->id = f.channel;
        s->ch = conn_->open_channel(f.channel);
        channels_[f.channel] = std::move(s);
        send(f.channel, protocol::channel_open_ok{});
        return;
    }
    if (slot->st == channel_slot::status::closing) {
        // We sent channel.close: drop everything until the client's close-ok (or its close).
        if (f.type != protocol::frame_type::method) return;
        auto m = protocol::decode_method(f.payload);
        if (!m) return;
        if (std::holds_alternative<protocol::channel_close>(*m)) send(f.channel, protocol::channel_close_ok{});
        if (std::holds_alternative<protocol::channel_close>(*m) ||
            std::holds_alternative<protocol::channel_close_ok>(*m)) {
            channels_[f.channel].reset();
        }
        return;
    }
    switch (f.type) {
        case protocol::frame_type::method: {
            if (slot->expect != channel_slot::content::none) {
                connection_error(
                    reply_code::unexpected_frame,
                    slot->expect == channel_slot::content::header
                        ? "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead"
                        : "UNEXPECTED_FRAME - expected content body, got non content body frame instead",
                    60, 40);
                return;
            }
            if (handle_hot_method(*slot, f.payload)) return;
            auto m = protocol::decode_method(f.payload);
            if (!m) return protocol_error(m.error(), &f);
            handle_channel_method(*slot, *m);
            return;
        }
        case protocol::frame_type::header:
            if (slot->expect != channel_slot::content::header) {
                connection_error(reply_code::unexpected_frame,
                                 "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
                                 0, 0);
                return;
            }
            handle_content_header(*slot, f);
            return;
        case protocol::frame_type::body:
            if (slot->expect != channel_slot::content::body) {
                connection_error(reply_code::unexpected_frame,
                                 slot->expect == channel_slot::content::header
                                     ? "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead"
                                     : "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
                                 0, 0);
                return;
            }
            handle_content_body(*slot, f);
            return;
        case protocol::frame_type::heartbeat:
            return;
    }
}

void session::handle_content_header(channel_slot& slot, const protocol::frame_view& f) {
    if (f.payload.size() >= 4 && (f.payload[2] != 0 || f.payload[3] != 0)) {  // weight must be 0
        connection_error(reply_code::unexpected_frame,
                         "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead",
                         60, 40);
        return;
    }
    auto h = protocol::decode_content_header(f.payload);
    if (!h) return protocol_error(h.error(), &f);
    if (h->class_id != 60) {
        connection_error(reply_code::unexpected_frame,
                         "UNEXPECTED_FRAME - expected content header for class 60, got one for class " +
                             std::to_string(h->class_id) + " instead",
                         60, 40);
        return;
    }
    // Too large: RabbitMQ reads the whole body, then refuses the message (406 on the channel).
    slot.oversized = h->body_size > broker_.options().max_message_size;
    slot.body_received = 0;
    auto& msg = *slot.msg;
    // class(2) weight(2) body size(8), then the properties as sent: kept verbatim for delivery.
    // The message is fresh (acquire_message: empty properties), so a header without property
    // flags leaves its properties alone (not touching them saves cache misses on a recycled one).
    const auto props = f.payload.substr(12);
    if (props.size() < 2 || props[0] != 0 || props[1] != 0) msg.properties = std::move(h->properties);
    msg.encoded_properties.assign(props);
    slot.body_size = h->body_size;
    if (slot.body_size == 0) {
        complete_publish(slot);
        return;
    }
    if (!slot.oversized) {
        broker::reserve_body(msg, static_cast<std::size_t>(std::min<std::uint64_t>(slot.body_size, 1u << 20)));
    }
    slot.expect = channel_slot::content::body;
}

void session::handle_content_body(channel_slot& slot, const protocol::frame_view& f) {
    if (slot.body_received + f.payload.size() > slot.body_size) {
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - content body exceeds the size in its content header", 60, 40);
        return;
    }
    slot.body_received += f.payload.size();
    if (!slot.oversized) slot.msg->body.append(f.payload.data(), f.payload.size());
    if (slot.body_received < slot.body_size) return;
    if (slot.oversized) {
        slot.expect = channel_slot::content::none;
        channel_error(slot, reply_code::precondition_failed,
                      "PRECONDITION_FAILED - message size " + std::to_string(slot.body_size) +
                          " is larger than configured max size " +
                          std::to_string(broker_.options().max_message_size),
                      60, 40);
        return;
    }
    complete_publish(slot);
}

void session::complete_publish(channel_slot& slot) {
    slot.expect = channel_slot::content::none;
    auto msg = std::move(slot.msg);
    msg->exchange = slot.publish.exchange;
    msg->routing_key = slot.publish.routing_key;
    auto r = slot.ch->publish(slot.publish, std::move(msg));
    if (!r) {
        const auto& e = r.error();
        if (protocol::is_hard_error(e.code)) {
            connection_error(e.code, e.text, 60, 40);
        } else {
            channel_error(slot, e.code, e.text, 60, 40);
        }
    }
}

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
        s.send(slot.id, protocol::channel_close_ok{});
        s.channels_[slot.id].reset();  // `slot` is gone now
    }
    void operator()(const protocol::channel_close_ok&) { unimplemented<protocol::channel_close_ok>(); }
    void operator()(const protocol::channel_flow& m) {
        auto r = ch.flow(m.active);
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
        reply_unless_nowait(m, ch.exchange_declare(m), protocol::exchange_declare_ok{});
    }
    void operator()(const protocol::exchange_delete& m) {
        reply_unless_nowait(m, ch.exchange_delete(m), protocol::exchange_delete_ok{});
    }
    void operator()(const protocol::exchange_bind& m) {
        reply_unless_nowait(m, ch.exchange_bind(m), protocol::exchange_bind_ok{});
    }
    void operator()(const protocol::exchange_unbind& m) {
        reply_unless_nowait(m, ch.exchange_unbind(m), protocol::exchange_unbind_ok{});
    }
    void operator()(const protocol::queue_declare& m) {
        auto r = ch.queue_declare(m);
        if (!r) return fail<protocol::queue_declare>(r.error());
        if (!m.nowait) s.send(slot.id, *r);
    }
    void operator()(const protocol::queue_bind& m) {
        reply_unless_nowait(m, ch.queue_bind(m), protocol::queue_bind_ok{});
    }
    void operator()(const protocol::queue_unbind& m) {
        auto r = ch.queue_unbind(m);
        if (!r) return fail<protocol::queue_unbind>(r.error());
        s.send(slot.id, protocol::queue_unbind_ok{});
    }
    void operator()(const protocol::queue_purge& m) {
        auto r = ch.queue_purge(m);
        if (!r) return fail<protocol::queue_purge>(r.error());
        protocol::queue_purge_ok ok;
        ok.message_count = *r;
        if (!m.nowait) s.send(slot.id, ok);
    }
    void operator()(const protocol::queue_delete& m) {
        auto r = ch.queue_delete(m);
        if (!r) return fail<protocol::queue_delete>(r.error());
        protocol::queue_delete_ok ok;
        ok.message_count = *r;
        if (!m.nowait) s.send(slot.id, ok);
    }
    void operator()(const protocol::basic_qos& m) {
        auto r = ch.qos(m);
        if (!r) return fail<protocol::basic_qos>(r.error());
        s.send(slot.id, protocol::basic_qos_ok{});
    }
    void operator()(const protocol::basic_consume& m) {
        auto r = ch.consume(m);
        if (!r) return fail<protocol::basic_consume>(r.error());
        if (!m.nowait) {
            protocol::basic_consume_ok ok;
            ok.consumer_tag = *r;
            s.send(slot.id, ok);
        }
        ch.start_consumer(*r);
    }
    void operator()(const protocol::basic_cancel& m) {
        ch.cancel(m.consumer_tag);
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
        auto r = ch.get(m);
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
        protocol::append_content_header_raw(s.out_, slot.id, g.msg->body.size(), g.msg->encoded_properties);
        s.append_body(slot.id, *g.msg, &g.msg);
    }
    void operator()(const protocol::basic_ack& m) {
        if (auto r = ch.ack(m.delivery_tag, m.multiple); !r) fail<protocol::basic_ack>(r.error());
    }
    void operator()(const protocol::basic_nack& m) {
        if (auto r = ch.nack(m.delivery_tag, m.multiple, m.requeue); !r) {
            fail<protocol::basic_nack>(r.error());
        }
    }
    void operator()(const protocol::basic_reject& m) {
        if (auto r = ch.reject(m.delivery_tag, m.requeue); !r) fail<protocol::basic_reject>(r.error());
    }
    void operator()(const protocol::basic_recover_async& m) {
        if (auto r = ch.recover(m.requeue); !r) fail<protocol::basic_recover_async>(r.error());
    }
    void operator()(const protocol::basic_recover& m) {
        auto r = ch.recover(m.requeue);
        if (!r) return fail<protocol::basic_recover>(r.error());
        s.send(slot.id, protocol::basic_recover_ok{});
    }
    void operator()(const protocol::confirm_select& m) {
        reply_unless_nowait(m, ch.confirm_select(), protocol::confirm_select_ok{});
    }
    void operator()(const protocol::tx_select&) { simple<protocol::tx_select>(ch.tx_select(), protocol::tx_select_ok{}); }
    void operator()(const protocol::tx_commit&) {
        s.flush_confirms(slot);
        // commit-ok waits until the committed persistent messages are durable. The callback
        // only runs while the channel (hence this session) exists.
        session* self = &s;
        std::uint16_t id = slot.id;
        auto r = ch.tx_commit([self, id] {
            self->send(id, protocol::tx_commit_ok{});
            self->notify();
        });
        if (!r) fail<protocol::tx_commit>(r.error());
    }
    void operator()(const protocol::tx_rollback&) {
        simple<protocol::tx_rollback>(ch.tx_rollback(), protocol::tx_rollback_ok{});
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
    if (payload.size() < 4 || payload[0] != 0 || payload[1] != 60 || payload[2] != 0) return false;
    if (payload[3] == 40) {
        if (!protocol::decode_into(payload, slot.publish)) return false;
        channel_methods{*this, slot, *slot.ch}.start_publish();
        return true;
    }
    if (payload[3] == 80) {
        protocol::basic_ack a;
        if (!protocol::decode_into(payload, a)) return false;
        channel_methods{*this, slot, *slot.ch}(a);
        return true;
    }
    return false;
}

}  // namespace warren::server
