#include "prefetch.hpp"

#include <warren/broker/exchange.hpp>
#include <warren/broker/route_lookahead.hpp>
#include <warren/broker/vhost.hpp>

#include <algorithm>

namespace warren::broker {

namespace {

// Publishes looked ahead: stage 0 four ahead, stage 3 one ahead.
constexpr std::size_t depth = 4;

// Stage 0 starts loading the key's index slot, stage 1 the map node that slot names, stage 2 the
// key's bytes and the binding list, stage 3 the first bound queue's hot fields. Each stage reads
// only what the one before loaded.
void prefetch_stage(const detail::key_index<const std::vector<binding>>& index, std::uint64_t h,
                    int stage) noexcept {
    if (stage == 0) {
        if (const void* slot = index.home_slot(h)) detail::prefetch(slot);
        return;
    }
    auto [key, bucket] = index.peek(h);
    if (bucket == nullptr) return;
    if (stage == 1) {  // the map node holding both (addresses from the slot, not read)
        detail::prefetch(key);
        detail::prefetch(bucket);
    } else if (stage == 2) {
        detail::prefetch(key->data());
        detail::prefetch(bucket->data());
    } else if (!bucket->empty() && bucket->front().to_queue != nullptr) {
        // Not on to the queue's consumer: the queue's own work already overlaps those misses.
        detail::prefetch_queue_hot(bucket->front().to_queue);
    }
}

}  // namespace

void route_lookahead::start(const vhost& vh) noexcept {
    vh_ = &vh;
    hints_.clear();
    next_ = 0;
}

void route_lookahead::add(const void* at, std::string_view exchange, std::string_view routing_key) {
    hints_.push_back(hint{.at = at, .exchange_name = exchange, .key = routing_key});
}

void route_lookahead::resolve(std::size_t j, std::uint64_t generation) noexcept {
    auto& h = hints_[j];
    h.resolved = true;
    h.hash = detail::key_hash(h.key);
    const auto* prev = j > 0 ? &hints_[j - 1] : nullptr;
    if (prev && prev->resolved && prev->generation == generation &&
        prev->exchange_name == h.exchange_name) {
        h.x = prev->x;  // a run of publishes to one exchange: one lookup
    } else {
        h.x = vh_->find_exchange(h.exchange_name);
    }
    h.generation = generation;
}

void route_lookahead::look_ahead(std::size_t i) noexcept {
    // An exchange deleted since a hint was resolved changes the generation: its pointer is then
    // never used.
    const auto generation = vh_->exchange_generation();
    const auto end = std::min(hints_.size(), i + depth + 1);
    for (std::size_t j = i; j < end; ++j) {
        auto& h = hints_[j];
        if (h.resolved) continue;
        resolve(j, generation);
        if (h.x && h.x->kind() == exchange_kind::direct) prefetch_stage(h.x->direct_, h.hash, 0);
    }
    for (int stage = 1; stage <= 3; ++stage) {
        const std::size_t j = i + depth - static_cast<std::size_t>(stage);
        if (j >= hints_.size()) continue;
        const auto& h = hints_[j];
        if (h.x && h.generation == generation && h.x->kind() == exchange_kind::direct) {
            prefetch_stage(h.x->direct_, h.hash, stage);
        }
    }
}

}  // namespace warren::broker
