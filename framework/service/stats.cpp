#include <warren/service/stats.hpp>

namespace warren {

std::chrono::microseconds handling_histogram::quantile(double q) const noexcept {
    if (count == 0) return std::chrono::microseconds(0);
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(count) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        seen += counts[i];
        if (seen >= want) {
            return std::chrono::microseconds(i < bounds_us.size() ? bounds_us[i]
                                                                  : bounds_us.back() * 10);
        }
    }
    return std::chrono::microseconds(bounds_us.back() * 10);
}

namespace detail {

void worker_counters::on_finished(std::chrono::steady_clock::duration took) noexcept {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    std::size_t i = 0;
    while (i < handling_histogram::bounds_us.size() && us > handling_histogram::bounds_us[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
}

worker_stats worker_counters::snapshot() const noexcept {
    worker_stats s;
    s.received = received_.load(std::memory_order_relaxed);
    s.succeeded = succeeded_.load(std::memory_order_relaxed);
    s.failed = failed_.load(std::memory_order_relaxed);
    s.retried = retried_.load(std::memory_order_relaxed);
    s.dead_lettered = dead_lettered_.load(std::memory_order_relaxed);
    s.requeued = requeued_.load(std::memory_order_relaxed);
    s.in_flight = in_flight_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        s.handling_time.counts[i] = buckets_[i].load(std::memory_order_relaxed);
    s.handling_time.count = count_.load(std::memory_order_relaxed);
    s.handling_time.sum = std::chrono::microseconds(sum_us_.load(std::memory_order_relaxed));
    return s;
}

}  // namespace detail

}  // namespace warren
