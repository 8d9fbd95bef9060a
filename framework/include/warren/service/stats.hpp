#pragma once
// A worker's built-in counters, readable from code at any time (and, later, over HTTP).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace warren {

/// Handling times in buckets, as a Prometheus histogram: bucket i counts the handlings that
/// took at most bounds[i] (cumulative counts are derived when read).
struct handling_histogram {
    /// Upper bounds in microseconds: 100 us .. 10 s, then +inf.
    static constexpr std::array<std::uint64_t, 16> bounds_us{
        100,   250,    500,    1000,   2500,    5000,    10000,   25000,
        50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
    /// counts[i]: handlings in (bounds[i-1], bounds[i]]; counts.back(): above the last bound.
    std::array<std::uint64_t, bounds_us.size() + 1> counts{};
    std::uint64_t count = 0;
    std::chrono::microseconds sum{0};
    /// The smallest bucket bound under which at least `q` (0..1) of the handlings fall
    /// (an upper estimate of the quantile; 0 when empty).
    std::chrono::microseconds quantile(double q) const noexcept;
};

/// A snapshot of a worker's counters.
struct worker_stats {
    std::uint64_t received = 0;       ///< deliveries taken from the broker
    std::uint64_t succeeded = 0;      ///< handled and acked
    std::uint64_t failed = 0;         ///< handlings that threw or returned retry / dead_letter
    std::uint64_t retried = 0;        ///< failures sent to be retried
    std::uint64_t dead_lettered = 0;  ///< messages sent to the error queue
    std::uint64_t requeued = 0;   ///< given back to the broker unhandled (shutdown) or on an error
    std::uint64_t in_flight = 0;  ///< being handled now
    handling_histogram handling_time;
};

namespace detail {

/// The live counters behind worker_stats: updated on the worker's executor, read from any
/// thread (relaxed atomics: each number is exact, a snapshot is not one instant).
class worker_counters {
  public:
    void on_received() noexcept { add(received_); }
    void on_started() noexcept { add(in_flight_); }
    void on_finished(std::chrono::steady_clock::duration took) noexcept;
    void on_succeeded() noexcept { add(succeeded_); }
    void on_failed() noexcept { add(failed_); }
    void on_retried() noexcept { add(retried_); }
    void on_dead_lettered() noexcept { add(dead_lettered_); }
    void on_requeued() noexcept { add(requeued_); }
    worker_stats snapshot() const noexcept;

  private:
    static void add(std::atomic<std::uint64_t>& c) noexcept {
        c.fetch_add(1, std::memory_order_relaxed);
    }
    std::atomic<std::uint64_t> received_{0}, succeeded_{0}, failed_{0}, retried_{0},
        dead_lettered_{0}, requeued_{0}, in_flight_{0};
    std::array<std::atomic<std::uint64_t>, handling_histogram::bounds_us.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace detail

}  // namespace warren
