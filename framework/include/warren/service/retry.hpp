#pragma once
// retry_policy: what a worker does with a message whose handler failed.

#include <chrono>
#include <cstdint>
#include <random>

namespace warren {

/// How failed messages are retried. Attempts count every handling of a message (the first
/// one included) and travel with the message in its `x-attempts` header, so they survive a
/// worker restart and are shared by every worker on the queue. Once `max_attempts` handlings
/// failed, the message goes to the worker's error queue. A poison message never spins.
///
/// Delayed retries go through the broker: the message is republished (confirmed) to a retry
/// queue `<queue>.retry.<k>` with a per-message TTL and a dead-letter route back to `<queue>`,
/// then the original is acked. So the delay costs no worker memory, survives a worker restart
/// and works the same on warren-broker and RabbitMQ.
class retry_policy {
  public:
    /// No retries: the first failure goes to the error queue.
    static retry_policy none() { return retry_policy(1, false, {}, 1.0, {}, 0.0); }

    /// Retries at once, at the tail of the queue (republished with the attempt count, then
    /// acked), up to `max_attempts` handlings in all.
    static retry_policy immediate(unsigned max_attempts) {
        return retry_policy(max_attempts, false, {}, 1.0, {}, 0.0);
    }

    /// Retry k (after the k-th failed attempt, k = 1 .. max_attempts - 1) waits
    /// `initial_delay * multiplier^(k-1)`, at most `max_delay`, then ± up to `jitter` of that
    /// (a fraction in [0, 0.2]: at most ±20 %). Throws std::invalid_argument on a jitter above
    /// 0.2, a multiplier below 1, or max_attempts 0.
    static retry_policy exponential(unsigned max_attempts, std::chrono::milliseconds initial_delay,
                                    double multiplier = 2.0,
                                    std::chrono::milliseconds max_delay = std::chrono::hours(24),
                                    double jitter = 0.2);

    /// Handlings in all, the first included (>= 1).
    unsigned max_attempts() const noexcept { return max_attempts_; }
    /// True when retries wait (through retry queues); false for immediate or none.
    bool delayed() const noexcept { return delayed_; }
    double jitter() const noexcept { return jitter_; }
    /// The delay before retry `k` (1-based), before jitter.
    std::chrono::milliseconds nominal_delay(unsigned k) const noexcept;
    /// nominal_delay(k) moved by a uniform random fraction in [-jitter, +jitter].
    std::chrono::milliseconds jittered_delay(unsigned k, std::mt19937_64& rng) const;

  private:
    retry_policy(unsigned max_attempts, bool delayed, std::chrono::milliseconds initial,
                 double multiplier, std::chrono::milliseconds max_delay, double jitter)
        : max_attempts_(max_attempts),
          delayed_(delayed),
          initial_(initial),
          multiplier_(multiplier),
          max_delay_(max_delay),
          jitter_(jitter) {}

    unsigned max_attempts_;
    bool delayed_;
    std::chrono::milliseconds initial_;
    double multiplier_;
    std::chrono::milliseconds max_delay_;
    double jitter_;
};

}  // namespace warren
