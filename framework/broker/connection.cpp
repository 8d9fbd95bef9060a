#include <warren/broker/connection.hpp>
#include <warren/broker/vhost.hpp>

#include <algorithm>
#include <array>
#include <new>
#include <utility>

namespace warren::broker {

connection::connection(vhost& vh, client_sink& sink, std::string user, std::string name)
    : vhost_(vh), sink_(sink), user_(std::move(user)), name_(std::move(name)) {}

connection::~connection() {
    // Channels first: their unacked messages go back to the queues (and die with exclusive ones).
    for (auto& ch : channels_) ch.reset();
    for (auto& weak : exclusive_) {
        if (auto q = weak.lock(); q && !q->deleted()) vhost_.delete_queue(*q);
    }
}

channel* connection::open_channel(std::uint16_t id) {
    if (id >= channels_.size()) channels_.resize(std::size_t{id} + 1);
    if (channels_[id]) return nullptr;
    channels_[id] = std::make_unique<channel>(*this, id);
    return channels_[id].get();
}

channel* connection::find_channel(std::uint16_t id) const noexcept {
    return id < channels_.size() ? channels_[id].get() : nullptr;
}

void connection::close_channel(std::uint16_t id) {
    if (id < channels_.size()) channels_[id].reset();
}

void connection::note_backlog(queue& q) {
    if (&q == last_fed_) return;
    // The queue's hint first: with 10,000 queues the hash lookup was two cache misses. A hint
    // names this very queue's slot if that slot holds it (the queue set the hint itself, so
    // a queue freed and re-made at the same address starts without one).
    std::size_t slot = 0;
    if (q.fed_hint(*this, slot) && slot < fed_.size() && fed_[slot].q == &q) {
        last_fed_ = &q;
        last_fed_slot_ = slot;
        return;
    }
    auto [it, fresh] = fed_index_.try_emplace(&q, fed_.size());
    if (fresh) {
        fed_.push_back(fed_queue{q.shared_from_this(), &q, 0, 0});
    } else if (fed_[it->second].ref.expired()) {
        fed_[it->second].ref = q.shared_from_this();  // a new queue at a freed queue's address
    }
    last_fed_ = &q;
    last_fed_slot_ = it->second;
    q.set_fed_hint(*this, it->second);
}

void connection::set_fed_ready(fed_queue& f, std::size_t ready) noexcept {
    fed_total_ = fed_total_ - f.ready + ready;
    fed_over_high_ = fed_over_high_ - (f.ready > flow_high_water) + (ready > flow_high_water);
    fed_over_low_ = fed_over_low_ - (f.ready > flow_low_water) + (ready > flow_low_water);
    f.ready = ready;
}

void connection::refresh_fed(std::size_t i) {
    auto& f = fed_[i];
    // Not expired: the pointer is the live queue (one thread; no lock() per refresh).
    const bool live = !f.ref.expired() && !f.q->deleted();
    const std::size_t ready = live && f.q->consumer_count() != 0 ? f.q->ready_count() : 0;
    set_fed_ready(f, ready);
    f.empty_refreshes = ready == 0 ? static_cast<std::uint8_t>(f.empty_refreshes + 1) : 0;
    if (live && f.empty_refreshes < 2) return;
    // Leave the set: move the last slot here.
    fed_index_.erase(f.q);
    if (f.q == last_fed_) last_fed_ = nullptr;
    if (i + 1 != fed_.size()) {
        f = std::move(fed_.back());
        fed_index_[f.q] = i;
        if (f.q == last_fed_) last_fed_slot_ = i;
    }
    fed_.pop_back();
}

bool connection::backlogged() {
    // The queue published to last, always; then the next slots round robin (not that one twice).
    const queue* const fresh = last_fed_;
    if (fresh != nullptr) refresh_fed(last_fed_slot_);
    // Throttled, the transport checks once per pause (~1 ms): re-read more, so that a stale
    // total does not hold the producer back after the consumers caught up (with 10,000 queues
    // 256 per check left it up to 40 checks old, and the pipeline ran dry).
    const std::size_t per_check =
        throttled_ ? std::clamp(fed_.size() / 2, flow_refresh_batch, flow_refresh_throttled_batch) : flow_refresh_batch;
    const std::size_t batch = std::min(fed_.size(), per_check);
    for (std::size_t n = 0; n < batch && !fed_.empty(); ++n) {
        if (fed_cursor_ >= fed_.size()) fed_cursor_ = 0;
        if (fed_[fed_cursor_].q == fresh) {
            ++fed_cursor_;
            continue;
        }
        const auto before = fed_.size();
        refresh_fed(fed_cursor_);
        if (fed_.size() == before) ++fed_cursor_;  // else: slot fed_cursor_ now holds the moved last one
    }
    throttled_ = throttled_ ? fed_over_low_ != 0 || fed_total_ > flow_total_low_water
                            : fed_over_high_ != 0 || fed_total_ > flow_total_high_water;
    return throttled_;
}

void connection::note_stalled(consumer& c) noexcept {
    if (c.stalled_in == stall_epoch_) return;
    c.stalled_in = stall_epoch_;
    try {
        stalled_.push_back(stalled_queue{c.q, c.q.get()});
    } catch (const std::bad_alloc&) {
        stalled_all_ = true;
    }
    c.q->note_stalled(*this, stall_epoch_);
}

void connection::resume() {
    ++stall_epoch_;
    // Dispatch may stall again and note new queues: work on a swapped-out batch, and let the
    // notes go to the spare vector, which keeps its capacity (with 10,000 queues, regrowing a
    // fresh vector each time cost a malloc_consolidate of the 160 KB it had freed).
    std::vector<stalled_queue> batch = std::move(stalled_);
    stalled_ = std::move(stalled_spare_);
    stalled_.clear();
    if (std::exchange(stalled_all_, false)) {
        for (std::size_t i = 0; i < channels_.size(); ++i) {
            if (channels_[i]) channels_[i]->kick_consumers();
        }
    } else {
        // Each queue, its consumer and its head message are usually cold (with 10,000 queues
        // a chain of misses per queue): load them ahead, in two stages. `far` queues ahead the
        // queue's own lines (address only); `near` ahead, the queue is locked (kept for its
        // turn) and asked for its consumer's and head message's lines.
        constexpr std::size_t near = 4;
        constexpr std::size_t far = 8;
        std::array<std::shared_ptr<queue>, near> ahead;
        const std::size_t n = batch.size();
        auto lock = [&](std::size_t j) {
            auto& q = ahead[j % near];
            q = batch[j].ref.lock();
            if (q) q->prefetch_dispatch();
        };
        for (std::size_t j = 0; j < std::min(n, far); ++j) queue::prefetch_hot(batch[j].q);
        for (std::size_t j = 0; j < std::min(n, near); ++j) lock(j);
        for (std::size_t i = 0; i < n; ++i) {
            if (i + far < n) queue::prefetch_hot(batch[i + far].q);
            auto q = std::move(ahead[i % near]);
            if (i + near < n) lock(i + near);
            if (q) q->dispatch();
        }
    }
    batch.clear();
    stalled_spare_ = std::move(batch);
}

}  // namespace warren::broker
