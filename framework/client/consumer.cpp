#include "channel_impl.hpp"

#include <stdexcept>

namespace warren {

namespace asio = boost::asio;
namespace p = protocol;
using detail::channel_impl;
using detail::consumer_state;

namespace {

// A next() that takes buffered deliveries without suspending still yields every
// `yield_every` of them while the buffer is short (at most `short_buffer`), so the
// connection's writer sends the acks already queued and the broker refills the prefetch
// window while this consumer works (pipelining instead of stop-and-wait). With a longer
// buffer it does not yield: the reader would add a whole socket read per turn and the buffer
// would grow without bound (auto-ack, prefetch 0).
constexpr unsigned yield_every = 32;
constexpr std::size_t short_buffer = 256;

/// Counts a wait on consumer_state::ready for its scope: channel_impl::wake notifies that
/// signal only while someone waits on it (a parked next() is resumed without it).
class ready_wait {
  public:
    explicit ready_wait(consumer_state& st) noexcept : n_(++st.timer_waiters) {}
    ~ready_wait() { --n_; }
    ready_wait(const ready_wait&) = delete;
    ready_wait& operator=(const ready_wait&) = delete;

  private:
    unsigned& n_;
};

// Out of do_next(), so that the delivery it moves is not a local of the coroutine: its frame
// then stays under ~1 KiB, which Asio recycles per thread; above that every next() was a
// malloc (of a size that also made glibc consolidate its fast bins) and a free.
std::optional<delivery> take_buffered(consumer_state& st, const std::shared_ptr<channel_impl>& ch) {
    std::optional<delivery> d(std::move(st.buffer.front()));
    st.buffer.pop_front();
    channel_impl::attach(*d, ch);
    return d;
}

asio::awaitable<std::optional<delivery>> do_next(std::shared_ptr<channel_impl> ch,
                                                 std::shared_ptr<consumer_state> st) {
    // A next() nobody can cancel (no connected cancellation slot: a plain co_await, not a
    // race() or a bound slot) takes a buffered delivery at once, so a consumer drains what one
    // read brought in without a trip through the scheduler per delivery. A cancellable next()
    // takes one only after a suspension and a cancellation check, so that a cancelled next()
    // leaves the buffer untouched (see detail::suspend_then_check).
    bool may_take = !(co_await asio::this_coro::cancellation_state).slot().is_connected();
    if (may_take && ++st->streak >= yield_every && st->buffer.size() <= short_buffer) {
        st->streak = 0;
        co_await asio::post(co_await asio::this_coro::executor, detail::use_nothrow);
    }
    for (;;) {
        if (!st->buffer.empty()) {
            if (!may_take) {
                co_await detail::suspend_then_check();
                may_take = true;
                continue;
            }
            co_return take_buffered(*st, ch);
        }
        if (st->error) std::rethrow_exception(st->error);
        if (st->ended) co_return std::nullopt;
        detail::signal::check_not_cancelled(
            (co_await asio::this_coro::cancellation_state).cancelled());
        if (!st->waiter.handler) {
            co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
                [&](detail::waiter_handler h) { ch->park(*st, std::move(h)); },
                asio::use_awaitable);
        } else {
            // Another next() of this stream is parked already: wait on the signal instead.
            ready_wait counted(*st);
            co_await st->ready.wait_inline();
        }
        detail::signal::check_not_cancelled(
            (co_await asio::this_coro::cancellation_state).cancelled());
        may_take = true;
        st->streak = 0;
    }
}

asio::awaitable<void> do_cancel(std::shared_ptr<channel_impl> ch,
                                std::shared_ptr<consumer_state> st) {
    if (!st->members.empty()) {  // a consume_many() stream: cancel each of its consumers
        if (!st->cancelling && !st->ended && ch->current_state() == channel_impl::state::open) {
            st->cancelling = true;
            std::vector<std::shared_ptr<detail::rpc_slot>> slots;
            for (const auto& weak : st->members) {
                auto m = weak.lock();
                if (!m || m->ended || m->cancelling) continue;
                m->cancelling = true;
                slots.push_back(ch->start_call(p::basic_cancel{.consumer_tag = m->tag},
                                               detail::key_of<p::basic_cancel_ok>()));
            }
            for (auto& slot : slots) co_await channel_impl::await_reply(ch, slot);
        }
    } else if (!st->cancelling && !st->ended && ch->current_state() == channel_impl::state::open) {
        st->cancelling = true;
        auto slot = ch->start_call(p::basic_cancel{.consumer_tag = st->tag},
                                   detail::key_of<p::basic_cancel_ok>());
        co_await channel_impl::await_reply(ch, slot);
    }
    ready_wait counted(*st);
    while (!st->ended && ch->current_state() != channel_impl::state::closed)
        co_await st->ready.wait();
}

}  // namespace

consumer::consumer(std::shared_ptr<channel_impl> ch, std::shared_ptr<consumer_state> st)
    : channel_(std::move(ch)), state_(std::move(st)) {}

consumer::consumer(consumer&&) noexcept = default;

consumer& consumer::operator=(consumer&& other) noexcept {
    if (this != &other) {
        if (state_ && channel_ && !state_->ended) channel_->abandon_consumer(state_);
        channel_ = std::move(other.channel_);
        state_ = std::move(other.state_);
    }
    return *this;
}

consumer::~consumer() {
    if (state_ && channel_ && !state_->ended) channel_->abandon_consumer(state_);
}

const std::string& consumer::tag() const {
    if (!state_) throw std::logic_error("warren::consumer: use of a moved-from consumer");
    return state_->tag;
}

asio::awaitable<std::optional<delivery>> consumer::next() {
    if (!state_) throw std::logic_error("warren::consumer: use of a moved-from consumer");
    return do_next(channel_, state_);
}

std::optional<delivery> consumer::try_next() {
    if (!state_) throw std::logic_error("warren::consumer: use of a moved-from consumer");
    if (state_->buffer.empty()) return std::nullopt;
    return take_buffered(*state_, channel_);
}

asio::awaitable<void> consumer::cancel() {
    if (!state_) throw std::logic_error("warren::consumer: use of a moved-from consumer");
    return do_cancel(channel_, state_);
}

std::vector<std::string> consumer::tags() const {
    if (!state_) throw std::logic_error("warren::consumer: use of a moved-from consumer");
    if (state_->members.empty()) return {state_->tag};
    std::vector<std::string> out;
    for (const auto& weak : state_->members) {
        if (auto m = weak.lock()) out.push_back(m->tag);
    }
    return out;
}

std::size_t consumer::buffered() const { return state_ ? state_->buffer.size() : 0; }

}  // namespace warren
