// session: the output buffer (gather-write splices, flow control), heartbeats, publisher
// confirms and the broker's events.
#include "session_detail.hpp"

#include <warren/broker/broker.hpp>

#include <algorithm>

namespace warren::server {

using protocol::reply_code;

void session::notify() {
    if (notified_ || out_.empty()) return;
    notified_ = true;
    if (on_output_) on_output_();
}

std::size_t session::output::size() const noexcept {
    std::size_t n = bytes.size();
    for (const auto& s : splices) n += s.bytes.size();
    return n;
}

bool session::take_output(output& into) {
    into.clear();
    notified_ = false;
    if (out_.empty()) return false;
    into.bytes.swap(out_);
    into.splices.swap(splices_);
    in_flight_ += into.bytes.size() + spliced_bytes_;
    spliced_bytes_ = 0;
    return true;
}

bool session::take_output(std::string& into) {
    output o;
    into.clear();
    if (!take_output(o)) return false;
    std::size_t pos = 0;
    for (const auto& s : o.splices) {
        into.append(o.bytes, pos, s.at - pos);
        into.append(s.bytes);
        pos = s.at;
    }
    into.append(o.bytes, pos);
    return true;
}

void session::append_body(std::uint16_t channel, const broker::message& m,
                          const broker::message_ptr* keep) {
    if (keep == nullptr || m.body.size() < splice_threshold) {
        protocol::append_body_frames(out_, channel, m.body, frame_max_);
        return;
    }
    // The same frames as append_body_frames, with each payload referenced instead of copied.
    std::string_view body = m.body;
    const std::size_t chunk =
        frame_max_ > protocol::frame_overhead ? frame_max_ - protocol::frame_overhead : body.size();
    while (!body.empty()) {
        const auto n = static_cast<std::uint32_t>(std::min(chunk, body.size()));
        protocol::append_frame_header(out_, protocol::frame_type::body, channel, n);
        splices_.push_back(splice{out_.size(), *keep, body.substr(0, n)});
        spliced_bytes_ += n;
        out_.push_back(static_cast<char>(protocol::frame_end));
        body.remove_prefix(n);
    }
}

void session::output_written(std::size_t n) {
    in_flight_ -= std::min(n, in_flight_);
    if (blocked_ && conn_ && writable(0)) {
        blocked_ = false;
        conn_->resume();
        after_broker();
        notify();
    }
}

bool session::writable(std::size_t queued_bytes) const noexcept {
    if (state_ != state::open) return false;
    if (out_.size() + spliced_bytes_ + in_flight_ + queued_bytes < options_.output_high_water)
        return true;
    blocked_ = true;
    return false;
}

void session::send_heartbeat() {
    if (state_ == state::done) return;
    protocol::append_heartbeat(out_);
    notify();
}

void session::flush_confirms() {
    for (auto id : confirm_dirty_) {
        if (auto* slot = slot_for(id)) flush_confirms(*slot);
    }
    confirm_dirty_.clear();
}

void session::flush_confirms(channel_slot& slot) {
    if (slot.confirm_upto <= slot.confirm_sent) return;
    protocol::basic_ack a;
    a.delivery_tag = slot.confirm_upto;
    a.multiple = slot.confirm_upto - slot.confirm_sent > 1;
    send(slot.id, a);
    slot.confirm_sent = slot.confirm_upto;
}

session::channel_slot* session::slot_for(std::uint16_t id) {
    return id < channels_.size() ? channels_[id].get() : nullptr;
}

// ---- broker events ----

void session::on_events(std::span<broker::event> events) {
    for (auto& e : events) {
        if (!conn_) break;  // the connection was torn down by an earlier event
        std::visit([this](auto& ev) { handle_event(ev); }, e);
    }
    notify();
}

void session::handle_event(broker::events::delivery& e) {
    const auto& m = *e.msg;
    const bool splice_body = m.body.size() >= splice_threshold;
    out_.reserve(out_.size() + 64 + e.c->tag.size() + m.exchange.size() + m.routing_key.size() +
                 m.encoded_properties.size() + (splice_body ? 16 : m.body.size()));
    protocol::append_basic_deliver(out_, e.channel, e.c->tag, e.delivery_tag, e.redelivered,
                                   m.exchange, m.routing_key);
    protocol::append_content_header_raw(out_, e.channel, m.body.size(), m.encoded_properties);
    append_body(e.channel, m, &e.msg);
}

void session::handle_event(broker::events::consumer_cancelled& e) {
    if (!cancel_notify_) return;
    protocol::basic_cancel c;
    c.consumer_tag = std::move(e.consumer_tag);
    c.nowait = true;
    send(e.channel, c);
}

void session::handle_event(broker::events::returned& e) {
    const auto& m = *e.msg;
    protocol::basic_return r;
    r.reply_code = static_cast<std::uint16_t>(e.code);
    r.reply_text = std::move(e.text);
    r.exchange = m.exchange;
    r.routing_key = m.routing_key;
    send(e.channel, r);
    protocol::append_content_header_raw(out_, e.channel, m.body.size(), m.encoded_properties);
    protocol::append_body_frames(out_, e.channel, m.body, frame_max_);
}

void session::handle_event(broker::events::channel_closed& e) {
    // The broker closed the channel itself (consumer_timeout): tell the client and release it.
    auto* slot = slot_for(e.channel);
    if (!slot || slot->st != channel_slot::status::open) return;
    channel_error(*slot, e.code, e.text, 0, 0);
}

void session::handle_event(broker::events::tx_committed& e) {
    send(e.channel, protocol::tx_commit_ok{});
}

void session::handle_event(broker::events::confirm& e) {
    auto* slot = slot_for(e.channel);
    if (!slot) return;
    if (e.ack) {
        if (slot->confirm_upto <= slot->confirm_sent) confirm_dirty_.push_back(slot->id);
        slot->confirm_upto = std::max(slot->confirm_upto, e.delivery_tag);
        // Outside an input batch (a store completion) there is no batch end to wait for.
        if (!in_feed_) flush_confirms();
        return;
    }
    flush_confirms(*slot);
    protocol::basic_nack n;
    n.delivery_tag = e.delivery_tag;
    n.multiple = e.multiple;
    n.requeue = e.requeue;
    send(slot->id, n);
    slot->confirm_sent = std::max(slot->confirm_sent, e.delivery_tag);
    slot->confirm_upto = std::max(slot->confirm_upto, e.delivery_tag);
}

}  // namespace warren::server
