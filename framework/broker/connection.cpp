#include <warren/broker/connection.hpp>
#include <warren/broker/vhost.hpp>

#include <algorithm>

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
    auto [it, fresh] = fed_.try_emplace(&q);
    if (fresh || it->second.expired()) it->second = q.shared_from_this();  // (or a reused address)
    last_fed_ = &q;
}

bool connection::backlogged() {
    std::size_t total = 0;
    std::size_t most = 0;
    for (auto it = fed_.begin(); it != fed_.end();) {
        // Not expired: the key is the live queue (one thread; no lock() per entry per check).
        const queue* q = it->second.expired() ? nullptr : it->first;
        const std::size_t ready = q && !q->deleted() && q->consumer_count() != 0 ? q->ready_count() : 0;
        if (ready == 0) {
            it = fed_.erase(it);
            last_fed_ = nullptr;
            continue;
        }
        total += ready;
        most = std::max(most, ready);
        ++it;
    }
    throttled_ = throttled_ ? most > flow_low_water || total > flow_total_low_water
                            : most > flow_high_water || total > flow_total_high_water;
    return throttled_;
}

void connection::resume() {
    for (std::size_t i = 0; i < channels_.size(); ++i) {
        if (channels_[i]) channels_[i]->kick_consumers();
    }
}

}  // namespace warren::broker
