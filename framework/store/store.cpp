// The broker-side half of the store: records and accounting, on the broker's thread.
#include "detail/store_state.hpp"

#include <warren/store/record.hpp>
#include <warren/store/store.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <stdexcept>

namespace warren::store {

namespace detail {

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint32_t seg) {
    char name[32];
    std::snprintf(name, sizeof name, "%010u.seg", seg);
    return dir / name;
}

store_state::store_state(store_options o)
    : opts(std::move(o)),
      segments_dir(opts.dir / "segments"),
      definitions_path(opts.dir / "definitions") {
    if (!opts.log) {
        opts.log = [](std::string_view line) {
            std::cerr << "warren-store: " << line << std::endl;
        };
    }
    if (opts.segment_size == 0) opts.segment_size = 1;
}

void store_state::log(std::string_view line) const { opts.log(line); }

void store_state::add_dep(std::uint32_t from, std::uint32_t to) {
    auto& deps = segments[from].deps;
    if (std::find(deps.rbegin(), deps.rend(), to) != deps.rend()) return;
    deps.push_back(to);
    segments[to].dependents.push_back(from);
}

void store_state::maybe_gc(std::uint32_t first) {
    std::vector<std::uint32_t> work{first};
    std::vector<std::uint32_t> doomed;
    while (!work.empty()) {
        const auto seg = work.back();
        work.pop_back();
        auto it = segments.find(seg);
        if (seg == current || it == segments.end()) continue;
        if (it->second.live != 0 || !it->second.deps.empty()) continue;
        for (auto d : it->second.dependents) {
            auto dit = segments.find(d);
            if (dit == segments.end()) continue;
            std::erase(dit->second.deps, seg);
            if (dit->second.deps.empty()) work.push_back(d);
        }
        segments.erase(it);
        doomed.push_back(seg);
    }
    if (doomed.empty()) return;
    std::lock_guard lk(mu);
    pending.unlinks.insert(pending.unlinks.end(), doomed.begin(), doomed.end());
    notify_locked();
}

void store_state::roll_if_full() {
    if (segments[current].bytes < opts.segment_size) return;
    const auto sealed = current++;
    segments[current];
    maybe_gc(sealed);
}

}  // namespace detail

store::store(store_options options)
    : s_(std::make_unique<detail::store_state>(std::move(options))) {
    if (!s_->opts.post) throw std::invalid_argument("store_options::post is required");
    std::filesystem::create_directories(s_->segments_dir);
}

store::~store() { close(); }

void store::stop_callbacks() {
    std::lock_guard lk(s_->mu);
    s_->posting = false;
}

void store::close() {
    {
        std::lock_guard lk(s_->mu);
        s_->stop = true;
        s_->cv.notify_all();
    }
    if (s_->writer.joinable()) s_->writer.join();
}

std::size_t store::segment_count() const noexcept { return s_->segments.size(); }

void store::exchange_declared(const broker::exchange_definition& x) {
    std::lock_guard lk(s_->mu);
    s_->defs.add_exchange(x);
    s_->defs_dirty = true;
    s_->notify_locked();
}

void store::exchange_deleted(std::string_view vhost, std::string_view name) {
    std::lock_guard lk(s_->mu);
    s_->defs.remove_exchange(vhost, name);
    s_->defs_dirty = true;
    s_->notify_locked();
}

broker::store_queue_id store::queue_declared(const broker::queue_definition& q) {
    std::lock_guard lk(s_->mu);
    const auto id = s_->defs.add_queue(q);
    s_->defs_dirty = true;
    s_->notify_locked();
    return id;
}

void store::queue_deleted(broker::store_queue_id q) {
    {
        std::lock_guard lk(s_->mu);
        s_->defs.remove_queue(q);
        s_->defs_dirty = true;
        s_->notify_locked();
    }
    auto it = s_->live.find(q);
    if (it == s_->live.end()) return;
    std::vector<std::uint32_t> touched;
    for (const auto& [id, seg] : it->second) {
        --s_->segments[seg].live;
        if (touched.empty() || touched.back() != seg) touched.push_back(seg);
    }
    s_->live.erase(it);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (auto seg : touched) s_->maybe_gc(seg);
}

void store::binding_added(const broker::binding_definition& b) {
    std::lock_guard lk(s_->mu);
    s_->defs.add_binding(b);
    s_->defs_dirty = true;
    s_->notify_locked();
}

void store::binding_removed(const broker::binding_definition& b) {
    std::lock_guard lk(s_->mu);
    s_->defs.remove_binding(b);
    s_->defs_dirty = true;
    s_->notify_locked();
}

void store::enqueued(const broker::message& m, std::span<const broker::store_queue_id> queues) {
    if (queues.empty()) return;
    const auto seg = s_->append([&](std::string& out) { append_enqueue(out, m, queues); });
    for (auto q : queues) s_->live[q][m.id] = seg;
    s_->segments[seg].live += queues.size();
    s_->roll_if_full();
}

void store::delivered(broker::store_queue_id q, std::uint64_t message_id) {
    auto it = s_->live.find(q);
    if (it == s_->live.end() || !it->second.contains(message_id)) return;
    s_->append(
        [&](std::string& out) { append_settle(out, record_kind::delivered, q, message_id); });
    s_->roll_if_full();
}

void store::removed(broker::store_queue_id q, std::uint64_t message_id) {
    auto it = s_->live.find(q);
    if (it == s_->live.end()) return;
    auto mit = it->second.find(message_id);
    if (mit == it->second.end()) return;
    const auto home = mit->second;
    it->second.erase(mit);
    const auto seg = s_->append(
        [&](std::string& out) { append_settle(out, record_kind::removed, q, message_id); });
    --s_->segments[home].live;
    if (seg != home) s_->add_dep(seg, home);
    s_->maybe_gc(home);
    s_->roll_if_full();
}

void store::when_durable(std::function<void()> done) {
    {
        std::lock_guard lk(s_->mu);
        const bool idle =
            s_->pending.chunks.empty() && !s_->defs_dirty && !s_->writer_busy && !s_->unsynced;
        if (!idle || !s_->recovered) {
            s_->pending.waiters.push_back(std::move(done));
            s_->notify_locked();
            return;
        }
    }
    done();
}

}  // namespace warren::store
