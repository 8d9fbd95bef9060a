#pragma once
// fib(n) for the RPC examples: fib(0) = 0, fib(1) = 1; n up to 93 fits 64 bits.

#include <cstdint>
#include <optional>

namespace examples {

inline constexpr unsigned fib_max = 93;

/// fib(n), or nullopt when n > fib_max (it would not fit 64 bits).
inline std::optional<std::uint64_t> fib(std::uint64_t n) {
    if (n > fib_max) return std::nullopt;
    std::uint64_t a = 0, b = 1;
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto next = a + b;
        a = b;
        b = next;
    }
    return a;
}

}  // namespace examples
