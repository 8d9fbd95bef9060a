// The writer thread: takes everything recorded since its last turn, writes it, and syncs once
// for the whole batch (group commit); then posts the batch's when_durable callbacks.
#include "detail/file_io.hpp"
#include "detail/store_state.hpp"

#include <warren/store/record.hpp>

#include <cstdlib>
#include <exception>

namespace warren::store::detail {

void store_state::open_segment(std::uint32_t seg, bool& created) {
    if (fd >= 0) {
        // The previous segment is complete: make it durable before letting go of it.
        if (fd_dirty) sync_data(fd, segment_path(segments_dir, fd_segment));
        close_file(fd);
        fd = -1;
    }
    const auto path = segment_path(segments_dir, seg);
    fd = create_file(path);
    fd_segment = seg;
    write_all(fd, segment_magic, path);
    fd_dirty = true;
    created = true;
}

void store_state::run_batch(batch& b, bool must_sync) {
    if (!b.definitions.empty()) write_atomically(definitions_path, b.definitions);
    bool created = false;
    for (auto& c : b.chunks) {
        if (fd < 0 || c.segment != fd_segment) open_segment(c.segment, created);
        write_all(fd, c.bytes, segment_path(segments_dir, fd_segment));
        fd_dirty = true;
    }
    if (must_sync && fd_dirty && fd >= 0) {
        sync_data(fd, segment_path(segments_dir, fd_segment));
        fd_dirty = false;
        last_sync = std::chrono::steady_clock::now();
    }
    if (created) sync_dir(segments_dir);
    for (auto seg : b.unlinks) {
        std::error_code ec;
        std::filesystem::remove(segment_path(segments_dir, seg), ec);
        if (ec) log("cannot delete segment " + std::to_string(seg) + ": " + ec.message());
    }
}

void store_state::writer_loop() {
    std::unique_lock lk(mu);
    for (;;) {
        auto has_work = [&] {
            return !pending.chunks.empty() || !pending.waiters.empty() ||
                   !pending.unlinks.empty() || defs_dirty;
        };
        while (!has_work() && !stop) {
            writer_idle = true;
            if (unsynced) {
                if (cv.wait_for(lk, opts.lazy_sync) == std::cv_status::timeout && !has_work() &&
                    !stop) {
                    pending.waiters.emplace_back();  // an empty callback: forces a sync
                }
            } else {
                cv.wait(lk);
            }
            writer_idle = false;
        }
        if (!has_work() && stop) break;
        if (opts.sync_interval.count() > 0 && !stop && !pending.waiters.empty()) {
            cv.wait_until(lk, last_sync + opts.sync_interval, [&] { return stop; });
        }
        batch b = std::move(pending);
        pending = batch{};
        if (defs_dirty) {
            b.definitions = encode_definitions(defs);
            defs_dirty = false;
        }
        const bool must_sync = !b.waiters.empty() || stop;
        writer_busy = true;
        lk.unlock();
        try {
            run_batch(b, must_sync);
        } catch (const std::exception& e) {
            // The data may be lost (fsync errors are not retryable): stop, so that recovery
            // decides what is durable, rather than confirm what is not.
            log(std::string("fatal I/O error, exiting: ") + e.what());
            std::_Exit(70);
        }
        lk.lock();
        writer_busy = false;
        unsynced = fd_dirty;
        std::erase_if(b.waiters, [](const std::function<void()>& f) { return !f; });
        if (!b.waiters.empty() && posting) {
            opts.post([w = std::move(b.waiters)] {
                for (const auto& f : w) f();
            });
        }
    }
    lk.unlock();
    if (fd >= 0) {
        try {
            if (fd_dirty) sync_data(fd, segment_path(segments_dir, fd_segment));
        } catch (const std::exception& e) {
            log(std::string("final sync failed: ") + e.what());
        }
        close_file(fd);
        fd = -1;
    }
}

}  // namespace warren::store::detail
