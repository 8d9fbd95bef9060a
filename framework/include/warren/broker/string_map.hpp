#pragma once
// Hash maps keyed by std::string that are searched with a std::string_view (C++20
// heterogeneous lookup): routing and name lookups then build no temporary string.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace warren::broker {

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <class T>
using string_map = std::unordered_map<std::string, T, string_hash, std::equal_to<>>;

}  // namespace warren::broker
