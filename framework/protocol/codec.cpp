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

namespace {
bool has_ids(std::string_view payload, std::uint16_t class_id, std::uint16_t method_id) noexcept {
    return payload.size() >= 4 && detail::load_u16(payload.data()) == class_id &&
           detail::load_u16(payload.data() + 2) == method_id;
}
}  // namespace

bool decode_into(std::string_view payload, basic_publish& m) {
    if (!has_ids(payload, basic_publish::class_id_v, basic_publish::method_id_v)) return false;
    detail::reader r(payload.substr(4));
    std::uint8_t bits = 0;
    r.u16(m.ticket);
    r.shortstr(m.exchange);
    r.shortstr(m.routing_key);
    r.u8(bits);
    m.mandatory = (bits & 1u) != 0;
    m.immediate = (bits & 2u) != 0;
    return r.ok() && r.remaining() == 0;
}

bool decode_into(std::string_view payload, basic_ack& m) {
    if (!has_ids(payload, basic_ack::class_id_v, basic_ack::method_id_v)) return false;
    detail::reader r(payload.substr(4));
    std::uint8_t bits = 0;
    r.u64(m.delivery_tag);
    r.u8(bits);
    m.multiple = (bits & 1u) != 0;
    return r.ok() && r.remaining() == 0;
}

bool decode_into(std::string_view payload, basic_deliver& m) {
    if (!has_ids(payload, basic_deliver::class_id_v, basic_deliver::method_id_v)) return false;
    detail::reader r(payload.substr(4));
    std::uint8_t bits = 0;
    r.shortstr(m.consumer_tag);
    r.u64(m.delivery_tag);
    r.u8(bits);
    m.redelivered = (bits & 1u) != 0;
    r.shortstr(m.exchange);
    r.shortstr(m.routing_key);
    return r.ok() && r.remaining() == 0;
}

void append_basic_deliver(std::string& out, std::uint16_t channel, std::string_view consumer_tag,
                          std::uint64_t delivery_tag, bool redelivered, std::string_view exchange,
                          std::string_view routing_key) {
    const std::size_t size_at = detail::begin_frame(out, frame_type::method, channel);
    detail::append_method_id(out, basic_deliver::class_id_v, basic_deliver::method_id_v);
    detail::put_shortstr(out, consumer_tag);
    detail::put_u64(out, delivery_tag);
    detail::put_u8(out, redelivered ? 1 : 0);
    detail::put_shortstr(out, exchange);
    detail::put_shortstr(out, routing_key);
    detail::end_frame(out, size_at);
}

result<std::pair<std::uint16_t, std::uint16_t>> peek_method_id(std::string_view payload) noexcept {
    if (payload.size() < 4) return error::truncated;
    return std::pair{detail::load_u16(payload.data()), detail::load_u16(payload.data() + 2)};
}

result<method_view> peek_method(std::string_view payload) noexcept {
    if (payload.size() < 4) return error::truncated;
    return method_view{detail::load_u16(payload.data()), detail::load_u16(payload.data() + 2),
                       payload.substr(4)};
}

std::optional<publish_route> peek_publish(std::string_view payload) noexcept {
    if (!has_ids(payload, basic_publish::class_id_v, basic_publish::method_id_v))
        return std::nullopt;
    detail::reader r(payload.substr(4));
    std::uint16_t ticket = 0;
    std::uint8_t n = 0;
    r.u16(ticket);
    r.u8(n);
    const auto exchange = r.take(n);
    r.u8(n);
    const auto key = r.take(n);
    if (!r.ok()) return std::nullopt;
    return publish_route{exchange, key};
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
