#pragma once
// The broker-side state of one client connection, and the sink through which the broker
// pushes events (deliveries, returns, confirms, cancels) back to that client.

#include <warren/broker/channel.hpp>
#include <warren/broker/flow_account.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace warren::broker {

/// Implemented by whatever carries a connection to its client (the AMQP server session, or a
/// test). Every call happens on the broker's executor, synchronously inside a broker call.
class client_sink {
public:
    /// A message for consumer `c` on channel `ch`. The message is shared, so that a transport
    /// may keep it and send the body by reference (gather write) instead of copying it.
    virtual void on_deliver_shared(channel& ch, const consumer& c, std::uint64_t delivery_tag,
                                   bool redelivered, const message_ptr& m) = 0;
    /// The broker cancelled a consumer (its queue was deleted).
    virtual void on_consumer_cancelled(channel& ch, const std::string& consumer_tag) = 0;
    /// A mandatory message could not be routed (basic.return).
    virtual void on_return(channel& ch, reply_code code, std::string_view text,
                           const message& m) = 0;
    /// A publisher confirm (basic.ack / basic.nack) for a channel in confirm mode.
    virtual void on_confirm(channel& ch, std::uint64_t delivery_tag, bool multiple, bool ack) = 0;
    /// The broker closes channel `ch` with a channel error (consumer_timeout: 406, class and
    /// method 0/0). The sink sends channel.close and closes the broker channel at once (which
    /// requeues its unacked messages); `ch` is destroyed by the call.
    virtual void on_channel_error(channel& ch, reply_code code, std::string_view text) = 0;
    /// False while the client's outbound buffer is full: queues then skip its consumers
    /// until connection::resume() is called.
    virtual bool writable() const noexcept = 0;

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
    vhost& vhost_;
    client_sink& sink_;
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
