// session: channel frames, content assembly and channel errors.
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
    after_broker();
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
            connection_error(reply_code::channel_error, "CHANNEL_ERROR - expected 'channel.open'",
                             0, 0);
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
        auto open = std::count_if(channels_.begin(), channels_.end(),
                                  [](const auto& c) { return c != nullptr; });
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
        if (std::holds_alternative<protocol::channel_close>(*m))
            send(f.channel, protocol::channel_close_ok{});
        if (std::holds_alternative<protocol::channel_close>(*m) ||
            std::holds_alternative<protocol::channel_close_ok>(*m)) {
            channels_[f.channel].reset();
        }
        return;
    }
    switch (f.type) {
        case protocol::frame_type::method: {
            if (slot->expect != channel_slot::content::none) {
                connection_error(reply_code::unexpected_frame,
                                 slot->expect == channel_slot::content::header
                                     ? "UNEXPECTED_FRAME - expected content header for class 60, "
                                       "got non content header frame instead"
                                     : "UNEXPECTED_FRAME - expected content body, got non content "
                                       "body frame instead",
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
                connection_error(
                    reply_code::unexpected_frame,
                    "UNEXPECTED_FRAME - expected method frame, got non method frame instead", 0, 0);
                return;
            }
            handle_content_header(*slot, f);
            return;
        case protocol::frame_type::body:
            if (slot->expect != channel_slot::content::body) {
                connection_error(
                    reply_code::unexpected_frame,
                    slot->expect == channel_slot::content::header
                        ? "UNEXPECTED_FRAME - expected content header for class 60, got non "
                          "content header frame instead"
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
    const auto v = protocol::peek_content_header(f.payload);
    if (v && v->weight != 0) {
        connection_error(reply_code::unexpected_frame,
                         "UNEXPECTED_FRAME - expected content header for class 60, got non content "
                         "header frame instead",
                         60, 40);
        return;
    }
    auto wrong_class = [&](std::uint16_t class_id) {
        if (class_id == 60) return false;
        connection_error(
            reply_code::unexpected_frame,
            "UNEXPECTED_FRAME - expected content header for class 60, got one for class " +
                std::to_string(class_id) + " instead",
            60, 40);
        return true;
    };
    auto& msg = *slot.msg;
    // The properties as sent are kept verbatim for delivery. A header with no property flags
    // and nothing after them decodes to nothing, so the decoder is skipped (the common case;
    // the message is fresh from acquire_message, its properties empty and best left untouched:
    // on a recycled one they are cold). Anything else is decoded, which reports exact errors.
    if (!v || v->property_flags != 0 || v->encoded_properties.size() != 2) {
        auto h = protocol::decode_content_header(f.payload);
        if (!h) return protocol_error(h.error(), &f);
        if (wrong_class(h->class_id)) return;
        if (v->property_flags != 0) msg.properties = std::move(h->properties);
    } else if (wrong_class(v->class_id)) {
        return;
    }
    // Too large: RabbitMQ reads the whole body, then refuses the message (406 on the channel).
    slot.oversized = v->body_size > broker_.options().max_message_size;
    slot.body_received = 0;
    msg.encoded_properties.assign(v->encoded_properties);
    slot.body_size = v->body_size;
    if (slot.body_size == 0) {
        complete_publish(slot);
        return;
    }
    if (!slot.oversized) {
        broker::reserve_body(
            msg, static_cast<std::size_t>(std::min<std::uint64_t>(slot.body_size, 1u << 20)));
    }
    slot.expect = channel_slot::content::body;
}

void session::handle_content_body(channel_slot& slot, const protocol::frame_view& f) {
    if (slot.body_received + f.payload.size() > slot.body_size) {
        connection_error(reply_code::frame_error,
                         "FRAME_ERROR - content body exceeds the size in its content header", 60,
                         40);
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
    published_in_last_input_ = true;
    auto msg = std::move(slot.msg);
    msg->exchange = slot.publish.exchange;
    msg->routing_key = slot.publish.routing_key;
    auto r = flushed(slot.ch->publish(slot.publish, std::move(msg)));
    if (!r) {
        const auto& e = r.error();
        if (protocol::is_hard_error(e.code)) {
            connection_error(e.code, e.text, 60, 40);
        } else {
            channel_error(slot, e.code, e.text, 60, 40);
        }
    }
}

}  // namespace warren::server
