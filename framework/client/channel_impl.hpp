#pragma once
// Private: one channel's state: pending synchronous calls (answered in order), content assembly,
// consumers, publisher confirms and returns.

#include "connection_impl.hpp"
#include "detail/settle_ledger.hpp"
#include "detail/signal.hpp"
#include "detail/waiters.hpp"

#include <warren/client/channel.hpp>
#include <warren/client/error.hpp>
#include <warren/protocol/codec.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace warren::detail {

/// Key of a method: class id << 16 | method id.
template <class M>
constexpr std::uint32_t key_of() {
    return std::uint32_t{M::class_id_v} << 16 | M::method_id_v;
}

/// One synchronous request waiting for its reply.
struct rpc_slot {
    explicit rpc_slot(const asio::any_io_executor& ex) : done_signal(ex) {}
    std::uint32_t expect = 0;
    std::uint32_t expect_alt = 0;  ///< basic.get: get-ok or get-empty
    std::optional<protocol::method> reply;
    std::optional<delivery> content;  ///< basic.get-ok's message
    std::exception_ptr error;
    bool done = false;
    bool abandoned = false;  ///< the caller was cancelled; the reply is dropped (or undone)
    bool requeue_on_abandon = false;
    signal done_signal;
};

/// A consumer's buffered deliveries: a FIFO over one vector that keeps its storage when it
/// empties (a std::deque allocates and frees a block each time a consumer's buffer goes from
/// empty to one delivery and back, which with thousands of consumers is once per delivery).
class delivery_fifo {
  public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    void push_back(delivery&& d) { items_.push_back(std::move(d)); }
    delivery& front() noexcept { return items_[head_]; }
    /// Drops the front, which the caller has moved out (so it holds no memory any more).
    void pop_front() {
        ++head_;
        if (head_ == items_.size()) {
            clear();
        } else if (head_ >= 1024 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    void clear() noexcept {
        items_.clear();
        head_ = 0;
    }
    auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() const noexcept { return items_.end(); }

  private:
    std::vector<delivery> items_;
    std::size_t head_ = 0;
};

/// Transparent string hashing, so that a lookup by string_view allocates nothing.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

/// What channel_impl::deliver reads of the consumer a delivery names (`stream`, `abandoned`,
/// `no_ack`) comes first, in one cache line: with 10,000 consumers on a consume_many() stream
/// each is cold when its delivery arrives.
struct consumer_state {
    explicit consumer_state(const asio::any_io_executor& ex) : executor(ex), ready(ex) {}
    /// Set on each consumer of a consume_many() stream: its deliveries, its end and its error
    /// go to that stream's state (buffer, waiter), which is not a consumer on the broker.
    std::shared_ptr<consumer_state> stream;
    bool no_ack = false;
    bool active = false;      ///< consume-ok received, cancel not yet done
    bool ended = false;       ///< no more deliveries will arrive
    bool abandoned = false;   ///< no stream reads it; deliveries are requeued
    bool cancelling = false;  ///< basic.cancel sent
    asio::any_io_executor executor;
    std::string tag;
    std::exception_ptr error;
    delivery_fifo buffer;
    /// next() waiting for a delivery (channel_impl::park); woken by channel_impl::wake.
    parked_waiter waiter;
    bool wake_queued = false;  ///< in the channel's wake batch
    /// Waits on `ready` instead (cancel(), or a second concurrent next()): wake notifies it.
    unsigned timer_waiters = 0;
    signal ready;
    unsigned streak = 0;  ///< deliveries next() took in a row without suspending
    /// On such a stream: its consumers (weak: a member keeps its stream alive, not the
    /// reverse), and how many of them have not ended.
    std::vector<std::weak_ptr<consumer_state>> members;
    std::size_t open_members = 0;
};

struct confirm_state {
    explicit confirm_state(const asio::any_io_executor& ex) : done_signal(ex) {}
    enum class status { pending, acked, nacked, failed };
    std::uint64_t sequence = 0;
    status st = status::pending;
    std::exception_ptr error;
    signal done_signal;
};

class channel_impl : public std::enable_shared_from_this<channel_impl> {
  public:
    enum class state { opening, open, closing, closed };

    channel_impl(std::shared_ptr<connection_impl> conn, channel_options options);
    ~channel_impl();

    // Called by the connection's reader.
    /// Handles one frame for this channel; false = protocol violation (connection error).
    bool on_frame(const protocol::frame_view& f);
    void on_connection_closed(std::exception_ptr error);

    // Used by the public wrappers.
    std::uint16_t id() const noexcept { return id_; }
    void set_id(std::uint16_t id) noexcept { id_ = id; }
    state current_state() const noexcept { return state_; }
    connection_impl& conn() noexcept { return *conn_; }
    const asio::any_io_executor& executor() const noexcept { return conn_->executor(); }
    /// Throws the channel's (or connection's) error unless open (or opening, if allowed).
    void check_usable(bool allow_opening = false) const;

    /// Sends `m` and queues a slot for its reply (or one of two replies).
    template <class M>
    std::shared_ptr<rpc_slot> start_call(const M& m, std::uint32_t expect, std::uint32_t alt = 0,
                                         bool allow_opening = false) {
        check_usable(allow_opening);
        auto slot = std::make_shared<rpc_slot>(executor());
        slot->expect = expect;
        slot->expect_alt = alt;
        calls_.push_back(slot);
        conn_->send(id_, m);
        return slot;
    }
    template <class M>
    void send(const M& m) {
        check_usable();
        conn_->send(id_, m);
    }
    /// Waits for the slot; on cancellation the slot is abandoned (its reply undone if needed).
    static asio::awaitable<protocol::method> await_reply(std::shared_ptr<channel_impl> self,
                                                         std::shared_ptr<rpc_slot> slot);

    // Consumers.
    std::shared_ptr<consumer_state> add_consumer(const std::string& tag, bool no_ack);
    /// A consume_many() stream: a state no tag names, fed by the consumers joined to it.
    std::shared_ptr<consumer_state> add_stream(bool no_ack);
    static void join(const std::shared_ptr<consumer_state>& stream,
                     const std::shared_ptr<consumer_state>& member);
    /// The consumer ended (cancel-ok, the broker's cancel, or the channel's `error`): its stream
    /// (if it is part of one) ends with its last consumer or with the first error.
    void end_consumer(const std::shared_ptr<consumer_state>& st, std::exception_ptr error);
    /// Cancels in the background (destroyed or abandoned stream).
    void abandon_consumer(const std::shared_ptr<consumer_state>& st);
    /// Suspends the calling next() of `st` until wake(st) (or its cancellation).
    void park(consumer_state& st, waiter_handler&& h);
    /// A delivery, the end or an error for `st`: resumes its parked next() in this channel's
    /// next wake batch (one post for all the consumers one socket read woke) and notifies
    /// whoever waits on st->ready.
    void wake(const std::shared_ptr<consumer_state>& st);
    std::string next_consumer_tag();
    static consumer make_consumer(std::shared_ptr<channel_impl> self,
                                  std::shared_ptr<consumer_state> st);

    // Confirms.
    bool confirm_mode() const noexcept { return confirm_mode_; }
    void enter_confirm_mode() noexcept { confirm_mode_ = true; }
    /// True while another publish may be sent (window not full).
    bool window_open() const noexcept;
    std::size_t unconfirmed() const noexcept { return unconfirmed_.size(); }
    /// Sends a publish now (no suspension); returns the confirm to wait for, or null.
    std::shared_ptr<confirm_state> send_publish(const protocol::basic_publish& m,
                                                const protocol::basic_properties& props,
                                                std::string_view body);
    signal& confirms_changed() noexcept { return confirms_changed_; }
    /// Returns and resets "every publish settled since the last call was acked".
    bool take_all_acked() noexcept;
    static confirmation make_confirmation(std::shared_ptr<confirm_state> st);
    static channel make_channel(std::shared_ptr<channel_impl> self) {
        return channel(std::move(self));
    }
    /// Binds a delivery to its channel when it is handed out (buffered deliveries hold no
    /// reference, so that a channel's buffers never keep the channel alive).
    static void attach(delivery& d, std::shared_ptr<channel_impl> self) {
        d.channel_ = std::move(self);
    }
    static delivery take_content(rpc_slot& slot) { return std::move(*slot.content); }

    // Settling deliveries.
    enum class settle_op { ack, nack, reject };
    /// Sends basic.ack/nack/reject for `tag` once the ledger confirms that it is unsettled.
    /// Throws channel_error / connection_error when closed, std::logic_error for a tag that is
    /// unknown or already settled (nothing is sent then).
    void settle(settle_op op, std::uint64_t tag, bool multiple, bool requeue);
    bool is_settled(std::uint64_t tag) const noexcept { return ledger_.is_settled(tag); }

    // Returns.
    void set_return_handler(std::function<void(returned_message)> h) {
        return_handler_ = std::move(h);
    }
    std::deque<returned_message>& returns() noexcept { return returns_; }
    signal& returns_changed() noexcept { return returns_changed_; }

    /// Client close: marks closing; the caller sends channel.close and awaits close-ok.
    void begin_close() noexcept { state_ = state::closing; }
    void closed_by_client();

  private:
    struct incoming {
        protocol::method method;
        bool have_header = false;
        std::uint64_t body_size = 0;
        protocol::basic_properties properties{};
        std::string body{};
    };

    bool on_method(protocol::method& m);
    bool on_reply(protocol::method& m);
    bool on_content_complete();
    void deliver(incoming& in, protocol::basic_deliver& m);
    void on_server_cancel(const protocol::basic_cancel& m);
    void on_confirm(std::uint64_t tag, bool multiple, bool ack);
    void on_abandoned_reply(rpc_slot& slot);
    /// Closes the channel with `error`: fails every waiter; the id is released.
    void fail(std::exception_ptr error);
    /// Completes the oldest pending call with `m` (and content); false if it expects another.
    bool complete_front(protocol::method&& m, std::optional<delivery> content);
    void abandon(rpc_slot& slot);

    std::shared_ptr<connection_impl> conn_;
    std::uint16_t id_ = 0;
    channel_options options_;
    state state_ = state::opening;
    std::exception_ptr error_;
    std::deque<std::shared_ptr<rpc_slot>> calls_;
    std::optional<incoming> incoming_;
    using consumer_map = std::unordered_map<std::string, std::shared_ptr<consumer_state>,
                                            string_hash, std::equal_to<>>;
    consumer_map consumers_;
    // The consumers whose tag this channel generated, by the tag's number: a delivery finds
    // its consumer without hashing and comparing the tag string (with 10,000 consumers each
    // delivery otherwise missed the cache at the bucket, the node and the node's key).
    boost::unordered_flat_map<std::uint64_t, std::shared_ptr<consumer_state>> by_number_;
    std::uint64_t consumer_seq_ = 0;
    /// n if `tag` is exactly next_consumer_tag()'s n-th tag, else 0.
    std::uint64_t generated_number(std::string_view tag) const noexcept;
    const std::shared_ptr<consumer_state>* find_consumer(std::string_view tag) const noexcept;
    // Consumers to resume, one post per batch (see detail/waiters.hpp).
    void run_wakes();
    waiter_registry* waiters_ = nullptr;
    std::vector<std::shared_ptr<consumer_state>> wakes_;
    bool wake_posted_ = false;
    /// Erases a consumer from consumers_ and by_number_.
    void forget_consumer(consumer_map::iterator it);
    bool confirm_mode_ = false;
    std::uint64_t next_sequence_ = 1;
    std::deque<std::shared_ptr<confirm_state>> unconfirmed_;
    bool all_acked_ = true;
    signal confirms_changed_;
    settle_ledger ledger_;
    std::function<void(returned_message)> return_handler_;
    std::deque<returned_message> returns_;
    signal returns_changed_;
};

}  // namespace warren::detail
