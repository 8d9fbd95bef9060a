#include "detail/waiters.hpp"

#include <utility>
#include <vector>

namespace warren::detail {

asio::execution_context::id waiter_registry::id;

void waiter_registry::park(parked_waiter& w, waiter_handler&& h) {
    w.handler.emplace(std::move(h));
    w.registry = this;
    std::lock_guard lock(mutex_);
    w.prev = nullptr;
    w.next = head_;
    if (head_ != nullptr) head_->prev = &w;
    head_ = &w;
}

std::optional<waiter_handler> waiter_registry::take(parked_waiter& w) noexcept {
    if (!w.handler) return std::nullopt;
    {
        std::lock_guard lock(mutex_);
        if (w.prev != nullptr) {
            w.prev->next = w.next;
        } else {
            head_ = w.next;
        }
        if (w.next != nullptr) w.next->prev = w.prev;
        w.prev = w.next = nullptr;
    }
    std::optional<waiter_handler> h = std::move(w.handler);
    w.handler.reset();
    return h;
}

void waiter_registry::shutdown() {
    // Destroying a handler destroys its coroutine (Asio posts that), which may release the
    // state holding other waiters: take them all out first.
    std::vector<waiter_handler> orphans;
    {
        std::lock_guard lock(mutex_);
        for (auto* w = head_; w != nullptr;) {
            auto* next = w->next;
            orphans.push_back(std::move(*w->handler));
            w->handler.reset();
            w->prev = w->next = nullptr;
            w = next;
        }
        head_ = nullptr;
    }
    orphans.clear();
}

}  // namespace warren::detail
