#pragma once
// The store's state. Two halves:
// - broker side (only the broker's thread touches it): segment accounting, live messages;
// - shared (guarded by `mu`): the bytes and callbacks handed to the writer thread, and the
//   definitions model, which the writer serializes when it changed.

#include <warren/store/definitions.hpp>
#include <warren/store/store.hpp>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace warren::store::detail {

struct segment_state {
    std::uint64_t bytes = 0;
    /// (queue, message) pairs enqueued in this segment and not yet settled.
    std::uint64_t live = 0;
    /// Earlier segments that still exist and hold messages settled by records in this one:
    /// deleting this segment first would lose those settles and resurrect the messages.
    std::vector<std::uint32_t> deps;
    /// The reverse edges: later segments listing this one in their deps.
    std::vector<std::uint32_t> dependents;
};

/// Bytes for one segment, in order.
struct chunk {
    std::uint32_t segment = 0;
    std::string bytes;
};

/// What the writer takes in one go.
struct batch {
    std::vector<chunk> chunks;
    std::vector<std::function<void()>> waiters;
    std::vector<std::uint32_t> unlinks;
    std::string definitions;  ///< empty: unchanged
};

struct store_state {
    explicit store_state(store_options o);

    store_options opts;
    std::filesystem::path segments_dir;
    std::filesystem::path definitions_path;

    // ---- broker side -------------------------------------------------------------------
    std::map<std::uint32_t, segment_state> segments;
    std::uint32_t current = 1;
    /// Per persisted queue: message id -> segment of its enqueue record.
    std::unordered_map<std::uint32_t, std::unordered_map<std::uint64_t, std::uint32_t>> live;
    bool recovered = false;

    void add_dep(std::uint32_t from, std::uint32_t to);
    void maybe_gc(std::uint32_t seg);
    void roll_if_full();
    /// Appends one record to the current segment; `encode(std::string&)` writes it.
    template <class Encode>
    std::uint32_t append(Encode&& encode);

    // ---- shared ------------------------------------------------------------------------
    mutable std::mutex mu;
    std::condition_variable cv;
    batch pending;
    definitions defs;
    bool defs_dirty = false;
    bool writer_idle = false;
    bool writer_busy = false;  ///< holds a batch that is not yet synced
    bool unsynced = false;     ///< bytes written but not yet fdatasync'ed
    bool stop = false;
    bool posting = true;
    std::thread writer;

    void notify_locked() {
        if (writer_idle) cv.notify_one();
    }

    // ---- writer thread -----------------------------------------------------------------
    int fd = -1;
    std::uint32_t fd_segment = 0;
    bool fd_dirty = false;  ///< the writer's own copy of `unsynced`
    std::chrono::steady_clock::time_point last_sync{};

    void writer_loop();
    void run_batch(batch& b, bool must_sync);
    void open_segment(std::uint32_t seg, bool& created);
    void log(std::string_view line) const;
};

template <class Encode>
std::uint32_t store_state::append(Encode&& encode) {
    const auto seg = current;
    std::size_t n = 0;
    {
        std::lock_guard lk(mu);
        auto& chunks = pending.chunks;
        if (chunks.empty() || chunks.back().segment != seg) chunks.push_back(chunk{seg, {}});
        auto& out = chunks.back().bytes;
        const auto before = out.size();
        encode(out);
        n = out.size() - before;
        notify_locked();
    }
    segments[seg].bytes += n;
    return seg;
}

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint32_t seg);

}  // namespace warren::store::detail
