#pragma once
// The broker-side state of one client connection, and the sink through which the broker
// pushes events (deliveries, returns, confirms, cancels) back to that client.

#include <warren/broker/channel.hpp>
#include <warren/broker/fwd.hpp>
#include <warren/broker/message.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
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

    /// Publisher flow control. A publish that leaves a queue with consumers holding ready
    /// messages notes that queue here. The connection is backlogged when one such queue holds
    /// more than `flow_high_water` ready messages or all of them together more than
    /// `flow_total_high_water` (a producer spreading over 10,000 queues never fills one), and
    /// stays so until they are back under the low waters. The transport then reads this
    /// connection's input more slowly (bounded pauses, never an error), so that a producer
    /// faster than its consumers does not grow the queues without bound while it starves them.
    ///
    /// Cost: note_backlog() is a hash lookup only when the queue differs from the previous
    /// one; backlogged() re-reads the last noted queue and at most `flow_refresh_batch` others
    /// (round robin; while throttled, half of them but at most `flow_refresh_throttled_batch`),
    /// so with many noted queues the total is up to a few calls old. A queue
    /// leaves the set after two refreshes in a row found it without ready messages.
    static constexpr std::size_t flow_high_water = 1000;
    static constexpr std::size_t flow_low_water = 500;
    static constexpr std::size_t flow_total_high_water = 10000;
    static constexpr std::size_t flow_total_low_water = 5000;
    static constexpr std::size_t flow_refresh_batch = 256;
    static constexpr std::size_t flow_refresh_throttled_batch = 4096;
    void note_backlog(queue& q);
    bool backlogged();

private:
    vhost& vhost_;
    client_sink& sink_;
    std::string user_;
    std::string name_;
    std::vector<std::unique_ptr<channel>> channels_;  // indexed by channel id
    std::vector<std::weak_ptr<queue>> exclusive_;
    // Queues with consumers this connection's publishes left messages in (for flow control),
    // with the ready count last read from each; fed_index_ maps a queue to its slot.
    struct fed_queue {
        std::weak_ptr<queue> ref;
        const queue* q = nullptr;
        std::size_t ready = 0;    // as last refreshed (counted in fed_total_ and fed_over_*)
        std::uint8_t empty_refreshes = 0;
    };
    void refresh_fed(std::size_t i);    // re-reads slot i's queue; may erase the slot
    void set_fed_ready(fed_queue& f, std::size_t ready) noexcept;
    std::vector<fed_queue> fed_;
    std::unordered_map<const queue*, std::size_t> fed_index_;
    std::size_t fed_cursor_ = 0;
    std::size_t fed_total_ = 0;      // sum of fed_[i].ready
    std::size_t fed_over_high_ = 0;  // slots with ready > flow_high_water
    std::size_t fed_over_low_ = 0;   // slots with ready > flow_low_water
    const queue* last_fed_ = nullptr;  // fed_ holds it: skips the lookup on the hot path
    std::size_t last_fed_slot_ = 0;
    bool throttled_ = false;
    // Queues to dispatch at the next resume(); stall_epoch_ counts resumes.
    struct stalled_queue {
        std::weak_ptr<queue> ref;
        const queue* q;  // for queue::prefetch_hot only: never read through (may be gone)
    };
    std::vector<stalled_queue> stalled_;
    std::vector<stalled_queue> stalled_spare_;  // resume()'s last batch, empty: its capacity
    std::uint64_t stall_epoch_ = 1;
    bool stalled_all_ = false;  // a note failed to allocate: resume() kicks every consumer
};

}  // namespace warren::broker
