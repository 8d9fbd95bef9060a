#include "prefetch.hpp"

#include <warren/broker/broker.hpp>
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
    if (queued_) vhost_.owner().forget_pending(*this);  // what is left is for no one now
}

void connection::note_pending() {
    queued_ = true;
    vhost_.owner().note_pending(*this);
}

void connection::retire(std::unique_ptr<consumer> c) {
    if (!queued_) note_pending();
    retired_.push_back(std::move(c));
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
            if (q) detail::prefetch_dispatch(*q);
        };
        for (std::size_t j = 0; j < std::min(n, far); ++j) detail::prefetch_queue_hot(batch[j].q);
        for (std::size_t j = 0; j < std::min(n, near); ++j) lock(j);
        for (std::size_t i = 0; i < n; ++i) {
            if (i + far < n) detail::prefetch_queue_hot(batch[i + far].q);
            auto q = std::move(ahead[i % near]);
            if (i + near < n) lock(i + near);
            if (q) q->dispatch();
        }
    }
    batch.clear();
    stalled_spare_ = std::move(batch);
}

}  // namespace warren::broker
