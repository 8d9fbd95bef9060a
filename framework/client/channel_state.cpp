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

std::shared_ptr<consumer_state> channel_impl::add_consumer(const std::string& tag, bool no_ack) {
    check_usable();
    if (consumers_.find(tag) != consumers_.end()) {
        throw std::logic_error("consumer tag '" + tag + "' is already in use on this channel");
    }
    auto st = std::make_shared<consumer_state>(executor());
    st->tag = tag;
    st->no_ack = no_ack;
    consumers_.emplace(tag, st);
    if (const auto n = generated_number(tag); n != 0) {
        try {
            by_number_.emplace(n, st);
        } catch (...) {
            consumers_.erase(tag);
            throw;
        }
    }
    return st;
}

std::shared_ptr<consumer_state> channel_impl::add_stream(bool no_ack) {
    check_usable();
    auto st = std::make_shared<consumer_state>(executor());
    st->no_ack = no_ack;
    return st;
}

void channel_impl::join(const std::shared_ptr<consumer_state>& stream,
                        const std::shared_ptr<consumer_state>& member) {
    stream->members.push_back(member);
    if (stream->tag.empty()) stream->tag = member->tag;
    ++stream->open_members;
    member->stream = stream;
}

void channel_impl::end_consumer(const std::shared_ptr<consumer_state>& st,
                                std::exception_ptr error) {
    if (error) st->error = error;
    st->ended = true;
    st->active = false;
    wake(st);
    if (auto stream = st->stream) {
        if (error && !stream->error) stream->error = error;
        if (stream->open_members != 0) --stream->open_members;
        if (stream->open_members == 0 || error) {
            stream->ended = true;
            wake(stream);
        }
    }
}

std::uint64_t channel_impl::generated_number(std::string_view tag) const noexcept {
    // "warren.ctag-<id_>.<n>", n in canonical decimal (no sign, no leading zero), n >= 1.
    constexpr std::string_view stem = "warren.ctag-";
    if (!tag.starts_with(stem)) return 0;
    tag.remove_prefix(stem.size());
    std::uint64_t id = 0;
    std::size_t i = 0;
    while (i < tag.size() && i < 6 && tag[i] >= '0' && tag[i] <= '9')
        id = id * 10 + static_cast<unsigned>(tag[i++] - '0');
    if (i == 0 || id != id_ || (tag[0] == '0' && i > 1) || i >= tag.size() || tag[i] != '.')
        return 0;
    tag.remove_prefix(i + 1);
    if (tag.empty() || tag.size() > 19 || tag[0] == '0') return 0;
    std::uint64_t n = 0;
    for (char c : tag) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    return n;
}

const std::shared_ptr<consumer_state>* channel_impl::find_consumer(
    std::string_view tag) const noexcept {
    if (const auto n = generated_number(tag); n != 0) {
        auto it = by_number_.find(n);
        return it != by_number_.end() ? &it->second : nullptr;
    }
    auto it = consumers_.find(tag);
    return it != consumers_.end() ? &it->second : nullptr;
}

void channel_impl::park(consumer_state& st, waiter_handler&& h) {
    auto slot = asio::get_associated_cancellation_slot(h);
    waiters_->park(st.waiter, std::move(h));
    if (slot.is_connected()) {
        // Per-operation cancellation: complete the wait (by a post, as Asio's operations do);
        // next() then sees the cancellation and throws.
        slot.assign([&st](asio::cancellation_type) {
            if (auto w = st.waiter.registry->take(st.waiter)) {
                asio::post(st.executor, [w = std::move(*w)]() mutable { w(); });
            }
        });
    }
}

void channel_impl::wake(const std::shared_ptr<consumer_state>& st) {
    if (st->timer_waiters != 0) st->ready.notify();
    if (!st->waiter.handler || st->wake_queued) return;
    wakes_.push_back(st);
    st->wake_queued = true;
    if (!wake_posted_) {
        asio::post(executor(), [self = shared_from_this()] { self->run_wakes(); });
        wake_posted_ = true;
    }
}

void channel_impl::run_wakes() {
    wake_posted_ = false;
    std::vector<std::shared_ptr<consumer_state>> batch;
    batch.swap(wakes_);
    std::size_t i = 0;
    try {
        for (; i < batch.size(); ++i) {
            batch[i]->wake_queued = false;
            // Resumes that consumer's coroutine here, until it suspends again.
            if (auto h = waiters_->take(batch[i]->waiter)) (*h)();
        }
    } catch (...) {
        // A handler threw out of the run (as it would out of io_context::run): the rest
        // still get their wake-up.
        for (++i; i < batch.size(); ++i) {
            batch[i]->wake_queued = false;
            wake(batch[i]);
        }
        throw;
    }
    batch.clear();
    if (wakes_.empty()) wakes_.swap(batch);  // keep the capacity
}

void channel_impl::forget_consumer(consumer_map::iterator it) {
    if (const auto n = generated_number(it->first); n != 0) by_number_.erase(n);
    consumers_.erase(it);
}

void channel_impl::abandon_consumer(const std::shared_ptr<consumer_state>& st) {
    if (st->abandoned) return;
    st->abandoned = true;
    if (state_ != state::open) return;
    if (!st->no_ack) {
        for (const auto& d : st->buffer) {
            if (ledger_.settle(d.delivery_tag(), false) != settle_ledger::outcome::settled)
                continue;
            conn_->send(id_,
                        p::basic_nack{
                            .delivery_tag = d.delivery_tag(), .multiple = false, .requeue = true});
        }
    }
    st->buffer.clear();
    for (const auto& weak : st->members) {  // a consume_many() stream: cancel each consumer
        if (auto m = weak.lock(); m && !m->ended) abandon_consumer(m);
    }
    if (st->active && !st->cancelling) {
        st->cancelling = true;
        auto slot =
            start_call(p::basic_cancel{.consumer_tag = st->tag}, key_of<p::basic_cancel_ok>());
        slot->abandoned = true;
    }
}

consumer channel_impl::make_consumer(std::shared_ptr<channel_impl> self,
                                     std::shared_ptr<consumer_state> st) {
    return consumer(std::move(self), std::move(st));
}

bool channel_impl::window_open() const noexcept {
    return !confirm_mode_ || options_.max_unconfirmed == 0 ||
           unconfirmed_.size() < options_.max_unconfirmed;
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
