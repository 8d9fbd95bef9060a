#include <warren/service/retry.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace warren {

retry_policy retry_policy::exponential(unsigned max_attempts,
                                       std::chrono::milliseconds initial_delay, double multiplier,
                                       std::chrono::milliseconds max_delay, double jitter) {
    if (max_attempts == 0)
        throw std::invalid_argument("retry_policy: max_attempts must be at least 1");
    if (!(multiplier >= 1.0))
        throw std::invalid_argument("retry_policy: the multiplier must be at least 1");
    if (!(jitter >= 0.0 && jitter <= 0.2)) {
        throw std::invalid_argument(
            "retry_policy: jitter must be between 0 and 0.2 (at most +-20 % of the delay)");
    }
    if (initial_delay.count() < 0 || max_delay < initial_delay) {
        throw std::invalid_argument(
            "retry_policy: delays must satisfy 0 <= initial_delay <= max_delay");
    }
    return retry_policy(max_attempts, true, initial_delay, multiplier, max_delay, jitter);
}

std::chrono::milliseconds retry_policy::nominal_delay(unsigned k) const noexcept {
    if (!delayed_ || k == 0) return std::chrono::milliseconds(0);
    const double d =
        static_cast<double>(initial_.count()) * std::pow(multiplier_, static_cast<double>(k - 1));
    const double capped = std::min(d, static_cast<double>(max_delay_.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

std::chrono::milliseconds retry_policy::jittered_delay(unsigned k, std::mt19937_64& rng) const {
    const auto nominal = static_cast<double>(nominal_delay(k).count());
    std::uniform_real_distribution<double> spread(-jitter_, jitter_);
    const double d = nominal * (1.0 + spread(rng));
    // At least 1 ms: an expiration of 0 would mean "now or never" to the broker.
    return std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(d)));
}

}  // namespace warren
