// The channel's caller side: waiting for replies, consumers, confirms.
#include "channel_impl.hpp"

#include <stdexcept>

namespace warren::detail {

namespace p = protocol;

asio::awaitable<p::method> channel_impl::await_reply(std::shared_ptr<channel_impl> self,
                                                     std::shared_ptr<rpc_slot> slot) {
    // Always suspends at least once (the reply cannot have arrived yet), so a value is never
    // handed out after a race() was decided (see suspend_then_check).
    while (!slot->done) {
        try {
            co_await slot->done_signal.wait();
        } catch (const boost::system::system_error&) {
            self->abandon(*slot);
            throw;
        }
    }
    if (slot->error) std::rethrow_exception(slot->error);
    co_return std::move(*slot->reply);
}

std::string channel_impl::next_consumer_tag() {
    return "warren.ctag-" + std::to_string(id_) + "." + std::to_string(++consumer_seq_);
}

std::shared_ptr<consumer_state> channel_impl::add_consumer(const consume_options& o) {
    check_usable();
    if (consumers_.find(o.tag) != consumers_.end()) {
        throw std::logic_error("consumer tag '" + std::string(o.tag) + "' is already in use on this channel");
    }
    auto st = std::make_shared<consumer_state>(executor());
    st->tag = o.tag;
    st->no_ack = o.no_ack;
    consumers_.emplace(std::string(o.tag), st);
    return st;
}

void channel_impl::abandon_consumer(const std::shared_ptr<consumer_state>& st) {
    if (st->abandoned) return;
    st->abandoned = true;
    if (state_ != state::open) return;
    if (!st->no_ack) {
        for (const auto& d : st->buffer) {
            conn_->send(id_, p::basic_nack{.delivery_tag = d.delivery_tag(), .multiple = false, .requeue = true});
        }
    }
    st->buffer.clear();
    if (st->active && !st->cancelling) {
        st->cancelling = true;
        auto slot = start_call(p::basic_cancel{.consumer_tag = st->tag}, key_of<p::basic_cancel_ok>());
        slot->abandoned = true;
    }
}

consumer channel_impl::make_consumer(std::shared_ptr<channel_impl> self, std::shared_ptr<consumer_state> st) {
    return consumer(std::move(self), std::move(st));
}

bool channel_impl::window_open() const noexcept {
    return !confirm_mode_ || options_.max_unconfirmed == 0 || unconfirmed_.size() < options_.max_unconfirmed;
}

std::shared_ptr<confirm_state> channel_impl::send_publish(const p::basic_publish& m,
                                                          const p::basic_properties& props,
                                                          std::string_view body) {
    check_usable();
    conn_->send_content(id_, m, props, body);
    if (!confirm_mode_) return nullptr;
    auto c = std::make_shared<confirm_state>(executor());
    c->sequence = next_sequence_++;
    unconfirmed_.push_back(c);
    return c;
}

bool channel_impl::take_all_acked() noexcept {
    const bool r = all_acked_;
    all_acked_ = true;
    return r;
}

confirmation channel_impl::make_confirmation(std::shared_ptr<confirm_state> st) {
    confirmation c;
    c.state_ = std::move(st);
    return c;
}

}  // namespace warren::detail
