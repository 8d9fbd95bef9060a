#include "detail/method_table.hpp"
#include "detail/wire.hpp"

#include <warren/protocol/codec.hpp>

#include <variant>

namespace warren::protocol {

namespace detail {

void append_method_id(std::string& out, std::uint16_t class_id, std::uint16_t method_id) {
    put_u16(out, class_id);
    put_u16(out, method_id);
}

}  // namespace detail

void encode_method(const method& m, std::string& out) {
    if (m.valueless_by_exception()) return;  // std::visit would throw
    std::visit([&out](const auto& x) { encode_method(x, out); }, m);
}

result<method> decode_method(std::string_view payload) {
    detail::reader r(payload);
    std::uint16_t class_id = 0;
    std::uint16_t method_id = 0;
    r.u16(class_id);
    r.u16(method_id);
    if (!r.ok()) return error::truncated;
    method out;
    if (!detail::decode_method_args(class_id, method_id, r, out)) return error::unknown_method;
    if (!r.ok()) return r.err();
    if (r.remaining() != 0) return error::trailing_bytes;
    return out;
}

result<std::pair<std::uint16_t, std::uint16_t>> peek_method_id(std::string_view payload) noexcept {
    if (payload.size() < 4) return error::truncated;
    return std::pair{detail::load_u16(payload.data()), detail::load_u16(payload.data() + 2)};
}

namespace {

// A variant can only be valueless after an exception escaped an assignment; report it as the
// null entry rather than indexing out of range.
const detail::method_info& info_of(const method& m) noexcept {
    static constexpr detail::method_info none{0, 0, {}};
    return m.valueless_by_exception() ? none : detail::method_infos[m.index()];
}

}  // namespace

std::uint16_t class_id_of(const method& m) noexcept { return info_of(m).class_id; }

std::uint16_t method_id_of(const method& m) noexcept { return info_of(m).method_id; }

std::string_view name_of(const method& m) noexcept { return info_of(m).name; }

result<void> check_lengths(const method& m) noexcept {
    if (!detail::shortstrs_fit(m)) return error::string_too_long;
    return {};
}

void append_method_frame(std::string& out, std::uint16_t channel, const method& m) {
    const std::size_t size_at = detail::begin_frame(out, frame_type::method, channel);
    encode_method(m, out);
    detail::end_frame(out, size_at);
}

}  // namespace warren::protocol
