// The channel's reader side: replies, content assembly, deliveries, confirms, returns, close.
#include "channel_impl.hpp"
#include "detail/string_pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace warren::detail {

namespace p = protocol;
using p::reply_code;

namespace {
std::uint32_t key_of(const p::method& m) {
    return std::uint32_t{p::class_id_of(m)} << 16 | p::method_id_of(m);
}
}  // namespace

channel_impl::channel_impl(std::shared_ptr<connection_impl> conn, channel_options options)
    : conn_(std::move(conn)),
      options_(options),
      confirms_changed_(conn_->executor()),
      returns_changed_(conn_->executor()) {
    waiters_ = &asio::use_service<waiter_registry>(
        asio::query(conn_->executor(), asio::execution::context));
}

channel_impl::~channel_impl() {
    if (state_ == state::closed || id_ == 0) return;
    conn_->orphan_channel(id_, state_ == state::closing);
}

void channel_impl::check_usable(bool allow_opening) const {
    if (state_ == state::open || (allow_opening && state_ == state::opening)) return;
    if (error_) std::rethrow_exception(error_);
    conn_->check_open();
    throw channel_error(reply_code::success, "channel " + std::to_string(id_) + " is closing");
}

bool channel_impl::on_frame(const p::frame_view& f) {
    if (state_ == state::closed) return true;
    switch (f.type) {
        case p::frame_type::method: {
            if (incoming_) return false;
            // basic.deliver, the common case: decoded into strings from the thread's pool.
            if (auto ids = p::peek_method_id(f.payload);
                ids && ids->first == p::basic_deliver::class_id_v &&
                ids->second == p::basic_deliver::method_id_v) {
                p::basic_deliver d{.consumer_tag = take_string(pooled::name),
                                   .exchange = take_string(pooled::name),
                                   .routing_key = take_string(pooled::name)};
                if (p::decode_into(f.payload, d)) {
                    incoming_.emplace(incoming{.method = std::move(d)});
                    return true;
                }
            }
            auto m = p::decode_method(f.payload);
            if (!m) return false;
            return on_method(*m);
        }
        case p::frame_type::header: {
            if (!incoming_ || incoming_->have_header) return false;
            auto h = p::decode_content_header(f.payload);
            if (!h) return false;
            incoming_->have_header = true;
            incoming_->body_size = h->body_size;
            incoming_->properties = std::move(h->properties);
            if (h->body_size != 0 && h->body_size <= pooled_max_capacity)
                incoming_->body = take_string(pooled::body);
            incoming_->body.reserve(h->body_size);
            return h->body_size != 0 || on_content_complete();
        }
        case p::frame_type::body: {
            if (!incoming_ || !incoming_->have_header) return false;
            incoming_->body.append(f.payload);
            if (incoming_->body.size() > incoming_->body_size) return false;
            return incoming_->body.size() != incoming_->body_size || on_content_complete();
        }
        case p::frame_type::heartbeat:
            return false;
    }
    return false;
}

bool channel_impl::on_method(p::method& m) {
    if (std::holds_alternative<p::basic_deliver>(m) || std::holds_alternative<p::basic_get_ok>(m) ||
        std::holds_alternative<p::basic_return>(m)) {
        incoming_.emplace(incoming{.method = std::move(m)});
        return true;
    }
    if (auto* ack = std::get_if<p::basic_ack>(&m)) {
        on_confirm(ack->delivery_tag, ack->multiple, true);
    } else if (auto* nack = std::get_if<p::basic_nack>(&m)) {
        on_confirm(nack->delivery_tag, nack->multiple, false);
    } else if (auto* cancel = std::get_if<p::basic_cancel>(&m)) {
        on_server_cancel(*cancel);
    } else if (auto* close = std::get_if<p::channel_close>(&m)) {
        conn_->send(id_, p::channel_close_ok{});
        fail(std::make_exception_ptr(
            channel_error(static_cast<reply_code>(close->reply_code), close->reply_text)));
    } else if (auto* flow = std::get_if<p::channel_flow>(&m)) {
        conn_->send(id_, p::channel_flow_ok{.active = flow->active});
    } else {
        return on_reply(m);
    }
    return true;
}

bool channel_impl::on_reply(p::method& m) {
    if (auto* ok = std::get_if<p::basic_consume_ok>(&m)) {
        if (auto it = consumers_.find(ok->consumer_tag); it != consumers_.end()) {
            auto st = it->second;
            st->active = true;
            if (st->abandoned) {
                st->abandoned = false;  // let abandon_consumer send the cancel
                abandon_consumer(st);
            }
        }
    } else if (auto* cok = std::get_if<p::basic_cancel_ok>(&m)) {
        if (auto it = consumers_.find(cok->consumer_tag); it != consumers_.end()) {
            end_consumer(it->second, nullptr);
            forget_consumer(it);
        }
    } else if (std::holds_alternative<p::channel_open_ok>(m)) {
        if (state_ == state::opening) state_ = state::open;
    }
    const bool close_ok = std::holds_alternative<p::channel_close_ok>(m);
    if (!complete_front(std::move(m), std::nullopt)) return false;
    if (close_ok) closed_by_client();
    return true;
}

bool channel_impl::complete_front(p::method&& m, std::optional<delivery> content) {
    // Replies of one kind arrive in request order, but RabbitMQ answers some requests from the
    // queue process (basic.cancel-ok, basic.consume-ok), after replies sent later by the channel
    // itself: match the oldest call that expects this reply, not simply the oldest call.
    const auto k = key_of(m);
    auto it = std::find_if(calls_.begin(), calls_.end(),
                           [k](const auto& s) { return s->expect == k || s->expect_alt == k; });
    if (it == calls_.end()) return false;
    auto slot = *it;
    calls_.erase(it);
    if (content) {
        // basic.get-ok: a no_ack get, or one whose caller went away (nacked below), needs no
        // settling.
        ledger_.received(content->delivery_tag(), !slot->requeue_on_abandon || slot->abandoned);
    }
    slot->reply = std::move(m);
    slot->content = std::move(content);
    slot->done = true;
    if (slot->abandoned) {
        on_abandoned_reply(*slot);
    } else {
        slot->done_signal.notify();
    }
    return true;
}

bool channel_impl::on_content_complete() {
    auto in = std::move(*incoming_);
    incoming_.reset();
    if (auto* d = std::get_if<p::basic_deliver>(&in.method)) {
        deliver(in, *d);
    } else if (auto* g = std::get_if<p::basic_get_ok>(&in.method)) {
        delivery dl;
        dl.exchange_ = g->exchange;
        dl.routing_key_ = g->routing_key;
        dl.delivery_tag_ = g->delivery_tag;
        dl.redelivered_ = g->redelivered;
        dl.message_count_ = g->message_count;
        dl.properties_ = std::move(in.properties);
        dl.body_ = std::move(in.body);
        return complete_front(std::move(in.method), std::move(dl));
    } else if (auto* r = std::get_if<p::basic_return>(&in.method)) {
        returned_message rm{.code = static_cast<reply_code>(r->reply_code),
                            .reply_text = r->reply_text,
                            .exchange = r->exchange,
                            .routing_key = r->routing_key,
                            .properties = std::move(in.properties),
                            .body = std::move(in.body)};
        if (return_handler_) {
            return_handler_(std::move(rm));
        } else {
            returns_.push_back(std::move(rm));
            returns_changed_.notify();
        }
    }
    return true;
}

void channel_impl::deliver(incoming& in, p::basic_deliver& m) {
    const auto* found = find_consumer(m.consumer_tag);
    if (found == nullptr) {  // cancelled and forgotten: the broker requeues on close
        ledger_.received(m.delivery_tag, true);
        return;
    }
    auto& st = **found;
    ledger_.received(m.delivery_tag, st.no_ack || st.abandoned);
    if (st.abandoned) {
        if (!st.no_ack)
            conn_->send(
                id_,
                p::basic_nack{.delivery_tag = m.delivery_tag, .multiple = false, .requeue = true});
        return;
    }
    delivery dl;  // the decoded method is ours: move its strings, not copy them
    dl.exchange_ = std::move(m.exchange);
    dl.routing_key_ = std::move(m.routing_key);
    dl.consumer_tag_ = std::move(m.consumer_tag);
    dl.delivery_tag_ = m.delivery_tag;
    dl.redelivered_ = m.redelivered;
    dl.properties_ = std::move(in.properties);
    dl.body_ = std::move(in.body);
    const auto& target = st.stream ? st.stream : *found;  // one stream for several queues
    target->buffer.push_back(std::move(dl));
    wake(target);
}

void channel_impl::on_server_cancel(const p::basic_cancel& m) {
    if (auto it = consumers_.find(m.consumer_tag); it != consumers_.end()) {
        end_consumer(it->second, nullptr);
        forget_consumer(it);
    }
    if (!m.nowait) conn_->send(id_, p::basic_cancel_ok{.consumer_tag = m.consumer_tag});
}

void channel_impl::on_confirm(std::uint64_t tag, bool multiple, bool ack) {
    auto settle = [this, ack](confirm_state& c) {
        c.st = ack ? confirm_state::status::acked : confirm_state::status::nacked;
        if (!ack) all_acked_ = false;
        c.done_signal.notify();
    };
    if (multiple) {
        while (!unconfirmed_.empty() && unconfirmed_.front()->sequence <= tag) {
            settle(*unconfirmed_.front());
            unconfirmed_.pop_front();
        }
    } else {
        auto it = std::lower_bound(unconfirmed_.begin(), unconfirmed_.end(), tag,
                                   [](const auto& c, std::uint64_t t) { return c->sequence < t; });
        if (it != unconfirmed_.end() && (*it)->sequence == tag) {
            settle(**it);
            unconfirmed_.erase(it);
        }
    }
    confirms_changed_.notify();
}

void channel_impl::on_abandoned_reply(rpc_slot& slot) {
    // A basic.get whose caller went away: give the message back rather than lose it.
    if (slot.content && slot.requeue_on_abandon && state_ == state::open) {
        conn_->send(id_, p::basic_nack{.delivery_tag = slot.content->delivery_tag(),
                                       .multiple = false,
                                       .requeue = true});
    }
}

void channel_impl::abandon(rpc_slot& slot) {
    if (slot.abandoned) return;
    slot.abandoned = true;
    if (slot.done && !slot.error) on_abandoned_reply(slot);
}

void channel_impl::settle(settle_op op, std::uint64_t tag, bool multiple, bool requeue) {
    check_usable();
    switch (ledger_.settle(tag, multiple)) {
        case settle_ledger::outcome::settled:
            break;
        case settle_ledger::outcome::unknown:
            throw std::logic_error("warren: delivery tag " + std::to_string(tag) +
                                   " is unknown on channel " + std::to_string(id_) +
                                   " (nothing was sent)");
        case settle_ledger::outcome::already_settled:
            throw std::logic_error(
                "warren: delivery " + std::to_string(tag) + " on channel " + std::to_string(id_) +
                " was already settled (by an earlier ack, nack or reject, an earlier "
                "'multiple' one, or automatically: no_ack); nothing was sent");
    }
    switch (op) {
        case settle_op::ack:
            conn_->send(id_, p::basic_ack{.delivery_tag = tag, .multiple = multiple});
            break;
        case settle_op::nack:
            conn_->send(
                id_, p::basic_nack{.delivery_tag = tag, .multiple = multiple, .requeue = requeue});
            break;
        case settle_op::reject:
            conn_->send(id_, p::basic_reject{.delivery_tag = tag, .requeue = requeue});
            break;
    }
}

void channel_impl::on_connection_closed(std::exception_ptr error) { fail(std::move(error)); }

void channel_impl::closed_by_client() {
    fail(std::make_exception_ptr(channel_error(
        reply_code::success, "channel " + std::to_string(id_) + " closed by the client")));
}

void channel_impl::fail(std::exception_ptr error) {
    if (state_ == state::closed) return;
    state_ = state::closed;
    error_ = std::move(error);
    incoming_.reset();
    ledger_.clear();
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& slot : calls) {
        slot->error = error_;
        slot->done = true;
        slot->done_signal.notify();
    }
    for (auto& [tag, st] : consumers_) end_consumer(st, error_);
    consumers_.clear();
    by_number_.clear();
    for (auto& c : unconfirmed_) {
        c->st = confirm_state::status::failed;
        c->error = error_;
        c->done_signal.notify();
    }
    unconfirmed_.clear();
    confirms_changed_.notify();
    returns_changed_.notify();
    conn_->release_channel(id_);
}

}  // namespace warren::detail
