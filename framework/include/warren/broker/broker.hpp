#pragma once
// The broker: virtual hosts and users. Confined to one executor; no locks, no I/O.

#include <warren/broker/broker_options.hpp>
#include <warren/broker/clock.hpp>
#include <warren/broker/event.hpp>
#include <warren/broker/persistence.hpp>
#include <warren/broker/vhost.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace warren::broker {

struct user {
    std::string name;
    std::string password;
    /// guest may only log in from a loopback address, as in RabbitMQ.
    bool loopback_only = false;
};

class broker {
  public:
    explicit broker(broker_options options = {});
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    const broker_options& options() const noexcept { return options_; }

    vhost* find_vhost(std::string_view name) const;
    vhost& add_vhost(std::string name);

    void add_user(user u);
    /// The user when name/password match and the login is allowed from this peer, else nullptr.
    const user* authenticate(std::string_view name, std::string_view password,
                             bool peer_is_loopback) const;

    /// Attaches the store (nullptr: nothing is persisted). Attach after recovery, so that
    /// recovered state is not recorded again. `p` must outlive the broker's use of it.
    void set_persistence(persistence* p) noexcept { persistence_ = p; }
    persistence* store() const noexcept { return persistence_; }

    /// A fresh id for a persistent message.
    std::uint64_t next_message_id() noexcept { return next_message_id_++; }
    /// After recovery: continue numbering above every recovered id.
    void set_next_message_id(std::uint64_t id) noexcept { next_message_id_ = id; }

    /// Random bytes for server-generated names.
    std::mt19937_64& rng() noexcept { return rng_; }

    // ---- time ----
    /// The current monotonic time (broker_options::clock).
    time_point now() const { return options_.clock(); }
    /// The current wall-clock time in milliseconds since the epoch.
    std::int64_t wall_ms() const { return options_.wall_clock_ms(); }
    /// Fires everything due at `now` (message TTLs, queue expiry, consumer timeouts) and
    /// returns the next deadline (`never` when nothing is pending). The host calls it when
    /// the deadline it was given passes, and may call it early or spuriously.
    time_point tick(time_point now);
    /// Called (synchronously, from inside a broker call) whenever a deadline earlier than the
    /// one last returned by tick() appears; the host then re-arms its timer and calls tick()
    /// at that time. Never called from inside tick() (its return value covers that).
    void set_wakeup(std::function<void(time_point)> wakeup) { wakeup_ = std::move(wakeup); }
    /// Internal: a queue or channel has something due at `t`.
    void schedule(time_point t);
    /// Internal: a deadline may have gone (a channel closed, a queue was deleted): asks the
    /// host for a tick now, which recomputes the next deadline, so that a host timer is not
    /// left waiting for nothing (an embedded broker's io_context can then return from run()).
    void deadline_gone();
    /// Internal: queues with a TTL, an x-expires or a per-message expiry are visited by tick().
    void add_timed_queue(const std::shared_ptr<queue>& q) { timed_queues_.push_back(q); }
    // ---- events ----
    /// Hands out what the broker calls made so far left behind: routes their dead letters, then
    /// gives each connection's outbox to its client_sink, which may call into the broker again
    /// (what that leaves is handed out before this returns). Hosts call it after every call
    /// into the broker: a server session after each frame it handles, the timer after tick(),
    /// the store's completions after running them. Inside a sink's on_events it returns at once
    /// (the flush already running finishes the work). Throws what a sink throws.
    void flush_events() {
        if ((!pending_.empty() || !dead_letters_.empty()) && !flushing_) flush_pending();
    }
    /// Internal: a queue dead-letters `msg`; it is routed by the next flush_events(), after the
    /// broker call that decided it, never inside it.
    void defer_dead_letter(std::shared_ptr<queue> from, message_ptr msg, death_reason why) {
        dead_letters_.push_back(dead_letter_job{std::move(from), std::move(msg), why});
    }
    /// Internal: channels are visited by tick() for consumer_timeout.
    void add_timed_channel(channel* ch) { timed_channels_.insert(ch); }
    void remove_timed_channel(channel* ch) { timed_channels_.erase(ch); }

  private:
    friend class connection;
    void note_pending(connection& c) { pending_.push_back(&c); }
    void forget_pending(connection& c) noexcept;
    void flush_pending();
    void route_dead_letters();
    void hand_out(connection& c);

    struct dead_letter_job {
        std::shared_ptr<queue> from;
        message_ptr msg;
        death_reason why;
    };

    broker_options options_;
    std::map<std::string, std::unique_ptr<vhost>, std::less<>> vhosts_;
    std::map<std::string, user, std::less<>> users_;
    std::mt19937_64 rng_;
    persistence* persistence_ = nullptr;
    std::uint64_t next_message_id_ = 1;
    std::function<void(time_point)> wakeup_;
    time_point armed_ = never;
    bool in_tick_ = false;
    std::vector<std::weak_ptr<queue>> timed_queues_;
    std::unordered_set<channel*> timed_channels_;
    // Connections with events (or retired consumers) to hand out; the batch being handed out.
    std::vector<connection*> pending_;
    std::vector<connection*> handing_;
    std::vector<event> events_;  // spare capacity for the next outbox (of the last one handed out)
    std::vector<dead_letter_job> dead_letters_;
    std::vector<dead_letter_job> routing_;  // the dead letters being routed
    bool flushing_ = false;
};

}  // namespace warren::broker
