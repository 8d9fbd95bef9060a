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

void connection::note_backlog(const std::shared_ptr<queue>& q) {
    for (const auto& w : backlogged_) {
        if (w.lock() == q) return;
    }
    backlogged_.push_back(q);
}

bool connection::backlogged() {
    std::erase_if(backlogged_, [](const std::weak_ptr<queue>& w) {
        auto q = w.lock();
        return !q || q->deleted() || q->consumer_count() == 0 || q->ready_count() <= flow_low_water;
    });
    return !backlogged_.empty();
}

void connection::resume() {
    for (std::size_t i = 0; i < channels_.size(); ++i) {
        if (channels_[i]) channels_[i]->kick_consumers();
    }
}

}  // namespace warren::broker
