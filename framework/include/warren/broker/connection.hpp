#pragma once
// The broker-side state of one client connection, its outbox of events for the client
// (deliveries, returns, confirms, cancels), and the sink that receives them.

#include <warren/broker/channel.hpp>
#include <warren/broker/event.hpp>
#include <warren/broker/flow_account.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::broker {

/// Implemented by whatever carries a connection to its client (the AMQP server session, or a
/// test). Called on the broker's executor only.
class client_sink {
  public:
    /// The connection's events, in the order the broker raised them. Called only by
    /// broker::flush_events(), never while the broker is inside another call, so the sink may
    /// call into the broker (close a channel, ...); events that causes are handed out by the same
    /// flush, in a later call. A sink that destroys its connection here must stop reading
    /// `events` (their consumers may be gone with it).
    virtual void on_events(std::span<event> events) = 0;
    /// False while the client's outbound buffer, plus `queued_bytes` of this connection's events
    /// not handed out yet, is full: queues then skip its consumers until connection::resume().
    /// A query only: it must not call into the broker.
    virtual bool writable(std::size_t queued_bytes) const noexcept = 0;

  protected:
    ~client_sink() = default;
};

class connection {
  public:
    connection(vhost& vh, client_sink& sink, std::string user, std::string name);
    /// Closes every channel (requeueing unacked messages) and deletes exclusive queues.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    vhost& host() const noexcept { return vhost_; }
    client_sink& sink() const noexcept { return sink_; }
    const std::string& user() const noexcept { return user_; }
    const std::string& name() const noexcept { return name_; }

    /// Queues an event for the client (handed out by broker::flush_events()).
    template <class Event, class... Args>
    void post(Args&&... args) {
        if (!queued_) note_pending();
        // Braces, not parentheses: the events are aggregates (clang 14, which the lint runs,
        // has no parenthesised aggregate initialisation).
        outbox_.emplace_back(std::in_place_type<Event>, Event{std::forward<Args>(args)...});
    }
    /// Queues a delivery; its body counts as output for writable() until handed out.
    void post_delivery(std::uint16_t channel, const consumer& c, std::uint64_t tag,
                       bool redelivered, message_ptr msg) {
        outbox_bytes_ += msg->body.size() + delivery_frame_bytes;
        post<events::delivery>(channel, redelivered, tag, &c, std::move(msg));
    }
    /// Keeps a consumer the broker removed until the events that name it have been handed out.
    void retire(std::unique_ptr<consumer> c);
    /// Events queued for the client and not handed out yet.
    std::size_t queued_events() const noexcept { return outbox_.size(); }
    /// Whether the client takes more deliveries now (client_sink::writable, with the bodies of
    /// the deliveries queued here).
    bool writable() const noexcept { return sink_.writable(outbox_bytes_); }

    /// Opens channel `id`; nullptr if it is already open.
    channel* open_channel(std::uint16_t id);
    channel* find_channel(std::uint16_t id) const noexcept;
    /// Closes channel `id` (requeues its unacked messages, cancels its consumers).
    void close_channel(std::uint16_t id);

    /// The client's outbound buffer drained: dispatch again the queues whose consumers on this
    /// connection were refused while it was full (not every queue this connection consumes
    /// from: with 10,000 consumers that scan was a third of the broker's time).
    void resume();
    /// A queue skipped consumer `c` because this connection's outbound buffer is full: the
    /// next resume() dispatches c's queue. Once per consumer until that resume().
    void note_stalled(consumer& c) noexcept;
    /// Counts resume()s: a queue stalled in the current epoch stays stalled until the next.
    std::uint64_t stall_epoch() const noexcept { return stall_epoch_; }

    void add_exclusive_queue(const std::shared_ptr<queue>& q) { exclusive_.push_back(q); }

    /// Publisher flow control. A publish that leaves messages in a queue makes that queue
    /// count its ready messages (while it has consumers) in this connection's account
    /// (queue::feed_flow; a queue counts for the connection that published to it last). The
    /// connection is backlogged when its queues together hold more than `flow_high_water`
    /// ready messages (in one queue or spread over 10,000), and stays so until they are back
    /// at `flow_low_water`. The transport then reads this connection's input more slowly
    /// (bounded pauses, never an error), so that a producer faster than its consumers does not
    /// grow the queues without bound while it starves them. The queues keep the account exact
    /// as their messages come and go, so a check is O(1) and never stale.
    static constexpr std::size_t flow_high_water = flow_account::high_water;
    static constexpr std::size_t flow_low_water = flow_account::low_water;
    const std::shared_ptr<flow_account>& flow() const noexcept { return flow_; }
    bool backlogged() noexcept {
        throttled_ = throttled_ ? flow_->over_low_water() : flow_->over_high_water();
        return throttled_;
    }

  private:
    friend class broker;  // flush_events() hands the outbox to the sink
    /// What a delivery's frames add to its body, about (for writable()).
    static constexpr std::size_t delivery_frame_bytes = 64;
    void note_pending();

    vhost& vhost_;
    client_sink& sink_;
    // Events not handed out yet, the bytes of their bodies, and the consumers they may name.
    std::vector<event> outbox_;
    std::size_t outbox_bytes_ = 0;
    std::vector<std::unique_ptr<consumer>> retired_;
    bool queued_ = false;  // in the broker's list of connections with something to hand out
    std::string user_;
    std::string name_;
    std::vector<std::unique_ptr<channel>> channels_;  // indexed by channel id
    std::vector<std::weak_ptr<queue>> exclusive_;
    // Outlives the connection while a queue still counts in it (its counts then slow no one).
    std::shared_ptr<flow_account> flow_ = std::make_shared<flow_account>();
    bool throttled_ = false;
    // Queues to dispatch at the next resume(); stall_epoch_ counts resumes.
    struct stalled_queue {
        std::weak_ptr<queue> ref;
        const queue* q;  // loaded ahead by resume(), never read through (may be gone)
    };
    std::vector<stalled_queue> stalled_;
    std::vector<stalled_queue> stalled_spare_;  // resume()'s last batch, empty: its capacity
    std::uint64_t stall_epoch_ = 1;
    bool stalled_all_ = false;  // a note failed to allocate: resume() kicks every consumer
};

}  // namespace warren::broker
