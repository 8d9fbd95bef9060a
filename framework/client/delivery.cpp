#include "channel_impl.hpp"
#include "detail/string_pool.hpp"

#include <new>
#include <stdexcept>
#include <vector>

namespace warren {

namespace detail {

namespace {

// Up to 4,096 strings of each kind (a consumer's prefetch window or a read's worth of
// deliveries), none over 4 KiB, and at most 4 MiB of buffers in all per thread (~0.5 MiB for
// 16-byte messages with names under 100 characters).
constexpr std::size_t pool_strings = 4096;
constexpr std::size_t pool_max_bytes = std::size_t{4} << 20;

struct string_pools {
    // 0: not made yet on this thread, 1: alive, 2: destroyed (thread exit). Trivially
    // destructible, so it can still be read while the thread's other objects are destroyed.
    static inline thread_local unsigned char state = 0;
    std::vector<std::string> kinds[2];
    std::size_t bytes = 0;  // the capacity of the strings held
    string_pools() noexcept { state = 1; }
    ~string_pools() { state = 2; }
    string_pools(const string_pools&) = delete;
    string_pools& operator=(const string_pools&) = delete;
    static string_pools* get() noexcept {
        if (state == 2) return nullptr;  // a delivery dropped during thread exit
        static thread_local string_pools pools;
        return &pools;
    }
};

}  // namespace

std::string take_string(pooled kind) noexcept {
    auto* p = string_pools::get();
    if (p == nullptr) return {};
    auto& v = p->kinds[static_cast<int>(kind)];
    if (v.empty()) return {};
    std::string s = std::move(v.back());
    v.pop_back();
    p->bytes -= s.capacity();
    return s;
}

void give_string(pooled kind, std::string&& s) noexcept {
    constexpr std::size_t inline_capacity = 15;
    if (s.capacity() <= inline_capacity || s.capacity() > pooled_max_capacity) return;
    auto* p = string_pools::get();
    if (p == nullptr) return;
    auto& v = p->kinds[static_cast<int>(kind)];
    if (v.size() >= pool_strings || p->bytes + s.capacity() > pool_max_bytes) return;
    s.clear();
    try {
        const std::size_t capacity = s.capacity();
        v.push_back(std::move(s));
        p->bytes += capacity;
    } catch (const std::bad_alloc&) {
        // the pool could not grow: the string is freed instead
    }
}

}  // namespace detail

delivery::~delivery() {
    // Most deliveries destroyed are moved-from ones (a delivery moves several times between
    // the reader and the application): nothing to give back, and no call.
    constexpr std::size_t inline_capacity = 15;
    auto give = [](detail::pooled kind, std::string& s) {
        if (s.capacity() > inline_capacity) detail::give_string(kind, std::move(s));
    };
    give(detail::pooled::name, consumer_tag_);
    give(detail::pooled::name, exchange_);
    give(detail::pooled::name, routing_key_);
    give(detail::pooled::body, body_);
}

namespace asio = boost::asio;
namespace p = protocol;

namespace {

asio::awaitable<void> settle(std::shared_ptr<detail::channel_impl> ch,
                             detail::channel_impl::settle_op op, std::uint64_t tag, bool multiple,
                             bool requeue) {
    ch->settle(op, tag, multiple, requeue);
    co_return;
}

const std::shared_ptr<detail::channel_impl>& checked(
    const std::shared_ptr<detail::channel_impl>& ch) {
    if (!ch) throw std::logic_error("warren::delivery: not received from a channel");
    return ch;
}

}  // namespace

bool delivery::settled() const noexcept { return !channel_ || channel_->is_settled(delivery_tag_); }

asio::awaitable<void> delivery::ack(multiple m) {
    return settle(checked(channel_), detail::channel_impl::settle_op::ack, delivery_tag_,
                  m == multiple::yes, false);
}

asio::awaitable<void> delivery::nack(requeue r, multiple m) {
    return settle(checked(channel_), detail::channel_impl::settle_op::nack, delivery_tag_,
                  m == multiple::yes, r == requeue::yes);
}

asio::awaitable<void> delivery::reject(requeue r) {
    return settle(checked(channel_), detail::channel_impl::settle_op::reject, delivery_tag_, false,
                  r == requeue::yes);
}

}  // namespace warren
