#pragma once
// Helpers shared by the protocol tests.

#include <warren/protocol/codec.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>
#include <warren_test/method_samples.hpp>

namespace warren::protocol::test {

inline std::string from_hex(std::string_view hex) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
    }
    return out;
}

inline std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(digits[u >> 4]);
        out.push_back(digits[u & 15]);
    }
    return out;
}

template <class M>
M make_sample(unsigned seed) {
    M m;
    fill_sample(m, seed);
    return m;
}

template <std::size_t... I>
std::vector<method> all_samples(unsigned seed, std::index_sequence<I...>) {
    std::vector<method> out;
    out.reserve(sizeof...(I));
    (out.emplace_back(make_sample<std::variant_alternative_t<I, method>>(seed)), ...);
    return out;
}

/// One instance of every method, every field non-default (even seeds flip every bit; odd seeds
/// every other bit).
inline std::vector<method> all_samples(unsigned seed) {
    return all_samples(seed, std::make_index_sequence<std::variant_size_v<method>>{});
}

/// The method payload of `m` (class id, method id, arguments).
inline std::string payload_of(const method& m) {
    std::string out;
    encode_method(m, out);
    return out;
}

}  // namespace warren::protocol::test
