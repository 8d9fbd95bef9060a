#pragma once
// The durable store: implements broker::persistence on top of an append-only log of segment
// files plus an atomically replaced definitions file (docs/durability.md has the format and the
// exact guarantees).
//
// Threading: every persistence call and recover() come from the broker's executor. File I/O
// and fdatasync run on the store's own writer thread, which hands `when_durable` callbacks
// back through `store_options::post`. The store never blocks the broker's thread on the disk.

#include <warren/broker/persistence.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

namespace warren::broker {
class broker;
}

namespace warren::store {

namespace detail {
struct store_state;
}

struct store_options {
    /// Holds `definitions` and `segments/`; created if missing.
    std::filesystem::path dir;
    /// A segment is closed and a new one started once it holds at least this many bytes.
    std::uint64_t segment_size = 64ull * 1024 * 1024;
    /// Minimum time between two fdatasyncs (0: the next sync starts as soon as the previous one
    /// ends and there is something to sync; records arriving meanwhile share it).
    std::chrono::microseconds sync_interval{0};
    /// How long acks/deliveries may stay written but unsynced when nobody waits for them.
    std::chrono::milliseconds lazy_sync{200};
    /// Runs a function on the broker's executor (the daemon: asio::post(io, f)). Required.
    std::function<void(std::function<void()>)> post;
    /// Receives one line per warning or error (torn tail, I/O failure). Default: stderr.
    std::function<void(std::string_view)> log;
};

struct recovery_stats {
    std::size_t exchanges = 0;
    std::size_t queues = 0;
    std::size_t bindings = 0;
    std::size_t messages = 0;  ///< (queue, message) pairs put back into queues
    std::size_t segments = 0;
    std::size_t damaged_records = 0;  ///< torn or corrupt tails dropped
    std::chrono::microseconds elapsed{0};
};

class store final : public broker::persistence {
  public:
    /// Creates the directories. Throws std::system_error when they cannot be created.
    explicit store(store_options options);
    /// close()s.
    ~store() override;
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// Rebuilds every persisted exchange, queue, binding and message into `b` (which must not
    /// have the store attached yet), sets each queue's store id and the broker's next message
    /// id, drops and reports damaged tails, deletes settled segments, then starts the writer
    /// thread. Call exactly once, before `b.set_persistence(this)`. Throws std::system_error
    /// only when the directory cannot be read or written at all.
    recovery_stats recover(broker::broker& b);

    /// From now on completed `when_durable` callbacks are dropped instead of posted: call it
    /// before destroying the executor that `post` targets. Thread-safe.
    void stop_callbacks();
    /// Writes and syncs everything recorded so far, then stops the writer thread. Idempotent.
    void close();

    // broker::persistence
    void exchange_declared(const broker::exchange_definition& x) override;
    void exchange_deleted(std::string_view vhost, std::string_view name) override;
    broker::store_queue_id queue_declared(const broker::queue_definition& q) override;
    void queue_deleted(broker::store_queue_id q) override;
    void binding_added(const broker::binding_definition& b) override;
    void binding_removed(const broker::binding_definition& b) override;
    void enqueued(const broker::message& m,
                  std::span<const broker::store_queue_id> queues) override;
    void delivered(broker::store_queue_id q, std::uint64_t message_id) override;
    void removed(broker::store_queue_id q, std::uint64_t message_id) override;
    void when_durable(std::function<void()> done) override;

    /// Segment files that exist or are about to be written (for tests and monitoring).
    std::size_t segment_count() const noexcept;

  private:
    std::unique_ptr<detail::store_state> s_;
};

}  // namespace warren::store
