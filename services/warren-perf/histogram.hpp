#pragma once
// A log-linear latency histogram (HdrHistogram's layout, simplified): values in nanoseconds,
// 64 linear sub-buckets per power of two, so any recorded value is reported within 1/64
// (~1.6 %). Buckets are relaxed atomics: consumers record from their threads while the
// reporter reads snapshots from another.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

namespace warren::perf {

class histogram {
  public:
    static constexpr int sub_bits = 6;
    static constexpr std::uint64_t sub_count = 1u << sub_bits;
    static constexpr int groups = 64 - sub_bits + 1;
    static constexpr std::size_t bucket_count = groups * sub_count;

    void record(std::uint64_t ns) noexcept {
        buckets_[index_of(ns)].fetch_add(1, std::memory_order_relaxed);
        auto prev = max_.load(std::memory_order_relaxed);
        while (ns > prev && !max_.compare_exchange_weak(prev, ns, std::memory_order_relaxed)) {
        }
    }

    /// A plain copy of the counts, for percentiles and differences between two moments.
    struct snapshot {
        std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(bucket_count, 0);
        std::uint64_t max = 0;

        std::uint64_t total() const noexcept {
            std::uint64_t n = 0;
            for (auto c : counts) n += c;
            return n;
        }
        /// The value at percentile p (0..100): the upper edge of the bucket holding it.
        std::uint64_t percentile(double p) const noexcept {
            const std::uint64_t n = total();
            if (n == 0) return 0;
            auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(n));
            if (rank >= n) rank = n - 1;
            std::uint64_t seen = 0;
            for (std::size_t i = 0; i < counts.size(); ++i) {
                seen += counts[i];
                if (seen > rank) {
                    auto v = upper_edge(i);
                    return max != 0 && v > max ? max : v;
                }
            }
            return max;
        }
        snapshot minus(const snapshot& earlier) const {
            snapshot d;
            for (std::size_t i = 0; i < counts.size(); ++i)
                d.counts[i] = counts[i] - earlier.counts[i];
            // The interval's max is known to bucket precision only.
            for (std::size_t i = counts.size(); i-- > 0;) {
                if (d.counts[i] != 0) {
                    d.max = std::min(upper_edge(i), max);
                    break;
                }
            }
            return d;
        }
    };

    snapshot take() const {
        snapshot s;
        for (std::size_t i = 0; i < bucket_count; ++i)
            s.counts[i] = buckets_[i].load(std::memory_order_relaxed);
        s.max = max_.load(std::memory_order_relaxed);
        return s;
    }

    static std::size_t index_of(std::uint64_t v) noexcept {
        if (v < sub_count) return static_cast<std::size_t>(v);
        const int msb = 63 - std::countl_zero(v);  // >= sub_bits
        const int group = msb - sub_bits + 1;
        const auto sub = (v >> (msb - sub_bits)) & (sub_count - 1);
        return static_cast<std::size_t>(group) * sub_count + static_cast<std::size_t>(sub);
    }
    /// The largest value that maps to bucket i.
    static std::uint64_t upper_edge(std::size_t i) noexcept {
        const auto group = i / sub_count;
        const auto sub = i % sub_count;
        if (group == 0) return sub;
        const auto shift = group - 1;
        const std::uint64_t base = (sub_count | sub) << shift;
        return base + ((std::uint64_t{1} << shift) - 1);
    }

  private:
    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> max_{0};
};

}  // namespace warren::perf
