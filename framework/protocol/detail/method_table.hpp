#pragma once
// Declarations of the tables and dispatch that tools/gen_protocol.py generates into methods.cpp.

#include "detail/wire.hpp"

#include <warren/protocol/methods.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <variant>

namespace warren::protocol::detail {

struct method_info {
    std::uint16_t class_id;
    std::uint16_t method_id;
    std::string_view name;
};

/// One entry per alternative of `method`, indexed by method::index().
extern const std::array<method_info, std::variant_size_v<method>> method_infos;

/// Decodes the arguments of (class_id, method_id) from `r` into `out`. Returns false when the
/// pair is not in the spec (then `r` and `out` are untouched); decode errors are left in `r`.
bool decode_method_args(std::uint16_t class_id, std::uint16_t method_id, reader& r, method& out);

/// False when any shortstr argument of `m` is longer than 255 bytes.
bool shortstrs_fit(const method& m) noexcept;

}  // namespace warren::protocol::detail
